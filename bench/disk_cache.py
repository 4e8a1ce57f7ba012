#!/usr/bin/env python3
"""First-call cost with and without the persistent kernel cache.

For each workload, runs `einsum-run --cache-dir=DIR --stats --bench 1` in
new processes: cold (an empty DIR: the kernel is compiled and written) and
disk-warm (the same DIR: the kernel is read, checked and linked). Prints the
in-process compile or load time from --stats and each process's wall time,
the median of --reps runs, and their ratio.

  bench/.venv/bin/python bench/disk_cache.py [--einsum-run build/bin/einsum-run]
"""
import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import time

WORKLOADS = [
    ("matmul 1009^3", "ij,jk->ik", ["f32:1009x1009", "f32:1009x1009"]),
    ("attention scores b4 h12 s129 d64", "bhqd,bhkd->bhqk",
     ["f32:4x12x129x64", "f32:4x12x129x64"]),
    ("EinsumDense btd,dhk->bthk", "btd,dhk->bthk",
     ["f32:8x37x768", "f32:768x12x64"]),
    ("chain ij,jk,kl,lm->im", "ij,jk,kl,lm->im",
     ["f32:257x64", "f32:64x257", "f32:257x64", "f32:64x257"]),
    ("transpose ijk->kji", "ijk->kji", ["f32:127x129x131"]),
]


def once(binary, cache, eq, ops):
    start = time.perf_counter()
    out = subprocess.run([binary, f"--cache-dir={cache}", "--stats",
                          "--bench", "1", eq, *ops],
                         check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    compiled = float(re.search(r"([0-9.]+) ms compiling", out).group(1))
    loaded = float(re.search(r"([0-9.]+) ms loading", out).group(1))
    return wall * 1e3, compiled + loaded


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--einsum-run", default="build/bin/einsum-run")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    print("| workload | cold: compile ms | disk-warm: load ms | ratio "
          "| cold process ms | warm process ms |")
    print("|---|---|---|---|---|---|")
    for name, eq, ops in WORKLOADS:
        cold, warm = [], []
        for _ in range(args.reps):
            cache = tempfile.mkdtemp(prefix="einjit-bench-cache")
            try:
                cold.append(once(args.einsum_run, cache, eq, ops))
                warm.append(once(args.einsum_run, cache, eq, ops))
            finally:
                shutil.rmtree(cache)
        med = lambda runs, i: statistics.median(r[i] for r in runs)  # noqa
        print(f"| {name} | {med(cold, 1):.1f} | {med(warm, 1):.2f} | "
              f"{med(cold, 1) / med(warm, 1):.0f}x | {med(cold, 0):.0f} | "
              f"{med(warm, 0):.0f} |")


if __name__ == "__main__":
    main()
