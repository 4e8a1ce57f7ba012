#!/usr/bin/env python3
"""einjit's eager ops beside numpy and torch, in the same run.

The operand is a 4 x 12 x 129 x 129 f32 tensor (attention scores at b4 h12
s129) and a (129,) bias. einjit's times come from build/bin/einsum-eager-ops
(fastest of 9 calls after the compiling one); the peers are timed here the
same way. Threads: OMP_NUM_THREADS for einjit and torch (default 2 on this
machine's 2 vCPUs); numpy's ufuncs are single-threaded.

  cmake --build build --target einsum-eager-ops
  bench/.venv/bin/python bench/eager_ops.py [--binary build/bin/einsum-eager-ops]
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
    args = parser.parse_args()
    out = subprocess.run([args.binary], check=True, capture_output=True,
                         text=True).stdout
    mine = {line.split()[0].split(".", 1)[1]: float(line.split()[1])
            for line in out.splitlines()}

    e = np.arange(4 * 12 * 129 * 129, dtype=np.float64)
    x = (np.sin(e * 0.37) * 4).astype(np.float32).reshape(4, 12, 129, 129)
    bias = (np.arange(129) * 0.01).astype(np.float32)

    def np_softmax(a):
        d = a - a.max(axis=-1, keepdims=True)
        p = np.exp(d)
        return p / p.sum(axis=-1, keepdims=True)

    peers = {"numpy": {
        "add_bias": lambda: x + bias,
        "exp": lambda: np.exp(x),
        "sum_last": lambda: x.sum(axis=-1),
        "max_last": lambda: x.max(axis=-1),
        "softmax": lambda: np_softmax(x),
    }}
    try:
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        tx, tb = torch.from_numpy(x), torch.from_numpy(bias)
        peers["torch"] = {
            "add_bias": lambda: tx + tb,
            "exp": lambda: torch.exp(tx),
            "gelu": lambda: torch.nn.functional.gelu(tx),
            "sum_last": lambda: tx.sum(dim=-1),
            "max_last": lambda: tx.amax(dim=-1),
            "softmax": lambda: torch.softmax(tx, dim=-1),
        }
    except ImportError:
        print("(torch not installed: bench/setup-peers.sh)")

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
