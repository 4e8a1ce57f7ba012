#!/usr/bin/env python3
"""Two (or more) einsum-run builds on the same cases, interleaved.

Each case runs in every build in turn, REPS times over, so that a slow phase
of the machine (these VMs have them) hits every build alike; the best run
of each build is reported: cold compile ms, steady-state min ms, GFLOP/s,
and each build's time relative to the first.

    python3 bench/compare_builds.py --reps 3 \\
        before=/tmp/base/build/bin/einsum-run after=build/bin/einsum-run \\
        -- 'ij,jk->ik f32:999x999 f32:999x999' 'ijk->kji f32:256x256x256'

Threads: OMP_NUM_THREADS from --threads (default 1), pinned to the first N
CPUs. A build that fails a case prints its error instead.
"""

import argparse
import os
import re
import subprocess
import sys


def run(binary, case, threads, runs):
    eq, *operands = case.split()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(
        [binary, eq, *operands, f"--bench={runs}"], env=env,
        capture_output=True, text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, range(threads)))
    if proc.returncode:
        return {"error": (proc.stderr or proc.stdout).strip()[:200]}
    out = proc.stdout

    def grab(pattern):
        return float(re.search(pattern, out).group(1))
    return {"compile": grab(r"compile: ([\d.]+) ms"),
            "min": grab(r"min ([\d.]+) ms"),
            "gflops": grab(r"GFLOP/s: ([\d.]+)")}


def main():
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    argv, cases = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("builds", nargs="+", help="NAME=EINSUM_RUN")
    args = parser.parse_args(argv)
    if not cases:
        parser.error("no cases: give them after --")
    builds = [b.split("=", 1) for b in args.builds]
    best = {}
    for _ in range(args.reps):
        for case in cases:
            for name, binary in builds:
                r = run(binary, case, args.threads, args.runs)
                old = best.setdefault((case, name), r)
                if "error" in r or "error" in old:
                    best[(case, name)] = r if "error" in old else old
                    continue
                best[(case, name)] = {
                    "compile": min(old["compile"], r["compile"]),
                    "min": min(old["min"], r["min"]),
                    "gflops": max(old["gflops"], r["gflops"])}
    for case in cases:
        print(case)
        first = best[(case, builds[0][0])]
        for name, _ in builds:
            r = best[(case, name)]
            if "error" in r:
                print(f"  {name:10s} error: {r['error']}")
                continue
            rel = (f"  x{first['min'] / r['min']:.2f}"
                   if "min" in first and r["min"] > 0 else "")
            print(f"  {name:10s} compile {r['compile']:7.1f} ms  "
                  f"run {r['min']:9.3f} ms  {r['gflops']:7.1f} GFLOP/s{rel}")


if __name__ == "__main__":
    main()
