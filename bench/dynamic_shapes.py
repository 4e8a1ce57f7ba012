#!/usr/bin/env python3
"""Shape-polymorphic einsums against static ones, in the same run.

For each workload of the CPU kernel issue (bench/einsum_peers.py's CASES,
plus sizes whose dynamic dim is not a power of two), einsum-run times whole
einsum calls (`--bench=N --bench-calls`: dispatch and the result's
allocation included) on the kernel compiled for the exact shapes, and the
same calls with the leading labels declared dynamic (`--dynamic=LABELS`),
which run as pieces of power-of-two sizes. Both run in turn, REPS times,
so a slow phase of the VM hits both; the best of each is kept.

    python3 bench/dynamic_shapes.py build/bin/einsum-run --threads 1,2 \\
        --markdown bench/results/dynamic-zen4.md

Prints per case: the static and dynamic times, dynamic / static (the
issue's bound is 1.25), and the compile time of each (the dynamic one
compiles one kernel per piece size).
"""

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from einsum_peers import CASES  # noqa: E402

# The label made dynamic in each workload: the batch, or the rows.
DYNAMIC = {
    "matmul_1024": "i", "attn_scores": "b", "attn_wsum": "b",
    "einsum_dense": "b", "abcd_cdef": "a", "chain4": "i", "mode_n": "i",
    "batch_matmul": "b", "bilinear": "b", "reduce_ijk_j": "i",
    "quad_form": "i", "outer": "i", "matvec": "i", "matmul_999": "i",
    "matmul_1009": "i", "attn_scores_129": "b", "batch_matmul_100": "b",
}
# Dynamic sizes that are not powers of two: several pieces each.
EXTRA = {
    "attn_scores_b6": ("bhqd,bhkd->bhqk", [[6, 12, 512, 64]] * 2, "b"),
    "einsum_dense_b6": ("btd,dhk->bthk", [[6, 512, 768], [768, 12, 64]], "b"),
    "einsum_dense_t999": ("btd,dhk->bthk", [[1, 999, 768], [768, 12, 64]],
                          "bt"),
    "batch_matmul_b23": ("bij,bjk->bik", [[23, 100, 100]] * 2, "b"),
    "mode_n_255": ("ijk,lj->ilk", [[255, 256, 256], [128, 256]], "i"),
}


def spec(shape):
    return "f32:" + "x".join(map(str, shape))


def run(binary, eq, shapes, extra, threads, runs):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(
        [binary, eq, *map(spec, shapes), f"--bench={runs}", *extra],
        env=env, capture_output=True, text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, range(threads)))
    if proc.returncode:
        return {"error": (proc.stderr or proc.stdout).strip()[:200]}
    out = proc.stdout
    compile_ms, kernels = re.search(
        r"compile: ([\d.]+) ms \((\d+) kernels\)", out).groups()
    return {"min": float(re.search(r"min ([\d.]+) ms", out).group(1)),
            "compile": float(compile_ms), "kernels": int(kernels)}


def best(old, new):
    if old is None or "error" in old:
        return new
    if "error" in new:
        return old
    return {"min": min(old["min"], new["min"]),
            "compile": min(old["compile"], new["compile"]),
            "kernels": new["kernels"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("einsum_run")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--cases", default=",".join(list(DYNAMIC) + list(EXTRA)))
    ap.add_argument("--markdown", help="also write the table to FILE")
    args = ap.parse_args()
    cases = {}
    for name in args.cases.split(","):
        if name in DYNAMIC:
            cases[name] = (CASES[name]["eq"], CASES[name]["shapes"],
                           DYNAMIC[name])
        elif name in EXTRA:
            cases[name] = EXTRA[name]
        else:
            ap.error(f"unknown case {name}")
    lines = ["| case | equation | shapes | dynamic | threads | static ms | "
             "dynamic ms | dynamic / static | compile ms static | "
             "compile ms dynamic (kernels) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ratios = {}
    for threads in map(int, args.threads.split(",")):
        results = {}
        for _ in range(args.reps):
            for name, (eq, shapes, labels) in cases.items():
                for mode, extra in (("static", ["--bench-calls"]),
                                    ("dynamic", [f"--dynamic={labels}"])):
                    r = run(args.einsum_run, eq, shapes, extra, threads,
                            args.runs)
                    results[name, mode] = best(results.get((name, mode)), r)
        for name, (eq, shapes, labels) in cases.items():
            s, d = results[name, "static"], results[name, "dynamic"]
            shape_text = " ".join("x".join(map(str, sh)) for sh in shapes)
            if "error" in s or "error" in d:
                err = s.get("error") or d.get("error")
                lines.append(f"| {name} | `{eq}` | {shape_text} | {labels} | "
                             f"{threads} | error: {err} | | | | |")
                continue
            ratio = d["min"] / s["min"]
            ratios.setdefault(threads, []).append(ratio)
            lines.append(
                f"| {name} | `{eq}` | {shape_text} | {labels} | {threads} | "
                f"{s['min']:.3f} | {d['min']:.3f} | {ratio:.2f} | "
                f"{s['compile']:.1f} | {d['compile']:.1f} ({d['kernels']}) |")
    for threads, rs in ratios.items():
        geo = 1.0
        for r in rs:
            geo *= r
        geo **= 1 / len(rs)
        lines.append("")
        lines.append(f"{threads} thread(s): dynamic / static geometric mean "
                     f"{geo:.3f}, worst {max(rs):.2f}, "
                     f"{sum(r <= 1.25 for r in rs)} of {len(rs)} within 1.25")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
