#!/usr/bin/env python3
"""einjit's eager ops beside numpy and torch, in the same run.

The operand is an f32 tensor, by default 4 x 12 x 129 x 129 (attention
scores at b4 h12 s129; --shape), and a bias the size of its last dim; sum,
max and softmax run along --axis (default -1). einjit's times come from build/bin/einsum-eager-ops
(fastest of 9 calls after the compiling one); the peers are timed here the
same way. Threads: OMP_NUM_THREADS for einjit and torch (default 2 on this
machine's 2 vCPUs); numpy's ufuncs are single-threaded.

  cmake --build build --target einsum-eager-ops
  bench/.venv/bin/python bench/eager_ops.py [--shape 2048x768] [--axis 0]
      [--binary build/bin/einsum-eager-ops]
"""
import argparse
import os
import subprocess
import time

os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))

import numpy as np  # noqa: E402
from math import erf, sqrt  # noqa: E402,F401


def best_ms(call, reps=10):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/bin/einsum-eager-ops")
    parser.add_argument("--shape", default="4x12x129x129",
                        help="the operand's shape, as 2048x768")
    parser.add_argument("--axis", type=int, default=-1,
                        help="the axis of sum, max and softmax")
    args = parser.parse_args()
    out = subprocess.run([args.binary, args.shape, str(args.axis)],
                         check=True, capture_output=True, text=True).stdout
    mine = {line.split()[0].split(".", 1)[1]: float(line.split()[1])
            for line in out.splitlines()}

    shape = [int(d) for d in args.shape.split("x")]
    axis = args.axis
    e = np.arange(int(np.prod(shape)), dtype=np.float64)
    x = (np.sin(e * 0.37) * 4).astype(np.float32).reshape(shape)
    bias = (np.arange(shape[-1]) * 0.01).astype(np.float32)

    def np_softmax(a):
        d = a - a.max(axis=axis, keepdims=True)
        p = np.exp(d)
        return p / p.sum(axis=axis, keepdims=True)

    def np_log_softmax(a):
        d = a - a.max(axis=axis, keepdims=True)
        return d - np.log(np.exp(d).sum(axis=axis, keepdims=True))

    peers = {"numpy": {
        "add_bias": lambda: x + bias,
        "exp": lambda: np.exp(x),
        "sum": lambda: x.sum(axis=axis),
        "max": lambda: x.max(axis=axis),
        "softmax": lambda: np_softmax(x),
        "log_softmax": lambda: np_log_softmax(x),
    }}
    try:
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        tx, tb = torch.from_numpy(x), torch.from_numpy(bias)
        peers["torch"] = {
            "add_bias": lambda: tx + tb,
            "exp": lambda: torch.exp(tx),
            "gelu": lambda: torch.nn.functional.gelu(tx),
            "sum": lambda: tx.sum(dim=axis),
            "max": lambda: tx.amax(dim=axis),
            "softmax": lambda: torch.softmax(tx, dim=axis),
            "log_softmax": lambda: torch.log_softmax(tx, dim=axis),
        }
    except ImportError:
        print("(torch not installed: bench/setup-peers.sh)")

    print(f"shape {args.shape}, axis {axis}")
    names = list(peers)
    print("| op | einjit ms | " + " | ".join(f"{n} ms" for n in names)
          + " | best peer / einjit |")
    print("|---" * (len(names) + 3) + "|")
    for op, ms in mine.items():
        times = {n: best_ms(peers[n][op]) for n in names if op in peers[n]}
        cells = " | ".join(f"{times[n]:.3f}" if n in times else "—"
                           for n in names)
        best = min(times.values()) if times else float("nan")
        print(f"| {op} | {ms:.3f} | {cells} | {best / ms:.2f} |")


if __name__ == "__main__":
    main()
