#!/usr/bin/env python3
"""einjit beside the best einsum peers, same machine, same run, 1 and 2 threads.

usage: einsum_peers.py EINSUM_RUN [--threads 1,2] [--runs N] [--cases a,b]
                       [--cases held-out|few-rows]
                       [--peers p,q] [--json FILE] [--markdown FILE]
       einsum_peers.py EINSUM_RUN --sweep [--sweep-sizes N | --sizes 1,2,..]
                       [--sweep-max-seconds S] [--sweep-csv FILE]
       einsum_peers.py --plot CSV PNG
       einsum_peers.py --merge-sweeps OUT.csv IN.csv IN.csv ...

Peers (bench/setup-peers.sh installs them in a venv of their own; this
script itself needs only the standard library):
  numpy_blas    numpy's matmul / multi_dot / sum / copyto where the case has
                such a form (OpenBLAS from numpy's wheel), with out=
  numpy_einsum  np.einsum(optimize=True, out=)
  torch         torch.einsum
  tf_eager      tf.einsum, eager
  tf_xla        tf.function(tf.einsum, jit_compile=True)
  jax           jax.jit(jnp.einsum), block_until_ready
einjit is `einsum-run EQ SPECS --bench=N` (min and median of N calls into a
preallocated output; einsum-run makes its own random operands, each peer
makes its own of the same shapes and dtype).

Each peer runs in its own process per thread count, so thread settings
apply from its start: OMP/OPENBLAS/MKL_NUM_THREADS, torch.set_num_threads,
tf.config.threading (intra and inter op), XLA_FLAGS=--xla_cpu_multi_thread_
eigen=false on one thread, and the process is pinned to the first N CPUs
(sched_setaffinity), einjit too. The script unsets OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE in its own environment, so no child sees them (some
machines set them; they put numpy's OpenBLAS on half-speed kernels), and
prints the BLAS kernel threadpoolctl sees in each peer process. Each peer
is warmed up (trace, compile, 3+ calls) before N timed calls.

Ratio = best peer time / einjit time (min over the calls; >1: einjit is
faster). The same run measures the fp32 FMA peak (bench/fma_peak.cpp,
built with g++ -O3 -march=native) and memcpy bandwidth, and prints GFLOP/s
and % of peak for GEMM-class cases, GB/s and % of copy bandwidth for data
movement. Before each timed phase the script waits for the machine to be
quiet (no other process using CPU) and marks phases during which another
process used CPU or the hypervisor stole time as noisy ("~").

--sweep times matmul, batch matmul, attention scores and EinsumDense at
148 sizes from 1 to 2048 (primes included), appends each point to a CSV
as it is measured (a rerun skips points already there: resumable), stops
at --sweep-max-seconds, and plots GFLOP/s against size (PNG, matplotlib
from the peers venv).
"""
import argparse
import csv
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "einsum_peers_worker.py")
PEERS = ("numpy_blas", "numpy_einsum", "torch", "tf_eager", "tf_xla", "jax")
PEER_LABEL = {"numpy_blas": "numpy BLAS", "numpy_einsum": "np.einsum",
              "torch": "torch.einsum", "tf_eager": "tf.einsum",
              "tf_xla": "tf XLA", "jax": "jax.jit"}


def case(eq, shapes, kind, blas=None, note=""):
    return {"eq": eq, "shapes": shapes, "kind": kind, "blas": blas,
            "note": note}


# kind: "gemm" (GFLOP/s, % of FMA peak), "mem" (GB/s of operands + result,
# % of copy bandwidth) or "small" (times only). blas: numpy's own form, in
# a, b, c, d (operands) and out (a preallocated result), or None.
MATMUL = "np.matmul(a, b, out=out)"
CASES = {
    "matmul_1024": case("ij,jk->ik", [[1024, 1024], [1024, 1024]], "gemm",
                        MATMUL),
    "attn_scores": case("bhqd,bhkd->bhqk", [[4, 12, 512, 64]] * 2, "gemm",
                        "np.matmul(a, b.swapaxes(-1, -2), out=out)",
                        "b4 h12 s512 d64"),
    "attn_wsum": case("bhqk,bhkd->bqhd", [[4, 12, 512, 512], [4, 12, 512, 64]],
                      "gemm", "np.matmul(a, b, out=out.transpose(0, 2, 1, 3))",
                      "b4 h12 s512 d64"),
    "einsum_dense": case(
        "btd,dhk->bthk", [[8, 512, 768], [768, 12, 64]], "gemm",
        "np.matmul(a, b.reshape(b.shape[0], -1), "
        "out=out.reshape(a.shape[0], a.shape[1], -1))"),
    "abcd_cdef": case(
        "abcd,cdef->abef", [[24] * 4] * 2, "gemm",
        "np.matmul(a.reshape(576, 576), b.reshape(576, 576), "
        "out=out.reshape(576, 576))"),
    "chain4": case("ij,jk,kl,lm->im",
                   [[1024, 64], [64, 1024], [1024, 64], [64, 1024]], "gemm",
                   "np.linalg.multi_dot([a, b, c, d], out=out)"),
    "mode_n": case("ijk,lj->ilk", [[256, 256, 256], [128, 256]], "gemm",
                   "np.matmul(b, a, out=out)"),
    "batch_matmul": case("bij,bjk->bik", [[16, 256, 256]] * 2, "gemm", MATMUL),
    "bilinear": case("bi,oij,bj->bo", [[128, 256], [64, 256, 256], [128, 256]],
                     "gemm", None, "torch.nn.Bilinear's form"),
    "transpose": case("ijk->kji", [[256, 256, 256]], "mem",
                      "np.copyto(out, a.transpose(2, 1, 0))"),
    "reduce_ijk_j": case("ijk->j", [[256, 256, 256]], "mem",
                         "np.sum(a, axis=(0, 2), out=out)"),
    "quad_form": case("i,ij,j->", [[4096], [4096, 4096], [4096]], "mem",
                      "np.dot(np.dot(a, b), c)"),
    "outer": case("i,j->ij", [[4096], [4096]], "mem",
                  "np.multiply.outer(a, b, out=out)"),
    "matvec": case("ij,j->i", [[4096, 4096], [4096]], "mem", MATMUL),
    "trace": case("ii->", [[4096, 4096]], "small", "np.trace(a)"),
    "diagonal": case("ii->i", [[4096, 4096]], "small",
                     "np.copyto(out, np.diagonal(a))"),
    "matmul_999": case("ij,jk->ik", [[999, 999]] * 2, "gemm", MATMUL),
    "matmul_1009": case("ij,jk->ik", [[1009, 1009]] * 2, "gemm", MATMUL),
    "attn_scores_129": case("bhqd,bhkd->bhqk", [[8, 12, 129, 64]] * 2, "gemm",
                            "np.matmul(a, b.swapaxes(-1, -2), out=out)",
                            "b8 h12 s129 d64"),
    "batch_matmul_100": case("bij,bjk->bik", [[24, 100, 100]] * 2, "gemm",
                             MATMUL),
}

# Ordinary shapes that the standard cases do not name (`--cases held-out`):
# rectangular, transposed and tall-skinny products, a 1x1 convolution,
# attention at odd head sizes and while decoding (one query row), an MLP
# layer of 100 rows, and sums whose contiguous dim is summed at widths that
# no register divides (`ijkl,jl->ik` at l = 50 and 127).
HELD_OUT = {
    "mm_2048x256x2048": case("ij,jk->ik", [[2048, 256], [256, 2048]], "gemm",
                             MATMUL),
    "mm_256x4096x256": case("ij,jk->ik", [[256, 4096], [4096, 256]], "gemm",
                            MATMUL),
    "mm_4096x1024x64": case("ij,jk->ik", [[4096, 1024], [1024, 64]], "gemm",
                            MATMUL),
    "mm_64x1024x4096": case("ij,jk->ik", [[64, 1024], [1024, 4096]], "gemm",
                            MATMUL),
    "mm_tn_600x800x700": case("ji,jk->ik", [[800, 600], [800, 700]], "gemm",
                              "np.matmul(a.T, b, out=out)"),
    "mm_nt_700x500x900": case("ij,kj->ik", [[700, 500], [900, 500]], "gemm",
                              "np.matmul(a, b.T, out=out)"),
    "mm_300": case("ij,jk->ik", [[300, 300], [300, 300]], "gemm", MATMUL),
    "mm_1500": case("ij,jk->ik", [[1500, 1500], [1500, 1500]], "gemm", MATMUL),
    "bmm_32x77x65x91": case("bij,bjk->bik", [[32, 77, 65], [32, 65, 91]],
                            "gemm", MATMUL),
    "conv1x1": case("bchw,oc->bohw", [[8, 64, 28, 28], [128, 64]], "gemm"),
    "attn_b2h8s300d40": case("bhqd,bhkd->bhqk", [[2, 8, 300, 40]] * 2, "gemm",
                             "np.matmul(a, b.swapaxes(-1, -2), out=out)"),
    "mlp_100x3072x768": case("bi,io->bo", [[100, 3072], [3072, 768]], "gemm",
                             MATMUL),
    "tdot_ijkl_jl": case("ijkl,jl->ik", [[64, 50, 64, 50], [50, 50]], "mem"),
    "tdot_l127": case("ijkl,jl->ik", [[64, 127, 64, 127], [127, 127]], "mem"),
    "sum_ijk_j_k100": case("ijk->j", [[256, 256, 100]], "mem",
                           "np.sum(a, axis=(0, 2), out=out)"),
    "decode_scores": case("bhqd,bhkd->bhqk",
                          [[8, 16, 1, 128], [8, 16, 1000, 128]], "mem",
                          "np.matmul(a, b.swapaxes(-1, -2), out=out)",
                          "b8 h16 q1 k1000 d128"),
    "decode_wsum": case("bhqk,bhkd->bhqd",
                        [[8, 16, 1, 1000], [8, 16, 1000, 128]], "mem",
                        "np.matmul(a, b, out=out)", "b8 h16 q1 k1000 d128"),
    "matvec_short_rows": case("kd,d->k", [[32000, 512], [512]], "mem",
                              MATMUL),
}
# A few rows through a large matrix (`--cases few-rows`): decoding a batch
# of 1-8 tokens through a 4096 x 4096 weight, in either layout; attention
# scores for 4 and 8 query rows over a 1000-key cache; and a contraction
# whose two K labels are in opposite orders in the inputs.
NT = "np.matmul(a, b.T, out=out)"
SCORES = "np.matmul(a, b.swapaxes(-1, -2), out=out)"
FEW_ROWS = {
    "rows1_4096": case("ij,jk->ik", [[1, 4096], [4096, 4096]], "mem", MATMUL),
    "rows2_4096": case("ij,jk->ik", [[2, 4096], [4096, 4096]], "mem", MATMUL),
    "rows4_4096": case("ij,jk->ik", [[4, 4096], [4096, 4096]], "mem", MATMUL),
    "rows8_4096": case("ij,jk->ik", [[8, 4096], [4096, 4096]], "mem", MATMUL),
    "rows3_999x3001": case("ij,jk->ik", [[3, 999], [999, 3001]], "mem",
                           MATMUL),
    "rows2_nt_4096": case("ij,kj->ik", [[2, 4096], [4096, 4096]], "mem", NT),
    "rows4_nt_4096": case("ij,kj->ik", [[4, 4096], [4096, 4096]], "mem", NT),
    "decode4_scores": case("bhqd,bhkd->bhqk",
                           [[8, 16, 4, 128], [8, 16, 1000, 128]], "mem",
                           SCORES, "b8 h16 q4 k1000 d128"),
    "decode8_scores": case("bhqd,bhkd->bhqk",
                           [[8, 16, 8, 128], [8, 16, 1000, 128]], "mem",
                           SCORES, "b8 h16 q8 k1000 d128"),
    "k_apart": case("ijk,jil->kl", [[40, 50, 60], [50, 40, 70]], "gemm"),
}
CASE_SETS = {"held-out": HELD_OUT, "few-rows": FEW_ROWS}
ALL_CASES = {**CASES, **HELD_OUT, **FEW_ROWS}

SWEEP = {
    # name: (equation, shapes of size n, numpy form)
    "matmul": ("ij,jk->ik", lambda n: [[n, n], [n, n]], MATMUL),
    "batch_matmul": ("bij,bjk->bik", lambda n: [[4, n, n], [4, n, n]], MATMUL),
    "attn_scores": ("bhqd,bhkd->bhqk",
                    lambda n: [[1, 12, n, 64], [1, 12, n, 64]],
                    "np.matmul(a, b.swapaxes(-1, -2), out=out)"),
    "einsum_dense": ("btd,dhk->bthk", lambda n: [[1, n, 768], [768, 12, 64]],
                     "np.matmul(a, b.reshape(b.shape[0], -1), "
                     "out=out.reshape(a.shape[0], a.shape[1], -1))"),
}
SWEEP_NOTE = {"matmul": "n^3", "batch_matmul": "4 x n^3",
              "attn_scores": "b1 h12 s=n d64", "einsum_dense": "b1 t=n d768 h12 k64"}

# (vendor, family, model) -> microarchitecture, for CPUs that a VM names
# only "Intel(R) Xeon(R) Processor".
CPU_NAMES = {("GenuineIntel", 6, 85): "Skylake-SP/Cascade Lake",
             ("GenuineIntel", 6, 106): "Ice Lake-SP",
             ("GenuineIntel", 6, 143): "Sapphire Rapids",
             ("GenuineIntel", 6, 207): "Emerald Rapids",
             ("GenuineIntel", 6, 173): "Granite Rapids",
             ("AuthenticAMD", 23, None): "Zen 2", ("AuthenticAMD", 25, None): "Zen 3/4",
             ("AuthenticAMD", 26, None): "Zen 5"}


# ---------------------------------------------------------------- machine --

def cpu_name():
    fields = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            fields[k.strip()] = v.strip()
    except OSError:
        pass
    name = fields.get("Model name", platform.processor() or "unknown CPU")
    vendor = fields.get("Vendor ID", "")
    try:
        fam, model = int(fields.get("CPU family", -1)), int(fields.get("Model", -1))
    except ValueError:
        fam, model = -1, -1
    arch = CPU_NAMES.get((vendor, fam, model)) or CPU_NAMES.get((vendor, fam, None))
    desc = f"{name} (family {fam}, model {model}"
    desc += f": {arch})" if arch else ")"
    return desc


def pin(threads):
    """preexec_fn pinning the child to the first `threads` allowed CPUs."""
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    return lambda: os.sched_setaffinity(0, cpus)


def proc_stat():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6]  # user nice system irq softirq
    steal = v[7] if len(v) > 7 else 0
    return busy, steal, sum(v)


def own_cpu(pid=None):
    """CPU seconds of this script, its reaped children and the live child
    pid (whose time getrusage counts only once it is reaped)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0.0
    if pid:
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            live = (int(rest[11]) + int(rest[12])) / Phase.HZ
        except (OSError, IndexError, ValueError):
            pass
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime + live


class Phase:
    """Measures, over a timed phase, the CPU used by processes other than
    this script and its children, and the time the hypervisor stole."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, pid=None):
        self.pid = pid
        self.t0, self.stat0, self.own0 = time.time(), proc_stat(), own_cpu(pid)

    def end(self):
        wall = time.time() - self.t0
        stat, own = proc_stat(), own_cpu(self.pid)
        busy = (stat[0] - self.stat0[0]) / self.HZ
        total = max(stat[2] - self.stat0[2], 1)
        other_s = max(busy - (own - self.own0), 0)
        steal = (stat[1] - self.stat0[1]) / total
        # /proc/stat counts in clock ticks: a phase of a few ticks can seem
        # busy by rounding alone, so ask for 5 ticks of others' CPU as well.
        tick = 1 / self.HZ
        return {"other_cores": round(other_s / max(wall, 1e-9), 3),
                "steal": round(steal, 3),
                "noisy": other_s > max(0.25 * wall, 5 * tick)
                or (steal > 0.05 and total > 20)}


def busiest(seconds=2.0):
    """CPU cores used by everything else over `seconds`, and the top users."""
    def snap():
        per = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    s = f.read()
                comm = s[s.index("(") + 1:s.rindex(")")]
                rest = s[s.rindex(")") + 2:].split()
                per[pid] = (comm, int(rest[11]) + int(rest[12]))
            except (OSError, ValueError, IndexError):
                pass
        return per
    a, s0 = snap(), proc_stat()
    time.sleep(seconds)
    b, s1 = snap(), proc_stat()
    cores = (s1[0] - s0[0]) / Phase.HZ / seconds
    deltas = sorted(((b[p][1] - a[p][1], b[p][0]) for p in b if p in a
                     and p != str(os.getpid())), reverse=True)
    top = [f"{comm} {d / Phase.HZ / seconds:.2f}" for d, comm in deltas[:3] if d > 0]
    return cores, top


def wait_quiet(what, max_wait, log):
    """Waits until other processes use < 0.15 cores; returns True if quiet."""
    deadline = time.time() + max_wait
    while True:
        cores, top = busiest()
        load = os.getloadavg()[0]
        if cores < 0.15:
            return True
        if time.time() > deadline:
            log(f"  !! {what}: machine still busy after {max_wait:.0f} s "
                f"({cores:.2f} cores: {', '.join(top)}; load {load:.2f}); "
                f"timing anyway, marked noisy")
            return False
        log(f"  .. {what}: waiting for a quiet machine ({cores:.2f} cores "
            f"busy: {', '.join(top)}; load {load:.2f})")
        time.sleep(max(0.0, min(20.0, deadline - time.time())))


def build_fma_peak(tmp):
    cxx = os.environ.get("CXX", "g++")
    exe = os.path.join(tmp, "fma_peak")
    subprocess.run([cxx, "-O3", "-march=native", "-pthread",
                    os.path.join(HERE, "fma_peak.cpp"), "-o", exe],
                   check=True, capture_output=True, text=True)
    return exe


def peer_environment(threads):
    """The environment of a peer benchmark: `threads` for OpenMP, quiet
    TensorFlow, and OpenBLAS free to pick its kernel (shared/DESIGN.md)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(var, None)


def fma_peak(threads):
    """The fp32 FMA peak on `threads` threads, in GFLOP/s, measured now."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_fma_peak(tmp)
        out = subprocess.run([exe, "fma", str(threads)], check=True,
                             capture_output=True, text=True).stdout
    return float(re.search(r"peak_gflops: ([0-9.]+)", out).group(1))


def dot_peaks(threads):
    """The packed-type dot products' peaks on `threads` threads, measured
    now: {"bf16dot_gflops": ..., "vnni_gops": ...}, each where the CPU has
    the instruction (AVX512-BF16, AVX512-VNNI)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_fma_peak(tmp)
        out = subprocess.run([exe, "dot", str(threads)], check=True,
                             capture_output=True, text=True).stdout
    return {k: float(v) for k, v in re.findall(r"(\w+): ([0-9.]+)", out)}


def measure_ceilings(exe, threads_list, args, log):
    def run(*a):
        out = subprocess.run([exe, *map(str, a)], capture_output=True,
                             text=True, check=True).stdout
        return {k: float(v) for k, v in re.findall(r"(\w+): ([0-9.]+)", out)}
    res = {}
    for t in sorted(set(threads_list) | {1}):
        quiet = wait_quiet(f"FMA peak, {t} thread(s)", args.quiet_wait, log)
        ph = Phase()
        r = run("fma", t)
        noise = ph.end()
        ph = Phase()
        c = run("copy", t, 1024)
        noise2 = ph.end()
        res[t] = {"fma_gflops": r["peak_gflops"], "fma512": r.get("fma512_gflops"),
                  "fma256": r.get("fma256_gflops"), "copy_gbs": c["copy_gbs"],
                  "noisy": (not quiet) or noise["noisy"] or noise2["noisy"]}
    return res


# ------------------------------------------------------------------ einjit --

def binary_info(path):
    """The binary, when it was built and the checkout's commit, so a table
    can be matched to the kernels that made it."""
    try:
        built = datetime.datetime.fromtimestamp(os.path.getmtime(path))
    except OSError:
        return f"{path} (missing)"
    head = subprocess.run(["git", "-C", HERE, "log", "-1", "--format=%h %ci"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain",
                            "--untracked-files=no", "--", "..", ":(exclude)."],
                           capture_output=True, text=True).stdout.strip()
    return (f"{path}, built {built:%Y-%m-%d %H:%M}; checkout at {head or '?'}"
            f"{' with local changes' if dirty else ''}")


def spec(shape):
    return "f32:" + "x".join(map(str, shape))


def run_einjit(einsum_run, eq, shapes, runs, threads, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    try:
        proc = subprocess.run([einsum_run, eq, *map(spec, shapes),
                               f"--bench={runs}"], capture_output=True,
                              text=True, env=env, preexec_fn=pin(threads),
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if proc.returncode:
        return {"error": (proc.stderr or proc.stdout).strip()[:300]}
    text = proc.stdout

    def grab(pattern):
        return float(re.search(pattern, text).group(1))
    flops = grab(r"flops: ([0-9.e+]+)")
    res = {"flops": flops,
           "path": re.search(r"path: (.*?)  flops", text).group(1),
           "compile": grab(r"compile: ([0-9.]+) ms") / 1e3,
           "first": grab(r"first call: ([0-9.]+) ms") / 1e3}
    times = {k: precise_seconds(grab(k + r" ([0-9.]+) ms"),
                                grab(r"([0-9.]+) \(" + k + r"\)"), flops)
             for k in ("min", "median")}
    if None in times.values():
        return {"error": "below einsum-run's timer resolution", **res}
    return dict(res, **times)


def precise_seconds(ms, gflops, flops):
    """einsum-run prints times to 0.001 ms and GFLOP/s (from unrounded times)
    to 0.01: takes whichever is more precise; None if neither is within 10%."""
    cands = [(5e-4 / ms, ms / 1e3)] if ms > 0 else []
    if flops > 0 and gflops > 0:
        cands.append((5e-3 / gflops, flops / (gflops * 1e9)))
    err, seconds = min(cands, default=(1.0, None))
    return seconds if err <= 0.1 else None


# ------------------------------------------------------------------- peers --

def peer_env(threads):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env.update(TF_CPP_MIN_LOG_LEVEL="2", JAX_PLATFORMS="cpu",
               CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    if threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                            " --xla_cpu_multi_thread_eigen=false").strip()
    return env


def start_peer(python, peer, threads, runs, max_case_seconds, cases):
    job = {"peer": peer, "threads": threads, "runs": runs,
           "max_case_seconds": max_case_seconds, "cases": cases}
    # stderr goes to a file: TensorFlow and JAX can log more than a pipe
    # holds, and nothing reads it until the worker ends.
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([python, WORKER, json.dumps(job)],
                            stdout=subprocess.PIPE, stderr=err, text=True,
                            env=peer_env(threads), preexec_fn=pin(threads))
    proc.err_file = err
    return proc


def read_peer(proc, deadline=None):
    """Yields the worker's JSON lines; kills it (by pid) past deadline."""
    for line in proc.stdout:
        line = line.strip()
        if line.startswith("{"):
            yield json.loads(line)
        if deadline and time.time() > deadline:
            proc.kill()
            break
    proc.wait()
    proc.err_file.seek(0)
    err = proc.err_file.read().strip().splitlines()
    proc.err_file.close()
    if proc.returncode not in (0, -9):
        yield {"fatal": " | ".join(err[-3:])[:400] or f"exit {proc.returncode}"}


def describe_peer(info):
    """One line: versions, thread settings and the BLAS kernel threadpoolctl
    reports in the peer process (OpenBLAS's 'architecture')."""
    pools = info.get("threadpools")
    if isinstance(pools, list):
        pools = "; ".join(f"{x.get('internal_api')} {x.get('version')} "
                          f"{x.get('architecture')} x{x.get('num_threads')}"
                          for x in pools) or "none"
    extra = {k: v for k, v in info.items() if k not in ("peer", "threadpools")}
    return f"{json.dumps(extra)}; BLAS: {pools}"


def find_python(args):
    if args.python:
        return args.python
    venv = os.environ.get("EINJIT_PEERS_VENV", os.path.join(HERE, ".venv"))
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        sys.exit(f"einsum_peers.py: no peers venv at {venv}: run "
                 f"bash bench/setup-peers.sh (or pass --python)")
    return python


# ------------------------------------------------------------------- table --

def rate(c, flops, seconds, ceil):
    """(rate text, percent) for one case at one thread count."""
    if c["kind"] == "gemm":
        g = flops / seconds * 1e-9
        return f"{g:.1f} GFLOP/s", 100 * g / ceil["fma_gflops"]
    if c["kind"] == "mem":
        nbytes = 4 * (sum(math.prod(s) for s in c["shapes"]) + out_elems(c))
        g = nbytes / seconds * 1e-9
        return f"{g:.1f} GB/s", 100 * g / ceil["copy_gbs"]
    return "", None


def label_dims(eq, shapes):
    dims = {}
    for labels, shape in zip(eq.split("->")[0].split(","), shapes):
        dims.update(zip(labels, shape))
    return dims


def out_elems(c):
    dims = label_dims(c["eq"], c["shapes"])
    return math.prod(dims[x] for x in c["eq"].split("->")[1])


def contraction_flops(eq, shapes):
    """2 x the product of every label's size: a two-operand contraction's
    multiply-adds (the sweep's workloads are all of that kind)."""
    return 2.0 * math.prod(label_dims(eq, shapes).values())


def merge_passes(passes):
    """Per case, over the passes (separate processes): the best min, the
    median of the medians, and spread = slowest min / fastest min."""
    merged = {}
    for name in {k for p in passes for k in p}:
        runs = [p[name] for p in passes if name in p]
        good = [r for r in runs if "min" in r and "error" not in r]
        if not good:
            merged[name] = runs[0]
            continue
        best = dict(min(good, key=lambda r: r["min"]))
        meds = sorted(r["median"] for r in good)
        best["median"] = meds[len(meds) // 2]
        best["spread"] = max(r["min"] for r in good) / best["min"]
        best["passes"] = len(good)
        if any(r.get("check", "ok") != "ok" for r in good):
            best["check"] = "MISMATCH"
        merged[name] = best
    return merged


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


def summarize(results, ceilings, threads_list, names, peers):
    rows, gm = [], {}
    for t in threads_list:
        ratios = {"best": [], "numpy_einsum": [], "torch": []}
        for name in names:
            c = ALL_CASES[name]
            e = results[t]["einjit"].get(name, {})
            peer_times = {p: results[t][p][name] for p in peers
                          if name in results[t].get(p, {})
                          and "min" in results[t][p][name]
                          and results[t][p][name].get("check") == "ok"}
            row = {"case": name, "threads": t, "eq": c["eq"], "kind": c["kind"],
                   "einjit": e, "peers": {p: results[t][p].get(name)
                                          for p in peers if name in results[t].get(p, {})}}
            if "min" in e:
                txt, pct = rate(c, e["flops"], e["min"], ceilings[t])
                row.update(rate=txt, pct=pct)
            if peer_times:
                best = min(peer_times, key=lambda p: peer_times[p]["min"])
                row["best"] = best
                row["best_min"] = peer_times[best]["min"]
                if "min" in e:
                    row["ratio"] = row["best_min"] / e["min"]
                    ratios["best"].append(row["ratio"])
                    for p in ("numpy_einsum", "torch"):
                        if p in peer_times:
                            r = peer_times[p]["min"] / e["min"]
                            row[f"ratio_{p}"] = r
                            ratios[p].append(r)
            rows.append(row)
        gm[t] = {k: geomean(v) for k, v in ratios.items()}
        gm[t]["cases"] = len(ratios["best"])
    return rows, gm


def fmt_ms(s):
    return f"{s * 1e3:.3f}" if s is not None else "-"


def print_tables(rows, gm, ceilings, threads_list, peers, noisy, out):
    for t in threads_list:
        ceil = ceilings[t]
        out(f"\n== {t} thread{'s' if t > 1 else ''}: FMA peak "
            f"{ceil['fma_gflops']:.1f} GFLOP/s, copy {ceil['copy_gbs']:.1f} GB/s"
            f"{'  (noisy)' if ceil['noisy'] else ''} ==")
        out(f"{'case':17} {'einjit ms (median)':>21} {'spread':>6} {'rate':>15} "
            f"{'%':>5}  {'best peer ms':>12} {'(which)':15} {'ratio':>6} "
            f"{'np.ein':>6} {'torch':>6}")
        for r in (r for r in rows if r["threads"] == t):
            e = r["einjit"]
            if "min" not in e:
                out(f"{r['case']:17} einjit error: {e.get('error', 'not run')}")
                continue
            mark = "~" if noisy.get((t, "einjit")) else " "
            pct = f"{r['pct']:.0f}" if r.get("pct") is not None else ""
            best = r.get("best")
            bmark = "~" if best and noisy.get((t, best)) else " "
            spread = f"{e['spread']:.2f}" if e.get("passes", 1) > 1 else ""
            out(f"{r['case']:17} {fmt_ms(e['min']):>9}{mark}({fmt_ms(e['median']):>9}) "
                f"{spread:>6} {r.get('rate', ''):>15} {pct:>5}  "
                f"{fmt_ms(r.get('best_min')):>11}{bmark} "
                f"{PEER_LABEL.get(best, '-'):15} {r.get('ratio', float('nan')):6.2f} "
                f"{r.get('ratio_numpy_einsum', float('nan')):6.2f} "
                f"{r.get('ratio_torch', float('nan')):6.2f}")
        g = gm[t]
        out(f"geometric mean of ratios over {g['cases']} cases: vs best peer "
            f"{g['best']:.2f}, vs np.einsum(optimize=True) {g['numpy_einsum']:.2f}, "
            f"vs torch.einsum {g['torch']:.2f}")
        out("\nevery peer, min ms over the calls (* result copied to a "
            "contiguous array of its own; ! differs from np.einsum; ~ noisy "
            "phase; cpu/wall in brackets; with --repeat, the spread of the "
            "passes' mins after the slash):")
        out(f"{'case':17} " + " ".join(f"{PEER_LABEL[p]:>21}" for p in peers))
        for r in (r for r in rows if r["threads"] == t):
            cells = []
            for p in peers:
                v = r["peers"].get(p)
                if v is None:
                    cells.append(f"{'-':>21}")
                elif "error" in v:
                    cells.append(f"{'error':>21}")
                else:
                    flag = ("*" if v.get("copy") else "") + \
                        ("!" if v.get("check") != "ok" else "") + \
                        ("~" if noisy.get((t, p)) else "")
                    sp = f"/{v['spread']:.2f}" if v.get("passes", 1) > 1 else ""
                    cells.append(f"{fmt_ms(v['min']) + flag + sp:>14} "
                                 f"[{v['cpu_per_wall']:4.2f}]")
            out(f"{r['case']:17} " + " ".join(cells))


def markdown(rows, gm, threads_list, noisy):
    """One row per case, the thread counts side by side. noisy: "peer@t"."""
    passes = max((r["einjit"].get("passes", 1) for r in rows), default=1)
    head = "| case | equation | "
    rule = "|---|---|"
    for t in threads_list:
        th = f"{t}t"
        head += f"{th} einjit ms (median) | "
        if passes > 1:
            head += f"{th} einjit spread | "
        head += (f"{th} rate, % of ceiling | {th} best peer ms | "
                 f"{th} ratio | ")
        rule += "---|---|---|---|" + ("---|" if passes > 1 else "")
    lines = [head.rstrip(), rule]
    by_case = {}
    for r in rows:
        by_case.setdefault(r["case"], {})[r["threads"]] = r
    for name, per in by_case.items():
        first = next(iter(per.values()))
        line = f"| {name} | `{first['eq']}` | "
        for t in threads_list:
            r = per.get(t, {})
            e = r.get("einjit", {})
            if "min" not in e:
                line += "- | - | - | - | " + ("- | " if passes > 1 else "")
                continue
            nz = "~" if noisy.get(f"einjit@{t}") else ""
            pct = r.get("pct")
            ceil = ""
            if pct is not None:
                ceil = f" ({pct:.0f}% {'FMA' if r['kind'] == 'gemm' else 'copy'})"
            best = r.get("best")
            bnz = "~" if best and noisy.get(f"{best}@{t}") else ""
            line += f"{fmt_ms(e['min'])} ({fmt_ms(e['median'])}){nz} | "
            if passes > 1:
                line += f"{e.get('spread', 1):.2f} | "
            line += (f"{r.get('rate', '')}{ceil} | "
                     f"{fmt_ms(r.get('best_min'))}{bnz} {PEER_LABEL.get(best, '-')} | "
                     f"{r.get('ratio', float('nan')):.2f} | ")
        lines.append(line.rstrip())
    lines += ["", "| threads | cases | geomean vs best peer | vs np.einsum(optimize=True) "
              "| vs torch.einsum |", "|---|---|---|---|---|"]
    for t in threads_list:
        g = gm[t]
        lines.append(f"| {t} | {g['cases']} | {g['best']:.2f} | "
                     f"{g['numpy_einsum']:.2f} | {g['torch']:.2f} |")
    return "\n".join(lines) + "\n"


def render_markdown(json_path):
    with open(json_path) as f:
        data = json.load(f)
    gm = {int(k): v for k, v in data["geomean"].items()}
    return markdown(data["rows"], gm, sorted(gm), data["noisy"])


# ------------------------------------------------------------------- sweep --

def sweep_sizes(count=None):
    """100+ sizes from 1 to 2048: geometric steps, powers of two and their
    neighbours, and a prime near each step."""
    def is_prime(n):
        return n > 1 and all(n % p for p in range(2, int(n ** 0.5) + 1))
    sizes = set(range(1, 9))
    x = 8.0
    while x < 2048:
        n = int(round(x))
        sizes.add(n)
        p = n + 1
        while not is_prime(p):
            p += 1
        if p <= 2048:
            sizes.add(p)
        x *= 1.085
    for k in range(4, 12):
        sizes.update({2 ** k - 1, 2 ** k, 2 ** k + 1})
    sizes.update({48, 96, 192, 384, 768, 999, 1000, 1009, 1536, 2047, 2048})
    sizes = sorted(s for s in sizes if 1 <= s <= 2048)
    if count and count < len(sizes):
        step = (len(sizes) - 1) / (count - 1)
        sizes = sorted({sizes[round(i * step)] for i in range(count)})
    return sizes


SWEEP_FIELDS = ["workload", "size", "threads", "impl", "flops", "min_s",
                "median_s", "gflops", "calls", "check", "noisy", "date"]


def run_sweep(args, python, ceilings, log):
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else sweep_sizes(args.sweep_sizes))
    workloads = args.sweep_workloads.split(",")
    threads_list = [int(t) for t in args.threads.split(",")]
    peers = [p for p in args.peers.split(",") if p]
    os.makedirs(os.path.dirname(os.path.abspath(args.sweep_csv)), exist_ok=True)
    done = set()
    if os.path.exists(args.sweep_csv):
        with open(args.sweep_csv) as f:
            for row in csv.DictReader(f):
                if row["workload"] != "peak":
                    done.add((row["workload"], int(row["size"]),
                              int(row["threads"]), row["impl"]))
    new = not os.path.exists(args.sweep_csv)
    f = open(args.sweep_csv, "a", newline="")
    w = csv.DictWriter(f, SWEEP_FIELDS)
    if new:
        w.writeheader()
    today = datetime.date.today().isoformat()
    described = set()
    for t in threads_list:  # the ceilings, for the plot's peak lines
        w.writerow({"workload": "peak", "size": 0, "threads": t,
                    "impl": "fma_peak", "gflops": ceilings[t]["fma_gflops"],
                    "noisy": int(ceilings[t]["noisy"]), "date": today})
    f.flush()
    deadline = time.time() + args.sweep_max_seconds
    log(f"sweep: {len(sizes)} sizes x {len(workloads)} workloads x "
        f"{len(threads_list)} thread counts, {len(done)} points already in "
        f"{args.sweep_csv}; stops after {args.sweep_max_seconds} s")

    def record(wl, n, t, impl, flops, res, noisy):
        row = {"workload": wl, "size": n, "threads": t, "impl": impl,
               "flops": flops, "date": today, "noisy": int(noisy)}
        if "error" not in res:
            row.update(min_s=res["min"], median_s=res["median"],
                       gflops=flops / res["min"] * 1e-9,
                       calls=res.get("calls", args.sweep_runs),
                       check=res.get("check", "ok"))
        else:
            row.update(check="error: " + res.get("error", "?")[:80])
        w.writerow(row)
        f.flush()
        done.add((wl, n, t, impl))

    def sweep_group(wl, eq, shapes_of, blas, t, group_sizes):
        """Times einjit and then each peer at these sizes; False once the
        time limit is reached."""
        todo = [n for n in group_sizes if (wl, n, t, "einjit") not in done]
        if todo:
            wait_quiet(f"sweep {wl} einjit {t}t", args.quiet_wait, log)
        for n in todo:
            if time.time() > deadline:
                log("sweep: time limit reached; rerun to resume")
                return False
            flops = contraction_flops(eq, shapes_of(n))
            # about 0.5 s of calls at 100 GFLOP/s, 3 to --sweep-runs
            runs = min(args.sweep_runs, max(3, int(5e10 / flops)))
            ph = Phase()
            res = run_einjit(args.einsum_run, eq, shapes_of(n), runs, t)
            record(wl, n, t, "einjit", flops, res, ph.end()["noisy"])
        for p in peers:
            todo = [n for n in group_sizes if (wl, n, t, p) not in done]
            if not todo or (p == "numpy_blas" and not blas):
                continue
            if time.time() > deadline:
                log("sweep: time limit reached; rerun to resume")
                return False
            wait_quiet(f"sweep {wl} {p} {t}t", args.quiet_wait, log)
            cases = [{"name": str(n), "eq": eq, "shapes": shapes_of(n),
                      "blas": blas} for n in todo]
            flops_of = {str(n): contraction_flops(eq, shapes_of(n))
                        for n in todo}
            proc = start_peer(python, p, t, args.sweep_runs,
                              args.max_case_seconds, cases)
            ph = Phase(proc.pid)
            for msg in read_peer(proc, deadline):
                if "info" in msg and (t, p) not in described:
                    described.add((t, p))
                    log(f"  {p} ({t}t): {describe_peer(msg['info'])}")
                elif "case" in msg:
                    noisy = ph.end()["noisy"]
                    ph = Phase(proc.pid)
                    record(wl, int(msg["case"]), t, p, flops_of[msg["case"]],
                           msg, noisy)
                elif "fatal" in msg:
                    log(f"  {p} ({t}t, sweep {wl}) failed: {msg['fatal']}")
        return True

    # Sizes go in groups of --sweep-group, each timed by einjit and then
    # by every peer before the next group: a slow phase of the VM (minutes
    # long here) then hits einjit and its peers at the same sizes, not one
    # implementation's whole block.
    group = args.sweep_group if args.sweep_group > 0 else len(sizes)
    for t in threads_list:
        for wl in workloads:
            eq, shapes_of, blas = SWEEP[wl]
            for g in range(0, len(sizes), group):
                if not sweep_group(wl, eq, shapes_of, blas, t,
                                   sizes[g:g + group]):
                    f.close()
                    return
            log(f"  sweep {wl}, {t} thread(s): done")
    f.close()


def merge_sweeps(out_path, in_paths):
    """Writes, per (workload, size, threads, impl), the row with the least
    min time over the sweeps `in_paths` (peaks: the highest)."""
    best = {}
    for path in in_paths:
        with open(path) as f:
            for row in csv.DictReader(f):
                key = (row["workload"], row["size"], row["threads"], row["impl"])
                old = best.get(key)
                if row["workload"] == "peak":
                    better = old is None or float(row["gflops"] or 0) > float(
                        old["gflops"] or 0)
                else:
                    better = old is None or (row["min_s"] and (
                        not old["min_s"] or
                        float(row["min_s"]) < float(old["min_s"])))
                if better:
                    best[key] = row
    with open(out_path, "w", newline="") as f:
        w = csv.DictWriter(f, SWEEP_FIELDS)
        w.writeheader()
        for row in best.values():
            w.writerow({k: row.get(k, "") for k in SWEEP_FIELDS})


def plot(csv_path, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    data, peaks = {}, {}
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            if row["workload"] == "peak":
                peaks[int(row["threads"])] = float(row["gflops"])
                continue
            if not row["gflops"] or row["check"] != "ok":
                continue
            key = (row["workload"], int(row["threads"]))
            data.setdefault(key, {}).setdefault(row["impl"], []).append(
                (int(row["size"]), float(row["gflops"])))
    workloads = [w for w in SWEEP if any(k[0] == w for k in data)]
    threads = sorted({k[1] for k in data})
    if not workloads:
        sys.exit("plot: no sweep points in " + csv_path)
    fig, axes = plt.subplots(len(threads), len(workloads), squeeze=False,
                             figsize=(4.6 * len(workloads), 3.8 * len(threads)))
    styles = {"einjit": dict(color="black", lw=2.2, zorder=5)}
    colors = dict(zip(PEERS, ["tab:blue", "tab:cyan", "tab:red", "tab:orange",
                              "tab:green", "tab:purple"]))
    for i, t in enumerate(threads):
        for j, wl in enumerate(workloads):
            ax = axes[i][j]
            for impl, pts in sorted(data.get((wl, t), {}).items(),
                                    key=lambda kv: kv[0] != "einjit"):
                pts.sort()
                style = dict(marker=".", ms=3, lw=1, color=colors.get(impl))
                style.update(styles.get(impl, {}))
                ax.plot([p[0] for p in pts], [p[1] for p in pts],
                        label=PEER_LABEL.get(impl, impl), **style)
            if t in peaks:
                ax.axhline(peaks[t], color="gray", ls="--", lw=0.8)
                ax.text(0.01, peaks[t], "FMA peak", va="bottom", fontsize=7,
                        color="gray", transform=ax.get_yaxis_transform())
            ax.set_xscale("log", base=2)
            ax.set_title(f"{wl} ({SWEEP_NOTE[wl]}), {t} thread{'s' * (t > 1)}",
                         fontsize=9)
            ax.set_xlabel("n")
            ax.set_ylabel("GFLOP/s")
            ax.grid(alpha=0.3)
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    print(f"plot: {png_path}")


# -------------------------------------------------------------------- main --

def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("einsum_run", nargs="?")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--python", help="the peers' python (default: the venv "
                    "of bench/setup-peers.sh, $EINJIT_PEERS_VENV)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="time einjit and every peer in N separate processes "
                    "each (interleaved); report the best min and the spread")
    ap.add_argument("--max-case-seconds", type=float, default=5.0,
                    help="stop timing a peer's case after this long (>= 3 calls)")
    ap.add_argument("--quiet-wait", type=float, default=600,
                    help="seconds to wait for a quiet machine before a phase")
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--markdown", help="write the summary table here")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--sweep-workloads", default=",".join(SWEEP))
    ap.add_argument("--sweep-sizes", type=int, help="use N of the sizes")
    ap.add_argument("--sizes", help="explicit sweep sizes, comma-separated")
    ap.add_argument("--sweep-runs", type=int, default=10)
    ap.add_argument("--sweep-group", type=int, default=8,
                    help="sizes timed by every implementation in turn before "
                         "the next group (0: each implementation's sizes in "
                         "one block)")
    ap.add_argument("--sweep-max-seconds", type=float, default=7200)
    ap.add_argument("--sweep-csv", default=os.path.join(HERE, "results", "sweep.csv"))
    ap.add_argument("--sweep-png", help="default: the CSV's name with .png")
    ap.add_argument("--plot", nargs=2, metavar=("CSV", "PNG"),
                    help="only plot an existing sweep CSV")
    ap.add_argument("--merge-sweeps", nargs="+", metavar="CSV",
                    help="OUT IN IN...: each point's fastest pass (by min "
                         "time) of several sweeps, one impl at a time, so "
                         "that a slow phase of the machine during one "
                         "impl's pass does not decide its curve")
    ap.add_argument("--render-markdown", metavar="JSON",
                    help="only print the markdown table of a --json file")
    args = ap.parse_args()

    if args.plot:
        if importlib.util.find_spec("matplotlib") is None:  # the venv has it
            return subprocess.run([find_python(args), os.path.abspath(__file__),
                                   "--plot", *args.plot]).returncode
        plot(*args.plot)
        return 0
    if args.render_markdown:
        sys.stdout.write(render_markdown(args.render_markdown))
        return 0
    if args.merge_sweeps:
        if len(args.merge_sweeps) < 2:
            ap.error("--merge-sweeps needs OUT and at least one IN")
        merge_sweeps(args.merge_sweeps[0], args.merge_sweeps[1:])
        return 0
    if not args.einsum_run:
        ap.error("EINSUM_RUN is required")
    python = find_python(args)
    threads_list = [int(t) for t in args.threads.split(",")]
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            ap.error(f"unknown peer {p}; peers: {', '.join(PEERS)}")
    names = [] if args.sweep else args.cases.split(",")
    for set_name, cases in CASE_SETS.items():
        if set_name in names:
            at = names.index(set_name)
            names[at:at + 1] = list(cases)
    for n in names:
        if n not in ALL_CASES:
            sets = "; ".join(f"{k}: all of {', '.join(v)}"
                             for k, v in CASE_SETS.items())
            ap.error(f"unknown case {n}; cases: {', '.join(ALL_CASES)} "
                     f"({sets})")
    for w in args.sweep_workloads.split(",") if args.sweep else []:
        if w not in SWEEP:
            ap.error(f"unknown sweep workload {w}; workloads: {', '.join(SWEEP)}")

    def log(s):
        print(s, flush=True)
    log(f"CPU: {cpu_name()}, {os.cpu_count()} CPUs (this process may use "
        f"{sorted(os.sched_getaffinity(0))}); {datetime.datetime.now():%Y-%m-%d %H:%M}")
    log(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"peers' python: {python}")
    log(f"einsum-run: {binary_info(args.einsum_run)}")
    # Some machines set these; they put numpy's OpenBLAS on slower kernels.
    env_blas = {k: os.environ.pop(k) for k in ("OPENBLAS_CORETYPE",
                                               "OPENBLAS_L2_SIZE") if k in os.environ}
    log(f"OPENBLAS_CORETYPE/L2_SIZE: {env_blas or 'not set'}; unset for this "
        f"run (each peer prints the BLAS kernel it loads)")

    tmp = tempfile.mkdtemp(prefix="einsum-peers-")
    try:
        exe = build_fma_peak(tmp)
        ceilings = measure_ceilings(exe, threads_list, args, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for t, c in sorted(ceilings.items()):
        log(f"fp32 FMA peak, {t} pinned thread(s): {c['fma_gflops']:.1f} GFLOP/s "
            f"(512-bit {c['fma512']}, 256-bit {c['fma256']}); memcpy {c['copy_gbs']:.1f} "
            f"GB/s (1 GiB arrays, read + write){'  (noisy)' if c['noisy'] else ''}")

    if args.sweep:
        run_sweep(args, python, ceilings, log)
        png = args.sweep_png or os.path.splitext(args.sweep_csv)[0] + ".png"
        subprocess.run([python, os.path.abspath(__file__), "--plot",
                        args.sweep_csv, png], check=False)
        return 0

    cases = [dict(ALL_CASES[n], name=n) for n in names]
    results, noisy, infos = {}, {}, {}
    for t in threads_list:
        reps = {"einjit": []}
        for rep in range(args.repeat):
            tag = f"{t} thread(s)" + (f", pass {rep + 1}/{args.repeat}"
                                      if args.repeat > 1 else "")
            quiet = wait_quiet(f"einjit, {tag}", args.quiet_wait, log)
            ph = Phase()
            reps["einjit"].append({c["name"]: run_einjit(
                args.einsum_run, c["eq"], c["shapes"], args.runs, t)
                for c in cases})
            n = ph.end()
            noisy[(t, "einjit")] = noisy.get((t, "einjit")) or n["noisy"] or not quiet
            log(f"  einjit, {tag}: done (other processes "
                f"{n['other_cores']:.2f} cores, steal {n['steal']:.1%})")
            for p in peers:
                quiet = wait_quiet(f"{p}, {tag}", args.quiet_wait, log)
                ph = Phase()
                got = {}
                proc = start_peer(python, p, t, args.runs, args.max_case_seconds,
                                  cases)
                for msg in read_peer(proc):
                    if "info" in msg and (t, p) not in infos:
                        infos[(t, p)] = msg["info"]
                        log(f"  {p} ({t}t): {describe_peer(msg['info'])}")
                    elif "case" in msg:
                        got[msg.pop("case")] = msg
                    elif "fatal" in msg:
                        log(f"  {p}, {tag}: FAILED: {msg['fatal']}")
                reps.setdefault(p, []).append(got)
                n = ph.end()
                noisy[(t, p)] = noisy.get((t, p)) or n["noisy"] or not quiet
                errs = {k: v["error"] for k, v in got.items() if "error" in v}
                log(f"  {p}, {tag}: {len(got)} cases (other processes "
                    f"{n['other_cores']:.2f} cores, steal {n['steal']:.1%})"
                    + (f"; errors: {errs}" if errs else ""))
        results[t] = {impl: merge_passes(passes) for impl, passes in reps.items()}

    log("\nworkloads:")
    for c in cases:
        e = results[threads_list[0]]["einjit"].get(c["name"], {})
        log(f"  {c['name']:17} {c['eq']:18} {' '.join(map(spec, c['shapes']))} "
            f"{c['note']}  [einjit path {e.get('path', '?')}, "
            f"{e.get('flops', 0):.3g} flops, compile "
            f"{e.get('compile', 0) * 1e3:.0f} ms]")

    rows, gm = summarize(results, ceilings, threads_list, names, peers)
    print_tables(rows, gm, ceilings, threads_list, peers, noisy, log)
    all_best = [r["ratio"] for r in rows if "ratio" in r]
    log(f"\ngeometric mean over both thread counts vs best peer: "
        f"{geomean(all_best):.2f} ({len(all_best)} ratios)")
    log("ratio = best peer time / einjit time (>1: einjit faster); % = share "
        "of the FMA peak (GEMM-class) or of memcpy bandwidth (data movement, "
        "operands + result bytes) at that thread count; ~ = noisy phase")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(rows, gm, threads_list,
                             {f"{p}@{t}": v for (t, p), v in noisy.items()}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu_name(), "ceilings": {str(k): v for k, v in ceilings.items()},
                       "rows": rows, "geomean": {str(k): v for k, v in gm.items()},
                       "peers": {f"{p}@{t}": i for (t, p), i in infos.items()},
                       "noisy": {f"{p}@{t}": v for (t, p), v in noisy.items()}},
                      f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
