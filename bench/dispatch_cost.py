#!/usr/bin/env python3
"""The cost of one repeated 4x4 `ij,jk->ik` call: einjit's C++ API beside
numpy and torch, in the same run (issue 9's dispatch target: a cache hit at
or under 0.5 us).

einjit's figures come from build/bin/einsum-dispatch-cost (a cache hit
through einjit::einsum, which allocates the result; and CompiledEinsum::run
into a preallocated output). The peers are timed here with timeit, fastest
of 7 repetitions, like the C++ side. Everything runs on one thread.

  cmake --build build --target einsum-dispatch-cost
  bench/.venv/bin/python bench/dispatch_cost.py [--binary build/bin/einsum-dispatch-cost]
"""
import argparse
import os
import subprocess
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")
for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(var, None)

import numpy as np  # noqa: E402


def best_ns(stmt, number):
    return min(timeit.repeat(stmt, number=number, repeat=7)) / number * 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/bin/einsum-dispatch-cost")
    parser.add_argument("--calls", type=int, default=200000)
    args = parser.parse_args()

    out = subprocess.run([args.binary, str(args.calls)], check=True,
                         capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        name, ns = line.split()
        rows[name] = float(ns)

    a = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32)
    c = np.random.default_rng(2).standard_normal((4, 4)).astype(np.float32)
    n = args.calls // 4
    rows["numpy.einsum"] = best_ns(lambda: np.einsum("ij,jk->ik", a, b), n)
    rows["numpy.einsum3"] = best_ns(
        lambda: np.einsum("ij,jk,kl->il", a, b, c), n)
    rows["numpy.matmul"] = best_ns(lambda: np.matmul(a, b), n)
    try:
        import torch
        torch.set_num_threads(1)
        ta, tb, tc = (torch.from_numpy(x) for x in (a, b, c))
        rows["torch.einsum"] = best_ns(
            lambda: torch.einsum("ij,jk->ik", ta, tb), n)
        rows["torch.einsum3"] = best_ns(
            lambda: torch.einsum("ij,jk,kl->il", ta, tb, tc), n)
        rows["torch.matmul"] = best_ns(lambda: torch.matmul(ta, tb), n)
    except ImportError:
        print("(torch not installed: bench/setup-peers.sh)")

    mine = rows["einjit.einsum"]
    print(f"{'call':<16} {'ns/call':>9} {'time / einjit.einsum':>21}")
    for name, ns in rows.items():
        ratio = ns / mine
        print(f"{name:<16} {ns:9.1f} {ratio:20.2f}x")


if __name__ == "__main__":
    main()
