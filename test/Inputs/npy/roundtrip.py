"""Round trips of .npy files between numpy and einjit.

Usage: roundtrip.py EINSUM_RUN WORKDIR EINJIT_V2_NPY

numpy writes each array (np.save, or np.lib.format.write_array for versions
2.0 and 3.0; every dtype einjit reads, both byte orders, C and Fortran
order, scalars, zero-size and rank-64 arrays); einsum-run reads it and
writes it back ('...->...' IN -o OUT). numpy must read OUT as an equal array
and OUT must be byte for byte what np.save writes for that array: einjit's
writer follows numpy's header layout exactly, version and padding included.
EINJIT_V2_NPY is a version 2.0 file as einjit's formatNpyHeader writes it
(NpyTest checks that); numpy and einsum-run must both read it. Ends with
'N round trips, 0 failed'.
"""

import io
import os
import subprocess
import sys

import numpy as np

EINSUM_RUN, WORKDIR, V2_FILE = sys.argv[1:4]
os.makedirs(WORKDIR, exist_ok=True)
rng = np.random.default_rng(7)

DTYPES = ["f2", "f4", "f8", "i4", "i8", "b1", "i1", "u1", "i2", "u2", "u4",
          "u8", "c8", "c16"]


def values(shape, code):
    if code == "b1":
        return rng.integers(0, 2, size=shape).astype(bool)
    if code[0] in "iu" and code[1] in "12":
        info = np.iinfo(code)
        return rng.integers(info.min, info.max, size=shape,
                            endpoint=True).astype(code)
    if code[0] == "u":
        return rng.integers(0, 2**32, size=shape).astype(code)
    if code[0] == "c":
        return (rng.integers(-2048, 2048, size=shape) / 8 +
                1j * rng.integers(-2048, 2048, size=shape) / 8).astype(code)
    if code[0] == "f":
        # Exactly representable in every float type.
        return rng.integers(-2048, 2048, size=shape).astype(code) / 8
    return rng.integers(-2**31, 2**31, size=shape).astype(code)


def saved(array, version=None):
    out = io.BytesIO()
    if version is None:
        np.save(out, array)
    else:
        np.lib.format.write_array(out, array, version=version)
    return out.getvalue()


CASES = []
for code in DTYPES:
    for order in "<>":
        for fortran in [False, True]:
            a = values((2, 3, 4), code).astype(order + code)
            if fortran:
                a = np.array(a, order="F")
            CASES.append(("%s%s %s" % (order, code, "F" if fortran else "C"),
                          saved(a), a))
for shape in [(), (0,), (7,), (3, 0, 2), (1, 4, 1), (1, 1, 5)]:
    a = values(shape, "f4")
    CASES.append(("shape %s" % (shape,), saved(a), a))
    CASES.append(("shape %s F" % (shape,), saved(np.array(a, order="F")), a))
for version in [(1, 0), (2, 0), (3, 0)]:
    for code in ["f8", "i4"]:
        a = np.array(values((3, 5), code).astype(">" + code), order="F")
        CASES.append(("version %s %s" % (version, code), saved(a, version),
                      a))
# Ranks 0 to 64 of ones: headers of every length modulo 64, so every amount
# of padding numpy adds (1 to 64 bytes) is written once.
for rank in range(65):
    a = values((1,) * rank, "i4")
    CASES.append(("rank %d" % rank, saved(a), a))
with open(V2_FILE, "rb") as f:
    v2 = f.read()
assert v2[6:8] == b"\x02\x00", "not a version 2.0 file"
CASES.append(("einjit's version 2.0 file", v2,
              np.arange(6, dtype=np.float32).reshape(2, 3)))

failed = 0
for i, (label, data, want) in enumerate(CASES):
    path = os.path.join(WORKDIR, "in%03d.npy" % i)
    out = os.path.join(WORKDIR, "out%03d.npy" % i)
    with open(path, "wb") as f:
        f.write(data)
    problems = []
    a = np.load(path)
    if a.shape != want.shape or not np.array_equal(a, want):
        problems.append("numpy reads %s%s, want %s%s" %
                        (a.dtype, a.shape, want.dtype, want.shape))
    run = subprocess.run([EINSUM_RUN, "...->...", path, "-o", out],
                         capture_output=True, timeout=60)
    if run.returncode != 0:
        problems.append("einsum-run failed: %s" %
                        run.stderr.decode("latin-1").strip())
    else:
        b = np.load(out)
        native = a.dtype.newbyteorder("=")
        if b.dtype != native or b.shape != a.shape or not np.array_equal(a, b):
            problems.append("einjit wrote %s%s, numpy read %s%s" %
                            (b.dtype, b.shape, a.dtype, a.shape))
        with open(out, "rb") as f:
            written = f.read()
        expected = saved(a.astype(native, order="C"))
        if written != expected:
            problems.append("einjit's file differs from np.save's: %r vs %r" %
                            (written[:128], expected[:128]))
    if problems:
        failed += 1
        for p in problems:
            print("FAIL %s: %s" % (label, p))
print("%d round trips, %d failed" % (len(CASES), failed))
