#!/usr/bin/env python3
"""einjit's contractions on bf16, f16, narrow ints and complex numbers
beside torch.einsum and np.einsum at the same dtypes, in the same run, with
the fp32 FMA peak of the same run.

einjit: `einsum-run EQ DTYPE:SHAPE ... --bench=N` (random operands; the
fastest call). torch.einsum and np.einsum: the fastest of N calls after a
warm-up, on operands of the same dtype (numpy has no bf16; np.einsum on
f16 and ints has no BLAS, and torch's int matmul no fast kernel). The
implementations alternate for --rounds rounds and each keeps its best.
Ratio = best peer's time / einjit's (above 1: einjit faster). Where the
CPU has AVX512-BF16 or AVX512-VNNI, the dot products' peaks are measured
too (bench/fma_peak.cpp `dot`), and bf16 and 8-bit products are also given
as a share of theirs.

  bench/.venv/bin/python bench/dtypes.py [--threads 1,2] [--rounds 2]
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import einsum_peers  # noqa: E402
from training import best_of as best_ms  # noqa: E402

CASES = [
    # name, equation, shapes, dtypes
    ("matmul 512", "ij,jk->ik", [(512, 512), (512, 512)], ["bf16", "bf16"]),
    ("matmul 999", "ij,jk->ik", [(999, 999), (999, 999)], ["bf16", "bf16"]),
    ("matmul 512", "ij,jk->ik", [(512, 512), (512, 512)], ["f16", "f16"]),
    ("attention scores b4 h12 s128 d64", "bhqd,bhkd->bhqk",
     [(4, 12, 128, 64), (4, 12, 128, 64)], ["bf16", "bf16"]),
    ("EinsumDense t=129", "btd,dhk->bthk", [(1, 129, 768), (768, 12, 64)],
     ["bf16", "bf16"]),
    ("reduction ijk->j 256^3", "ijk->j", [(256, 256, 256)], ["bf16"]),
    ("matmul 512", "ij,jk->ik", [(512, 512), (512, 512)], ["i8", "i8"]),
    ("matmul 999", "ij,jk->ik", [(999, 999), (999, 999)], ["i8", "i8"]),
    ("matmul 512 u8 x i8 -> i16", "ij,jk->ik", [(512, 512), (512, 512)],
     ["u8", "i8"]),
    ("matmul 256 bool", "ij,jk->ik", [(256, 256), (256, 256)],
     ["bool", "bool"]),
    ("matmul 512", "ij,jk->ik", [(512, 512), (512, 512)], ["c64", "c64"]),
    ("matmul 999", "ij,jk->ik", [(999, 999), (999, 999)], ["c64", "c64"]),
    ("matmul 512", "ij,jk->ik", [(512, 512), (512, 512)], ["c128", "c128"]),
    ("attention scores b4 h12 s128 d64", "bhqd,bhkd->bhqk",
     [(4, 12, 128, 64), (4, 12, 128, 64)], ["c64", "c64"]),
    ("matmul 512 c64 x f32", "ij,jk->ik", [(512, 512), (512, 512)],
     ["c64", "f32"]),
    # f64 beyond the caches: a matrix-vector product whose rows are split
    # into blocks for accuracy, with a remainder, and a full sum.
    ("matmul 500", "ij,jk->ik", [(500, 500), (500, 500)], ["f64", "f64"]),
    ("matrix-vector 3000x3001", "ij,j->i", [(3000, 3001), (3001,)],
     ["f64", "f64"]),
    ("sum 3000x3001", "ij->", [(3000, 3001)], ["f64"]),
]


def flops_of(eq, shapes, dtypes):
    """Real flops: a complex multiply-add is 4 real multiply-adds (2 with
    a real operand)."""
    complex_operands = sum(d.startswith("c") for d in dtypes)
    factor = {0: 1, 1: 2}.get(complex_operands, 4)
    return factor * einsum_peers.contraction_flops(eq, shapes)


def einjit_ms(exe, eq, shapes, dtypes, reps, threads):
    import re
    import subprocess
    specs = [f"{d}:{'x'.join(map(str, s))}" for s, d in zip(shapes, dtypes)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([exe, eq, *specs, f"--bench={reps}",
                          f"--threads={threads}"], capture_output=True,
                         text=True, env=env, check=True).stdout
    return (float(re.search(r"min ([0-9.]+) ms", out).group(1)),
            float(re.search(r"compile: ([0-9.]+) ms", out).group(1)))


def peers(eq, shapes, dtypes, threads):
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    tdt = {"bf16": torch.bfloat16, "f16": torch.float16, "i8": torch.int8,
           "u8": torch.uint8, "bool": torch.bool, "c64": torch.complex64,
           "c128": torch.complex128, "f32": torch.float32,
           "f64": torch.float64}
    ndt = {"f16": np.float16, "i8": np.int8, "u8": np.uint8, "bool": np.bool_,
           "c64": np.complex64, "c128": np.complex128, "f32": np.float32,
           "f64": np.float64}
    arrays = []
    for s, d in zip(shapes, dtypes):
        if d in ("c64", "c128"):
            arrays.append(rng.uniform(-1, 1, s) + 1j * rng.uniform(-1, 1, s))
        elif d in ("bf16", "f16", "f32", "f64"):
            arrays.append(rng.uniform(-1, 1, s).astype(np.float32))
        elif d == "bool":
            arrays.append(rng.integers(0, 2, s).astype(bool))
        else:
            arrays.append(rng.integers(-4, 5, s).astype(np.float32))
    out = {}
    ts = [torch.from_numpy(a).to(tdt[d]) for a, d in zip(arrays, dtypes)]
    try:
        torch.einsum(eq, *ts)
        out["torch.einsum"] = lambda: torch.einsum(eq, *ts)
    except RuntimeError:
        pass
    if all(d in ndt for d in dtypes):
        ns = [a.astype(ndt[d]) for a, d in zip(arrays, dtypes)]
        out["np.einsum"] = lambda: np.einsum(eq, *ns, optimize=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--einsum-run", default="build/bin/einsum-run")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    for threads in map(int, args.threads.split(",")):
        einsum_peers.peer_environment(threads)
        peak = einsum_peers.fma_peak(threads)
        dots = einsum_peers.dot_peaks(threads)
        dot_text = "".join(f"; {k} {v:.1f}" for k, v in dots.items())
        print(f"\n{threads} thread(s); {einsum_peers.cpu_name()}; fp32 FMA "
              f"peak {peak:.1f} GFLOP/s{dot_text}, measured now\n")
        print("| case | dtypes | einjit ms | einjit GFLOP/s (% of fp32 FMA "
              "peak) | % of the dot product's peak | compile ms | "
              "torch.einsum ms | np.einsum ms | best peer / einjit |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, eq, shapes, dtypes in CASES:
            fl = flops_of(eq, shapes, dtypes)
            calls = peers(eq, shapes, dtypes, threads)
            best = {"einjit": float("inf")}
            compile_ms = 0
            for _ in range(args.rounds):
                ms, compile_ms = einjit_ms(args.einsum_run, eq, shapes,
                                           dtypes, args.reps, threads)
                best["einjit"] = min(best["einjit"], ms)
                for peer, f in calls.items():
                    best[peer] = min(best.get(peer, float("inf")),
                                     best_ms(f, args.reps))
            mine = best["einjit"]
            gf = fl / mine / 1e6
            peer_ms = [best[p] for p in calls]
            ratio = min(peer_ms) / mine if peer_ms else float("nan")
            cell = lambda p: f"{best[p]:.3f}" if p in best else "n/a"
            # bf16 x bf16 runs on vdpbf16ps, 8-bit x 8-bit on vpdpbusd,
            # where the CPU has them.
            dot = ("bf16dot_gflops" if dtypes == ["bf16", "bf16"] else
                   "vnni_gops" if set(dtypes) <= {"i8", "u8"} and
                   len(dtypes) == 2 else None)
            dot_cell = (f"{100 * gf / dots[dot]:.0f}%" if dot in dots
                        else "")
            print(f"| {name} | {','.join(dtypes)} | {mine:.3f} | {gf:.1f} "
                  f"({100 * gf / peak:.0f}%) | {dot_cell} | {compile_ms:.0f} | "
                  f"{cell('torch.einsum')} | {cell('np.einsum')} | "
                  f"{ratio:.2f} |")


if __name__ == "__main__":
    main()
