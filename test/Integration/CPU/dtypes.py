#!/usr/bin/env python3
"""einjit's dtype promotion against numpy's, for every pair of dtypes.

For each pair (a, b) of numpy dtypes einjit takes, `einsum-run 'i,i->i'
a:3 b:3 --explain` names the result dtype, which must be
np.result_type(a, b); and for one operand, `i->` keeps the dtype (as
np.einsum does). numpy has no bf16, and no one rule for it: einjit takes
ml_dtypes' (bf16 with bool, i8 or u8 stays bf16, with f32 or f64 widens)
and torch's (bf16 with f16 is f32, which ml_dtypes refuses), and for ints
of 2 bytes or more numpy's reasoning for f16 (the smallest float holding
the int: f32 for i16/u16, f64 beyond), where torch keeps bf16 and loses
the int's low bits. The table below states that choice. Prints one line
per dtype, and exits non-zero on a mismatch.

usage: dtypes.py EINSUM_RUN
"""
import re
import subprocess
import sys

import numpy as np

NUMPY = {"bool": np.bool_, "i8": np.int8, "u8": np.uint8, "i16": np.int16,
         "u16": np.uint16, "i32": np.int32, "u32": np.uint32,
         "i64": np.int64, "u64": np.uint64, "f16": np.float16,
         "f32": np.float32, "f64": np.float64, "c64": np.complex64,
         "c128": np.complex128}
NAMES = {np.dtype(t): n for n, t in NUMPY.items()}
# bf16 with each dtype, as the docstring says.
BF16 = {"bool": "bf16", "i8": "bf16", "u8": "bf16", "i16": "f32",
        "u16": "f32", "i32": "f64", "u32": "f64", "i64": "f64",
        "u64": "f64", "f16": "f32", "f32": "f32", "f64": "f64",
        "bf16": "bf16", "c64": "c64", "c128": "c128"}


def result_of(einsum_run, eq, specs):
    out = subprocess.run([einsum_run, eq, *specs, "--explain"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return "error: " + out.stderr.strip()
    m = re.search(r"^result: (\w+)\[", out.stdout, re.M)
    return m.group(1) if m else "no result line"


def main():
    einsum_run = sys.argv[1]
    failures = 0
    names = list(NUMPY) + ["bf16"]
    for a in names:
        wrong = []
        for b in names:
            if a == "bf16" or b == "bf16":
                want = BF16[b if a == "bf16" else a]
            else:
                want = NAMES[np.result_type(NUMPY[a], NUMPY[b])]
            got = result_of(einsum_run, "i,i->i", [f"{a}:3", f"{b}:3"])
            if got != want:
                wrong.append(f"{a}+{b}: {got}, expected {want}")
        single = result_of(einsum_run, "i->", [f"{a}:3"])
        if single != a:
            wrong.append(f"{a} alone: {single}")
        failures += len(wrong)
        print(f"{a}: " + ("; ".join(wrong) if wrong else
                          f"{len(names)} pairs match"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
