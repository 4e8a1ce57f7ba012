#!/usr/bin/env python3
"""The GPU check: runs the kernels that prepare.sh compiled, on a machine
with an NVIDIA GPU and no LLVM, against numpy and torch.einsum.

It builds runtime/lib/CudaAbi.cpp (the driver and the mgpu* ABI that the
kernels' host code calls) into a shared library, loads each kernel
library, loads its PTX (einsum_init), copies random operands to the device
with the driver, runs the einsum and compares the result:

- "small" workloads against numpy.einsum in float64 (odd sizes, a
  diagonal, a trace, complex, a chain, ...);
- "big" workloads against torch.einsum in float64 on the GPU, then timed
  beside torch.einsum in float32 (TF32 off, so cuBLAS runs the same fp32
  math), best and median of --runs calls each, with the ratio.

Results go to OUT/gpu-check.md and OUT/gpu-check.json. With
EINJIT_CUDA_DRIVER naming the test suite's fake driver (which runs no
kernel) it checks its own plumbing on any machine: every result then
differs.

  python3 bench/gpu/check.py --kernels bench/gpu/out --out DIR [--runs N]
"""

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DTYPES = {"f32": np.float32, "f64": np.float64, "c64": np.complex64,
          "c128": np.complex128}


def build_abi(out, kernels):
    """The driver/ABI library, built here from runtime/lib/CudaAbi.cpp, or
    prepare.sh's copy where there is no C++ compiler."""
    lib = os.path.join(out, "libeinjit-cuda-abi.so")
    src = os.path.join(ROOT, "runtime", "lib", "CudaAbi.cpp")
    try:
        subprocess.run(["c++", "-O2", "-std=c++17", "-shared", "-fPIC", src,
                        "-o", lib, "-ldl"], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"building {src} failed ({e}); using prepare.sh's build",
              flush=True)
        lib = os.path.join(kernels, "libeinjit-cuda-abi.so")
    return ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)


def driver_library():
    return ctypes.CDLL(os.environ.get("EINJIT_CUDA_DRIVER") or "libcuda.so.1")


class Device:
    """Device memory through the driver (device 0's primary context, made
    current by the ABI library on this thread)."""

    def __init__(self):
        self.cu = driver_library()
        self.cu.cuMemAlloc_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64),
                                          ctypes.c_size_t]
        self.cu.cuMemFree_v2.argtypes = [ctypes.c_uint64]
        self.cu.cuMemcpyHtoD_v2.argtypes = [ctypes.c_uint64, ctypes.c_void_p,
                                            ctypes.c_size_t]
        self.cu.cuMemcpyDtoH_v2.argtypes = [ctypes.c_void_p, ctypes.c_uint64,
                                            ctypes.c_size_t]

    def check(self, status, what):
        if status:
            raise RuntimeError(f"{what} failed: CUDA error {status}")

    def upload(self, array):
        ptr = ctypes.c_uint64(0)
        self.check(self.cu.cuMemAlloc_v2(ctypes.byref(ptr), max(array.nbytes, 1)),
                   "cuMemAlloc")
        if array.nbytes:
            self.check(self.cu.cuMemcpyHtoD_v2(ptr.value, array.ctypes.data,
                                               array.nbytes), "cuMemcpyHtoD")
        return ptr.value

    def empty(self, nbytes):
        ptr = ctypes.c_uint64(0)
        self.check(self.cu.cuMemAlloc_v2(ctypes.byref(ptr), max(nbytes, 1)),
                   "cuMemAlloc")
        return ptr.value

    def download(self, ptr, array):
        if array.nbytes:
            self.check(self.cu.cuMemcpyDtoH_v2(array.ctypes.data, ptr,
                                               array.nbytes), "cuMemcpyDtoH")
        return array

    def free(self, ptr):
        self.check(self.cu.cuMemFree_v2(ptr), "cuMemFree")


def parse_operand(spec):
    dtype, dims = spec.split(":")
    return DTYPES[dtype], tuple(int(d) for d in dims.split("x"))


def random_operand(rng, dtype, shape):
    a = rng.uniform(-1, 1, shape)
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.uniform(-1, 1, shape)
    return np.ascontiguousarray(a.astype(dtype))


def flops(equation, shapes):
    """Multiply-adds as 2 flops over every label (one loop nest), as
    einsum-run counts a two-operand contraction; a reduction's adds as 1."""
    inputs = equation.split("->")[0].split(",")
    sizes = {}
    for labels, shape in zip(inputs, shapes):
        sizes.update(zip(labels, shape))
    total = float(np.prod(list(sizes.values())))
    return total * (2 if len(inputs) > 1 else 1)


def take_failure(abi):
    abi.einjitTakeFailure.restype = ctypes.c_int
    buf = ctypes.create_string_buffer(8192)
    if abi.einjitTakeFailure(buf, len(buf)):
        return buf.value.decode(errors="replace")
    return None


def run_workload(abi, device, kernels, row, args, torch):
    kind, name, equation, operands = row
    specs = [parse_operand(s) for s in operands.split()]
    rng = np.random.default_rng(0)
    hosts = [random_operand(rng, dt, shape) for dt, shape in specs]
    result = {"kind": kind, "name": name, "equation": equation,
              "operands": operands}
    lib = ctypes.CDLL(os.path.join(kernels, name + ".so"))
    lib.einsum_init()
    failure = take_failure(abi)
    if failure:
        result["error"] = "einsum_init: " + failure
        return result
    expected_dtype = np.result_type(*[h.dtype for h in hosts])
    # The result's shape from the labels' sizes.
    inputs, output = equation.split("->")
    sizes = {}
    for labels, h in zip(inputs.split(","), hosts):
        sizes.update(zip(labels, h.shape))
    out_shape = tuple(sizes[c] for c in output)
    out = np.zeros(out_shape, expected_dtype)
    ptrs = [device.upload(h) for h in hosts]
    out_ptr = device.empty(out.nbytes)
    lib.einsum.argtypes = [ctypes.c_uint64] * (len(ptrs) + 1)
    try:
        lib.einsum(*ptrs, out_ptr)
        failure = take_failure(abi)
        if failure:
            result["error"] = failure
            return result
        got = device.download(out_ptr, out)
        # The reference: numpy in float64 (small), torch on the GPU in
        # float64 (big).
        # The error is measured against |A||B| (the einsum of the operands'
        # absolute values), the scale of a sum's rounding.
        if kind == "small" or torch is None:
            wide = [h.astype(np.complex128) if np.iscomplexobj(h) else
                    h.astype(np.float64) for h in hosts]
            ref = np.einsum(equation, *wide)
            scale = np.einsum(equation, *[np.abs(w) for w in wide])
        else:
            wide = [torch.from_numpy(h).cuda().double() for h in hosts]
            ref = torch.einsum(equation, *wide).cpu().numpy()
            scale = torch.einsum(equation, *[w.abs() for w in wide]).cpu().numpy()
            del wide
        err = float(np.max(np.abs(got - ref) / (scale + 1e-30))) \
            if got.size else 0.0
        # fp32 sums of thousands of terms (the big ones) round further.
        tol = (1e-5 if kind == "small" else 3e-5) \
            if expected_dtype in (np.float32, np.complex64) else 1e-12
        result["max_rel_err"] = err
        result["ok"] = bool(err <= tol)
        if kind == "big" and torch is not None:
            times = []
            for _ in range(args.runs + 1):
                start = time.perf_counter()
                lib.einsum(*ptrs, out_ptr)
                times.append(time.perf_counter() - start)
            failure = take_failure(abi)
            if failure:
                result["error"] = failure
                return result
            times = sorted(times[1:])
            tt = [torch.from_numpy(h).cuda() for h in hosts]
            torch_times = []
            for _ in range(args.runs + 1):
                torch.cuda.synchronize()
                start = time.perf_counter()
                torch.einsum(equation, *tt)
                torch.cuda.synchronize()
                torch_times.append(time.perf_counter() - start)
            torch_times = sorted(torch_times[1:])
            f = flops(equation, [h.shape for h in hosts])
            result.update({
                "einjit_ms_min": times[0] * 1e3,
                "einjit_ms_median": times[len(times) // 2] * 1e3,
                "torch_ms_min": torch_times[0] * 1e3,
                "torch_ms_median": torch_times[len(torch_times) // 2] * 1e3,
                "einjit_gflops": f / times[0] * 1e-9,
                "torch_gflops": f / torch_times[0] * 1e-9,
                "ratio": torch_times[0] / times[0],
            })
    finally:
        for p in ptrs + [out_ptr]:
            device.free(p)
        lib.einsum_fini()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernels", default=os.path.join(ROOT, "bench", "gpu", "out"))
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated names")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    abi = build_abi(args.out, args.kernels)
    try:
        import torch
        if not torch.cuda.is_available():
            torch = None
        else:
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
    except ImportError:
        torch = None
    device = Device()
    rows = []
    with open(os.path.join(args.kernels, "manifest.txt")) as f:
        for line in f:
            row = line.strip().split("|")
            if args.only and row[1] not in args.only.split(","):
                continue
            rows.append(row)
    info = {}
    if torch is not None:
        info = {"device": torch.cuda.get_device_name(0),
                "torch": torch.__version__}
    results = []
    for row in rows:
        try:
            r = run_workload(abi, device, args.kernels, row, args, torch)
        except Exception as e:  # report and go on with the next workload
            r = {"kind": row[0], "name": row[1], "equation": row[2],
                 "operands": row[3], "error": f"{type(e).__name__}: {e}"}
        results.append(r)
        print(json.dumps(r), flush=True)
    with open(os.path.join(args.out, "gpu-check.json"), "w") as f:
        json.dump({"info": info, "results": results}, f, indent=1)
    lines = [f"GPU check on {info.get('device', 'no torch device')} "
             f"(torch {info.get('torch', '-')})", "",
             "| workload | equation | operands | max rel err | einjit ms | "
             "torch ms | einjit GFLOP/s | torch GFLOP/s | torch/einjit |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['name']} | `{r['equation']}` | {r['operands']} "
                         f"| error: {r['error']} | | | | | |")
            continue
        cells = [f"{r['max_rel_err']:.1e}" + ("" if r["ok"] else " FAIL")]
        if "ratio" in r:
            cells += [f"{r['einjit_ms_min']:.3f}", f"{r['torch_ms_min']:.3f}",
                      f"{r['einjit_gflops']:.0f}", f"{r['torch_gflops']:.0f}",
                      f"{r['ratio']:.2f}"]
        else:
            cells += [""] * 5
        lines.append(f"| {r['name']} | `{r['equation']}` | {r['operands']} | "
                     + " | ".join(cells) + " |")
    with open(os.path.join(args.out, "gpu-check.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    bad = [r for r in results if "error" in r or not r.get("ok")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
