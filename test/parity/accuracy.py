#!/usr/bin/env python3
"""Long reductions are at least as accurate as numpy's.

For each reduction, 10^7 products summed (or rows/columns of 10^5), on
uniform [0, 1) data in f32 and f64: the relative error of einsum-run's result
against an exact reference (math.fsum over the float64 products, which are
exact for f32 inputs and correctly rounded for f64) must be within 2x of
numpy.einsum's error on the same data, or within two units of roundoff of
the result type when numpy's error is smaller than that. Prints both errors
and their ratio for every case.

usage: accuracy.py EINSUM_RUN
"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

CASES = [
    ("sum", "i->", [(10**7,)]),
    ("dot", "i,i->", [(10**7,), (10**7,)]),
    ("row sums", "ij->i", [(100, 100003)]),
    ("column sums", "ij->j", [(100003, 100)]),
    ("matvec", "ij,j->i", [(64, 200003), (200003,)]),
    ("middle sums", "ijk->j", [(1000, 10, 1024)]),
    # 256 results: one register of partial sums each (reductionRegisters).
    ("middle sums 256", "ijk->j", [(400, 256, 256)]),
]


def exact(eq, arrays):
    """The exactly rounded result, one fsum per output element."""
    wide = [a.astype(np.float64) for a in arrays]
    if eq == "i->":
        return np.array([math.fsum(wide[0])])
    if eq == "i,i->":
        return np.array([math.fsum(wide[0] * wide[1])])
    if eq == "ij->i":
        return np.array([math.fsum(r) for r in wide[0]])
    if eq == "ij->j":
        return np.array([math.fsum(c) for c in wide[0].T])
    if eq == "ij,j->i":
        return np.array([math.fsum(r * wide[1]) for r in wide[0]])
    if eq == "ijk->j":
        return np.array([math.fsum(wide[0][:, j, :].ravel())
                         for j in range(wide[0].shape[1])])
    raise ValueError(eq)


def relative_error(got, ref):
    got = np.asarray(got, dtype=np.float64).ravel()
    return float(np.max(np.abs(got - ref) / np.abs(ref)))


def main():
    einsum_run = sys.argv[1]
    rng = np.random.default_rng(2026)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in (np.float32, np.float64):
            unit = float(np.finfo(dtype).eps) / 2
            for name, eq, shapes in CASES:
                arrays = [rng.random(s).astype(dtype) for s in shapes]
                paths = []
                for k, a in enumerate(arrays):
                    paths.append(os.path.join(tmp, f"op{k}.npy"))
                    np.save(paths[-1], a)
                out = os.path.join(tmp, "out.npy")
                proc = subprocess.run([einsum_run, eq, *paths, "-o", out],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"FAIL {name} {np.dtype(dtype).name}: "
                          f"{proc.stderr.strip()}")
                    failed += 1
                    continue
                ref = exact(eq, arrays)
                ours = relative_error(np.load(out), ref)
                theirs = relative_error(np.einsum(eq, *arrays), ref)
                bound = 2 * max(theirs, unit)
                ok = ours <= bound
                failed += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {np.dtype(dtype).name:8s} "
                      f"{name:12s} {eq:8s} einjit {ours:.2e}  numpy "
                      f"{theirs:.2e}  ratio {ours / max(theirs, 1e-300):.2f}")
    print(f"{len(CASES) * 2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
