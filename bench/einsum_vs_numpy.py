#!/usr/bin/env python3
"""einsum-run --bench beside numpy on the same machine, in the same run.

For each case, einsum-run reports its compile time, first call and
steady-state min/median per call; numpy is timed on the same shapes and
dtype with the same number of calls: the matmul-shaped ones with `@`
(OpenBLAS, from numpy's pip wheel) and all with `numpy.einsum` (default,
and optimize=True). numpy runs once on one thread and once on every core
(OPENBLAS_NUM_THREADS), and so is einjit (OMP_NUM_THREADS: kernels of 2^21
loop iterations or more use OpenMP threads). Ratios compare like with like.
numpy.einsum returns a view for a pure transpose, so that row compares a
copy with no copy at all.

With --baseline OTHER_EINSUM_RUN (an older build, say), that binary is
timed too, right after einjit, and its ratio printed like a peer's.

usage: einsum_vs_numpy.py EINSUM_RUN [--runs N] [--cases matmul512,...]
                          [--baseline OTHER_EINSUM_RUN]
"""
import argparse
import json
import os
import re
import subprocess
import sys

CASES = {
    # name: (equation, operand specs, numpy matmul expression or None)
    "matmul512": ("ij,jk->ik", ["f32:512x512", "f32:512x512"], "a @ b"),
    "matmul1024": ("ij,jk->ik", ["f32:1024x1024", "f32:1024x1024"], "a @ b"),
    "matmul512_f64": ("ij,jk->ik", ["f64:512x512", "f64:512x512"], "a @ b"),
    "batch_matmul": ("bij,bjk->bik", ["f32:16x128x64", "f32:16x64x128"], "a @ b"),
    "attention_scores": ("bhqd,bhkd->bhqk", ["f32:2x8x128x64", "f32:2x8x128x64"],
                         "a @ b.swapaxes(-1, -2)"),
    "matvec": ("ij,j->i", ["f32:2048x2048", "f32:2048"], "a @ b"),
    "transpose": ("ij->ji", ["f32:1024x1024"], None),
    "row_sum": ("ij->i", ["f32:2048x2048"], None),
    # Long reductions (einsum-split-reductions; docs/reliability.md), with
    # numpy's own reductions beside its einsum.
    "sum_1e7": ("i->", ["f32:10000000"], "a.sum()"),
    "sum_1e7_f64": ("i->", ["f64:10000000"], "a.sum()"),
    "dot_1e7": ("i,i->", ["f32:10000000", "f32:10000000"], "a @ b"),
    "row_sum_long": ("ij->i", ["f32:100x100003"], "a.sum(1)"),
    "col_sum": ("ij->j", ["f32:4000x4000"], "a.sum(0)"),
    "col_sum_long": ("ij->j", ["f32:100003x100"], "a.sum(0)"),
}

NUMPY_TIMER = r"""
import json, sys, time
import numpy as np
eq, specs, expr, runs = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
def make(spec):
    dtype, dims = spec.split(":")
    shape = tuple(int(d) for d in dims.split("x")) if dims else ()
    return rng.uniform(-1, 1, size=shape).astype({"f32": np.float32, "f64": np.float64}[dtype])
ops = [make(s) for s in specs]
a = ops[0]; b = ops[1] if len(ops) > 1 else None
def timeit(fn):
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2]
out = {"einsum": timeit(lambda: np.einsum(eq, *ops)),
       "einsum_opt": timeit(lambda: np.einsum(eq, *ops, optimize=True))}
if expr:
    out["matmul"] = timeit(lambda: eval(expr))
print(json.dumps(out))
"""


def thread_env(threads):
    env = dict(os.environ)
    if threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    return env


def run_einjit(einsum_run, eq, specs, runs, threads):
    proc = subprocess.run([einsum_run, eq, *specs, f"--bench={runs}"],
                          capture_output=True, text=True, check=True,
                          env=thread_env(threads))
    text = proc.stdout
    def grab(pattern):
        return float(re.search(pattern, text).group(1))
    return {
        "flops": grab(r"flops: ([0-9.e+]+)"),
        "compile": grab(r"compile: ([0-9.]+) ms") / 1e3,
        "first": grab(r"first call: ([0-9.]+) ms") / 1e3,
        "min": grab(r"min ([0-9.]+) ms") / 1e3,
        "median": grab(r"median ([0-9.]+) ms") / 1e3,
    }


def run_numpy(eq, specs, expr, runs, threads):
    proc = subprocess.run([sys.executable, "-c", NUMPY_TIMER,
                           json.dumps([eq, specs, expr, runs])],
                          capture_output=True, text=True, check=True,
                          env=thread_env(threads))
    return json.loads(proc.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("einsum_run")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--baseline", help="another einsum-run to time beside")
    args = ap.parse_args()

    import numpy
    print(f"numpy {numpy.__version__}, {os.cpu_count()} cores; steady-state "
          f"times are the min (and median) per call over {args.runs} calls; "
          f"ratio = peer time / einjit time (>1: einjit faster)")
    for name in args.cases.split(","):
        eq, specs, expr = CASES[name]
        print(f"\n{name}: einsum-run '{eq}' {' '.join(specs)}")
        for threads, label in ((1, "1 thread"), (0, "all cores")):
            e = run_einjit(args.einsum_run, eq, specs, args.runs, threads)
            gflops = e["flops"] / e["min"] * 1e-9 if e["flops"] else 0
            print(f"  {'einjit (' + label + ')':30} {e['min'] * 1e3:9.3f} ms "
                  f"(median {e['median'] * 1e3:.3f}, first call "
                  f"{e['first'] * 1e3:.3f}, compile {e['compile'] * 1e3:.1f}) "
                  f"{gflops:7.1f} GFLOP/s")
            n = run_numpy(eq, specs, expr, args.runs, threads)
            peers = []
            if args.baseline:
                b = run_einjit(args.baseline, eq, specs, args.runs, threads)
                peers.append((f"baseline einjit ({label})",
                              (b["min"], b["median"])))
            if "matmul" in n:
                peers.append((f"numpy {expr} ({label})", n["matmul"]))
            peers.append((f"np.einsum ({label})", n["einsum"]))
            peers.append((f"np.einsum optimize ({label})", n["einsum_opt"]))
            for label2, (tmin, tmed) in peers:
                print(f"  {label2:30} {tmin * 1e3:9.3f} ms "
                      f"(median {tmed * 1e3:.3f})  ratio {tmin / e['min']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
