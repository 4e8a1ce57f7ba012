#!/usr/bin/env python3
"""Parity of einsum-run with numpy.einsum.

Runs the lab's canonical operations, a set of random valid equations
(1-4 operands, repeated labels, ellipses with broadcasting, implicit mode,
f32 and f64, plus f16/i32/i64, bool, i8/u8/i16/u16/u32/u64, complex64,
complex128 and mixed dtypes), shape-polymorphic runs (--dynamic), and a
sixth as many random
two-operand contractions with loop ranges up to 96 (so every tiling
strategy runs) through einsum-run and
compares each result with numpy.einsum computed in float64 (integers:
exactly), using allclose with rtol 1e-5 for f32 and 1e-12 for f64; the
absolute tolerance is the same factor times einsum of the operands'
magnitudes (the standard bound for a sum's rounding error), so sums that
cancel to near zero are judged against what they added up.

usage: parity.py EINSUM_RUN [--count N] [--seed S] [--jobs J]
Prints 'N passed, N failed' last; exits non-zero on any failure.
"""
import argparse
import os
import random
import string
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np  # a missing numpy is a failure, never a skip

CANONICAL = [
    ("transpose", "ij->ji", [(3, 4)]),
    ("total sum", "ij->", [(3, 4)]),
    ("column sum", "ij->j", [(3, 4)]),
    ("row sum", "ij->i", [(3, 4)]),
    ("matrix-vector", "ik,k->i", [(3, 4), (4,)]),
    ("matrix-matrix", "ik,kj->ij", [(3, 4), (4, 5)]),
    ("dot", "i,i->", [(7,), (7,)]),
    ("outer", "i,j->ij", [(3,), (5,)]),
    ("hadamard", "ij,ij->ij", [(3, 4), (3, 4)]),
    ("batch matmul", "bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("trace", "ii->", [(4, 4)]),
    ("diagonal", "ii->i", [(4, 4)]),
    ("bilinear form", "i,ij,j->", [(3,), (3, 4), (4,)]),
    ("4-d contraction", "pqrs,tuqvr->pstuv", [(2, 3, 4, 5), (2, 3, 3, 4, 4)]),
    ("attention scores", "bhqd,bhkd->bhqk", [(2, 3, 5, 8), (2, 3, 6, 8)]),
    ("implicit matmul", "ij,jk", [(3, 4), (4, 5)]),
    ("implicit trace", "ii", [(5, 5)]),
    ("ellipsis batch", "...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("scalar", "->", [()]),
    ("scalar times", ",i->i", [(), (4,)]),
    ("triple diagonal", "iii->i", [(3, 3, 3)]),
    ("diagonal sum", "iij->j", [(3, 3, 4)]),
    ("size-1 broadcast", "ij,ij->ij", [(3, 1), (3, 4)]),
    ("upper case", "Ab,bC->AC", [(3, 4), (4, 2)]),
    ("large matmul", "ij,jk->ik", [(64, 96), (96, 80)]),
    ("odd sizes", "ij,jk->ik", [(7, 13), (13, 11)]),
    ("transpose of unit dims", "ec...X", [(1, 5, 3)]),
    # Loop nests of 2^21 iterations or more run on OpenMP threads.
    ("threaded matmul", "ij,jk->ik", [(256, 192), (192, 160)]),
    ("threaded batch matmul", "bij,bjk->bik", [(8, 128, 64), (8, 64, 96)]),
    ("threaded attention", "bhqd,bhkd->bhqk", [(2, 4, 128, 64), (2, 4, 96, 64)]),
    ("threaded transpose", "ij->ji", [(2048, 1024)]),
    ("threaded odd tiles", "ij,jk->ik", [(200, 96), (96, 120)]),
    ("threaded matvec", "ij,j->i", [(2048, 1024), (1024,)]),
    ("threaded row sum", "ij->i", [(1024, 2048)]),
    ("transposed operand", "ij,kj->ik", [(40, 24), (48, 24)]),
]

DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64,
          "i32": np.int32, "i64": np.int64, "bool": np.bool_,
          "i8": np.int8, "u8": np.uint8, "i16": np.int16, "u16": np.uint16,
          "u32": np.uint32, "u64": np.uint64, "c64": np.complex64,
          "c128": np.complex128}
# The dtypes beyond f16/f32/f64/i32/i64; numpy computes them exactly (ints
# wrap), so einjit's results must equal numpy's.
NEW_DTYPES = ["bool", "i8", "u8", "i16", "u16", "u32", "u64"]
TOL = {"f16": 2e-3, "f32": 1e-5, "f64": 1e-12}


def random_case(rng):
    """A random valid equation with shapes, as (equation, shapes)."""
    letters = rng.sample(string.ascii_letters[:8] + "XYZ",
                         rng.randint(1, 6))
    sizes = {c: rng.randint(1, 5) for c in letters}
    n_ops = rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
    use_ellipsis = rng.random() < 0.25
    ell_sizes = [rng.randint(1, 3) for _ in range(rng.randint(0, 2))]
    terms, shapes = [], []
    for _ in range(n_ops):
        k = rng.randint(0, min(4, len(letters)))
        labels = [rng.choice(letters) for _ in range(k)]
        # Repeated labels (diagonals) happen naturally; cap a term at 4.
        shape = [sizes[c] for c in labels]
        # Size-1 broadcasting on a labeled dim, unless it is a diagonal.
        for i, c in enumerate(labels):
            if labels.count(c) == 1 and rng.random() < 0.1:
                shape[i] = 1
        term = "".join(labels)
        if use_ellipsis and rng.random() < 0.8:
            r = rng.randint(0, len(ell_sizes))
            ell = [s if rng.random() < 0.8 else 1 for s in ell_sizes[len(ell_sizes) - r:]]
            pos = rng.randint(0, len(labels))
            term = term[:pos] + "..." + term[pos:]
            shape = shape[:pos] + ell + shape[pos:]
        terms.append(term)
        shapes.append(tuple(shape))
    used = sorted(set("".join(terms).replace(".", "")))
    if rng.random() < 0.3:
        eq = ",".join(terms)  # implicit output
    else:
        out = [c for c in used if rng.random() < 0.5]
        rng.shuffle(out)
        out = "".join(out)
        if any("..." in t for t in terms):
            pos = rng.randint(0, len(out))
            out = out[:pos] + "..." + out[pos:]
        eq = ",".join(terms) + "->" + out
    return eq, shapes


def random_large_case(rng):
    """Two operands with loop ranges large enough for every tiling strategy
    (register tiles, cache tiles, partial sums, transposed operands)."""
    letters = rng.sample("abcdefg", rng.randint(2, 5))
    sizes = {c: rng.choice([1, 7, 16, 24, 33, 48, 64, 96]) for c in letters}
    terms = []
    for _ in range(2):
        k = rng.randint(1, min(3, len(letters)))
        terms.append("".join(rng.sample(letters, k)))
    used = sorted(set("".join(terms)))
    out = [c for c in used if rng.random() < 0.6]
    rng.shuffle(out)
    eq = ",".join(terms) + "->" + "".join(out)
    return eq, [tuple(sizes[c] for c in t) for t in terms]


# Long reductions at odd and prime lengths, which einsum-split-reductions
# blocks (with a remainder) and whose block sums it sums again; each runs in
# f16, f32 and f64.
LONG_REDUCTIONS = [
    ("i->", [(1,)]), ("i->", [(3,)]), ("i->", [(127,)]), ("i->", [(1009,)]),
    ("i->", [(4099,)]), ("i->", [(16411,)]), ("i->", [(1000003,)]),
    ("i,i->", [(100003,), (100003,)]),
    ("i,->", [(65537,), ()]),
    ("ij->i", [(3, 16411)]), ("ij->i", [(129, 4099)]),
    ("ij->j", [(16411, 3)]), ("ij->j", [(4099, 129)]),
    ("ij->", [(127, 999)]), ("ijk->", [(31, 37, 41)]),
    ("ijk->i", [(5, 37, 1009)]), ("ijk->k", [(37, 1009, 5)]),
    ("ij,j->i", [(5, 20011), (20011,)]),
    ("ij,ij->", [(1, 30011), (7, 30011)]),  # broadcast operands
    ("i,i->", [(100003,), (1,)]), ("ij,j->i", [(5, 20011), (1,)]),
    ("ij,j->", [(9, 4099), (4099,)]),
    ("ii->", [(1009, 1009)]),  # a diagonal: never blocked
    ("bij,bj->bi", [(2, 3, 50021), (2, 50021)]),
    # Sums over several loops along the contiguous one, in SIMD lanes.
    ("ijk->j", [(300, 7, 4096)]),
    ("ijk,ijk->j", [(33, 5, 96), (33, 5, 96)]),
    ("ijkl->jl", [(9, 4, 31, 7)]),
    ("aijk->j", [(2, 3, 5, 48)]),
    # ... where whole registers do not divide it: lanes of a divisor (50 on
    # AVX-512, 25 on AVX2), or the part they divide and the rest (127 =
    # 112 + 15) as two sums in lanes.
    ("ijkl,jl->ik", [(5, 7, 6, 50), (7, 50)]),
    ("ijkl,jl->ik", [(3, 5, 4, 127), (5, 127)]),
    ("ijk->j", [(30, 7, 100)]),
    ("ijk,ik->j", [(9, 5, 1009), (9, 1009)]),
]


# Contractions at sizes that no register tile divides (primes, 999, 129,
# 1 and 3), whose remainders einsum-tile-and-vectorize splits off.
ODD_CONTRACTIONS = [
    ("ij,jk->ik", [(999, 1009), (1009, 129)]),
    ("ij,jk->ik", [(1, 3), (3, 1)]),
    ("ij,jk->ik", [(3, 127), (127, 5)]),
    ("ij,jk->ik", [(37, 1009), (1009, 33)]),
    ("ij,kj->ik", [(127, 129), (131, 129)]),
    ("bij,bjk->bik", [(24, 100, 100), (24, 100, 100)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 129, 64), (2, 3, 129, 64)]),
    ("bhqk,bhkd->bqhd", [(2, 3, 129, 129), (2, 3, 129, 63)]),
    # Packed GEMM (einsum-pack-contractions): odd panels, permuted and
    # transposed layouts, several labels per role, long K in blocks.
    ("ij,jk->ik", [(127, 127), (127, 127)]),
    ("ij,jk->ki", [(37, 45), (45, 53)]),
    ("ji,jk->ik", [(45, 37), (45, 53)]),
    ("btd,dhk->bthk", [(2, 37, 45), (45, 3, 29)]),
    ("abcd,cdef->abef", [(9, 7, 5, 6), (5, 6, 11, 13)]),
    # A few rows times a right input larger than the L2, read in blocks of
    # 8 (or 9, 16) of its rows across the whole width; two rows take 4
    # registers each.
    ("ij,jk->ik", [(3, 1001), (1001, 300)]),
    ("ij,jk->ik", [(2, 999), (999, 320)]),
    ("ij,jk->ik", [(7, 1009), (1009, 288)]),
    # A few rows against a right input [N, K] beyond the L2: dot products
    # with every row in one tile of partial sums, not packed.
    ("ij,kj->ik", [(3, 1100), (300, 1100)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 64), (1, 2, 2100, 64)]),
    # Tiles of a power-of-two count of registers where 3 or 6 divide the
    # columns (96 = 2 x 48, 100 = 96 + 4): one and two rows, column sums.
    ("ij,jk->ik", [(1, 300), (300, 96)]),
    ("ij,jk->ik", [(2, 64), (64, 96)]),
    ("ijk,ij->k", [(40, 60, 100), (40, 60)]),
    # Dot products along a common contiguous dim where the SIMD loop is
    # inside the larger input: no copy of the smaller one.
    ("bnd,nd->bn", [(20, 33, 100), (33, 100)]),
    # Sums whose result keeps its dims in another order than the input:
    # reduced in the input's order, then transposed.
    ("ijk->ki", [(20, 30, 10)]),
    ("ijkl->lj", [(5, 6, 7, 9)]),
    # K labels in opposite orders in the inputs: one K loop in the panels.
    ("ijk,jil->kl", [(13, 11, 37), (11, 13, 29)]),
    ("abcd,dcbe->ae", [(9, 5, 4, 3), (3, 4, 5, 21)]),
    ("ijk,lj->ilk", [(9, 23, 37), (13, 23)]),
    ("ij,jk->ik", [(19, 3001), (3001, 63)]),
    ("bij,bjk->bik", [(3, 17, 700), (3, 700, 45)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 64, 16), (1, 2, 96, 16)]),
    # The direct kernel with its inputs swapped, and a chain whose steps
    # start from the fill value per register tile.
    ("kn,mk->mn", [(64, 96), (40, 64)]),
    # Column remainders of two vector pieces (52 = 32 + 16 + 4), packed.
    ("ij,jk->ik", [(52, 52), (52, 52)]),
    ("ij,jk->ik", [(113, 70), (70, 178)]),
    ("ij,jk,kl,lm->im", [(96, 16), (16, 96), (96, 16), (16, 64)]),
    # Panels of a register and a half (24 f32 lanes on AVX-512, 12 on
    # AVX2), run as two tiles: attention scores at s = 20 and 23, 24 exact
    # columns, a 21-column edge, 12 columns.
    ("bhqd,bhkd->bhqk", [(1, 3, 20, 64), (1, 3, 20, 64)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 23, 64), (1, 2, 23, 64)]),
    ("ij,jk->ik", [(64, 64), (64, 24)]),
    ("bij,bjk->bik", [(4, 53, 53), (4, 53, 53)]),
    ("ij,jk->ik", [(64, 64), (64, 12)]),
    # Register tiles whose rows divide the rows instead of leaving an edge:
    # 20 (10 on AVX-512, 5 on AVX2), 7, 999 (9 on AVX-512).
    ("ij,kj->ik", [(20, 64), (33, 64)]),
    ("bij,bjk->bik", [(3, 7, 30), (3, 30, 13)]),
    ("ij,kj->ik", [(999, 64), (992, 64)]),
    # One query row (attention while decoding): dot products along d, one
    # key row at a time where the keys outgrow the L2 (d = 64: a dot product
    # of one whole register tile), and the weighted sum in one register
    # tile as wide as the row (1x128 on AVX-512).
    ("bhqd,bhkd->bhqk", [(2, 3, 1, 64), (2, 3, 1500, 64)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 1, 128), (1, 2, 1100, 128)]),
    ("bhqk,bhkd->bhqd", [(2, 3, 1, 300), (2, 3, 300, 128)]),
    ("kd,d->k", [(3000, 96), (96,)]),
]


# Transposing copies as square blocks (einsum-tile-and-vectorize): ranges
# that the block does not divide (overlapping last blocks), blocks of 4 and
# 8, threads, and results past the streaming threshold with rows aligned
# (non-temporal stores) or not (plain stores).
TRANSPOSES = [
    ("ij->ji", [(17, 33)]),
    ("ijk->kji", [(5, 7, 19)]),
    ("ijk->kji", [(255, 3, 129)]),
    ("ijkl->ljki", [(9, 16, 7, 31)]),
    ("ij->ji", [(1009, 999)]),
    ("ijk->kji", [(129, 130, 131)]),
    ("ijk->kji", [(48, 160, 320)]),
]


# Shape-polymorphic runs (einsum-run --dynamic=LABELS): pieces of
# power-of-two sizes along the labels, summed labels adding their pieces.
DYNAMIC = [
    ("ij,jk->ik", [(999, 33), (33, 17)], "i"),
    ("bij,bjk->bik", [(37, 9, 8), (37, 8, 11)], "b"),
    ("btd,dhk->bthk", [(3, 129, 16), (16, 4, 8)], "bt"),
    ("bhqd,bhkd->bhqk", [(5, 3, 17, 8), (5, 3, 19, 8)], "b"),
    ("abcd,cdef->abef", [(7, 5, 6, 9), (6, 9, 4, 11)], "a"),
    ("bi,oij,bj->bo", [(99, 8), (5, 8, 7), (99, 7)], "b"),
    ("ij,ik->jk", [(999, 5), (999, 7)], "i"),
    ("bij,bik->jk", [(3, 77, 5), (3, 77, 7)], "bi"),
    ("ij->j", [(1000, 5)], "i"),
    ("i,i->", [(1000,), (1000,)], "i"),
    ("ii->i", [(77, 77)], "i"),
    ("ij,jk->ik", [(0, 3), (3, 2)], "i"),
    ("ij,ik->jk", [(0, 3), (0, 2)], "i"),
]


def make_operand(shape, dtype, nrng):
    if dtype == "bool":
        return nrng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype in ("i8", "u8", "i16", "u16"):
        # The whole range: products and sums wrap, as in numpy.
        info = np.iinfo(DTYPES[dtype])
        return nrng.integers(info.min, info.max, size=shape,
                             endpoint=True).astype(DTYPES[dtype])
    if dtype.startswith("c"):
        return (nrng.uniform(-1, 1, size=shape) +
                1j * nrng.uniform(-1, 1, size=shape)).astype(DTYPES[dtype])
    if dtype.startswith("u"):
        return nrng.integers(0, 9, size=shape).astype(DTYPES[dtype])
    if dtype.startswith("i"):
        return nrng.integers(-4, 5, size=shape).astype(DTYPES[dtype])
    return nrng.uniform(-1, 1, size=shape).astype(DTYPES[dtype])


def exact(dtype):
    return np.issubdtype(dtype, np.integer) or dtype == np.bool_


def reference(eq, arrays, result_dtype):
    if exact(result_dtype):
        return np.einsum(eq, *arrays)
    wide = [a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
            for a in arrays]
    return np.einsum(eq, *wide)


def check(einsum_run, name, eq, arrays, workdir, index, extra=()):
    paths = []
    for i, a in enumerate(arrays):
        p = os.path.join(workdir, f"c{index}_in{i}.npy")
        np.save(p, a)
        paths.append(p)
    out = os.path.join(workdir, f"c{index}_out.npy")
    proc = subprocess.run([einsum_run, eq, *paths, "-o", out, *extra],
                          capture_output=True, text=True)
    where = f"{name}: {eq!r} {[a.shape for a in arrays]} {[a.dtype.name for a in arrays]}"
    if proc.returncode != 0:
        return f"FAIL {where}: exit {proc.returncode}: {proc.stderr.strip()}"
    got = np.load(out)
    expected_dtype = np.einsum(eq, *[np.zeros(a.shape, a.dtype) for a in arrays]).dtype
    if got.dtype.type != expected_dtype.type:
        return f"FAIL {where}: dtype {got.dtype}, numpy gives {expected_dtype}"
    ref = reference(eq, arrays, expected_dtype)
    if got.shape != np.shape(ref):
        return f"FAIL {where}: shape {got.shape}, numpy gives {np.shape(ref)}"
    if exact(expected_dtype):
        ok = np.array_equal(got, ref)
    else:
        tol = TOL[{np.float16: "f16", np.float32: "f32", np.float64: "f64",
                   np.complex64: "f32", np.complex128: "f64"}[expected_dtype.type]]
        # allclose with rtol `tol`; the absolute term is `tol` times the sum
        # of the products' magnitudes (the summation's condition), so a sum
        # that cancels to near zero is judged against what it added up, plus
        # the result type's subnormal spacing (f16 results below 6e-5).
        scale = np.einsum(eq, *[np.abs(a).astype(np.float64) for a in arrays])
        floor = float(np.finfo(expected_dtype).smallest_subnormal)
        wide = np.complex128 if np.iscomplexobj(got) else np.float64
        ok = bool(np.all(np.abs(got.astype(wide) - ref)
                         <= tol * np.abs(ref) + tol * scale + floor))
    if not ok:
        err = np.max(np.abs(got - ref)) if got.size else 0
        return f"FAIL {where}: values differ (max abs error {err})"
    return None


def to_bf16(x):
    """float64 values as bfloat16 bits (uint16), rounded to nearest even."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return bits.astype(np.uint16)


def from_bf16(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


# bf16 operands (saved as numpy saves ml_dtypes.bfloat16: a 2-byte void),
# alone and with others: (equation, shapes, dtype of each operand, result).
BF16_CASES = [
    ("ij,jk->ik", [(5, 7), (7, 3)], ["bf16", "bf16"], "bf16"),
    ("ij,jk->ik", [(37, 129), (129, 33)], ["bf16", "bf16"], "bf16"),
    ("bhqd,bhkd->bhqk", [(2, 3, 17, 64), (2, 3, 19, 64)], ["bf16", "bf16"], "bf16"),
    ("i->", [(4099,)], ["bf16"], "bf16"),
    ("ij->ji", [(33, 17)], ["bf16"], "bf16"),
    # Packed for AVX512-BF16's dot product where the host has it: even and
    # odd K (a zero-padded pair), the left-hand side read in place or
    # packed (transposed), fused label groups, batches and row/column edges.
    ("ij,jk->ik", [(64, 128), (128, 96)], ["bf16", "bf16"], "bf16"),
    ("ij,jk->ik", [(129, 257), (257, 65)], ["bf16", "bf16"], "bf16"),
    ("ji,jk->ik", [(127, 61), (127, 99)], ["bf16", "bf16"], "bf16"),
    ("ij,kj->ki", [(45, 200), (37, 200)], ["bf16", "bf16"], "bf16"),
    ("bij,bjk->bik", [(3, 33, 65), (3, 65, 47)], ["bf16", "bf16"], "bf16"),
    ("btd,dhk->bthk", [(2, 37, 48), (48, 3, 16)], ["bf16", "bf16"], "bf16"),
    ("abcd,cdef->abef", [(5, 7, 6, 9), (6, 9, 4, 11)], ["bf16", "bf16"], "bf16"),
    ("bhqk,bhkd->bqhd", [(2, 3, 33, 31), (2, 3, 31, 16)], ["bf16", "bf16"], "bf16"),
    ("ij,jk->ik", [(5, 7), (7, 3)], ["bf16", "f32"], "f32"),
    ("ij,jk->ik", [(5, 7), (7, 3)], ["bf16", "i8"], "bf16"),
    ("ij,jk->ik", [(5, 7), (7, 3)], ["bf16", "f16"], "f32"),
    ("ij,jk->ik", [(5, 7), (7, 3)], ["bf16", "f64"], "f64"),
]


def check_bf16(einsum_run, eq, shapes, dtypes, result, workdir, index, nrng,
               extra=()):
    paths, values = [], []
    for i, (shape, dt) in enumerate(zip(shapes, dtypes)):
        p = os.path.join(workdir, f"bf{index}_in{i}.npy")
        if dt == "bf16":
            bits = to_bf16(nrng.uniform(-1, 1, size=shape))
            np.save(p, bits.view("V2"))
            values.append(from_bf16(bits))
        else:
            a = make_operand(shape, dt, nrng)
            np.save(p, a)
            values.append(a.astype(np.float64))
        paths.append(p)
    out = os.path.join(workdir, f"bf{index}_out.npy")
    proc = subprocess.run([einsum_run, eq, *paths, "-o", out, *extra],
                          capture_output=True, text=True)
    where = f"bf16: {eq!r} {shapes} {dtypes}"
    if proc.returncode != 0:
        return f"FAIL {where}: exit {proc.returncode}: {proc.stderr.strip()}"
    got = np.load(out)
    if result == "bf16":
        if got.dtype != np.dtype("V2"):
            return f"FAIL {where}: dtype {got.dtype}, expected bf16 (V2)"
        got = from_bf16(got.view(np.uint16))
    elif got.dtype != DTYPES[result]:
        return f"FAIL {where}: dtype {got.dtype}, expected {result}"
    ref = np.einsum(eq, *values)
    scale = np.einsum(eq, *[np.abs(v) for v in values])
    # bf16 keeps 8 bits: a rounding of 2^-9 on the result (and on the f16
    # or f32 result of a mixed product, far less).
    tol = 2.0 ** -8 if result == "bf16" else TOL.get(result, 1e-5)
    ok = got.shape == ref.shape and bool(np.all(
        np.abs(got.astype(np.float64) - ref) <= tol * (np.abs(ref) + scale)))
    return None if ok else f"FAIL {where}: values differ"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("einsum_run")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--extra-arg", action="append", default=[],
                    help="passed to every einsum-run call (--mcpu=haswell)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    nrng = np.random.default_rng(args.seed)
    cases = []
    for name, eq, shapes in CANONICAL:
        for dt in ("f32", "f64"):
            cases.append((name, eq, [make_operand(s, dt, nrng) for s in shapes]))
    for dt in ("f16", "i32", "i64"):
        cases.append((f"matmul {dt}", "ij,jk->ik",
                      [make_operand(s, dt, nrng) for s in [(5, 6), (6, 3)]]))
    for name, eq, shapes in CANONICAL:
        if "threaded" in name or "large" in name:
            continue
        for dt in NEW_DTYPES + ["c64", "c128"]:
            cases.append((f"{name} {dt}", eq,
                          [make_operand(s, dt, nrng) for s in shapes]))
    for a, b in (("f32", "f64"), ("i32", "f32"), ("i32", "i64"), ("f16", "f32"),
                 ("u8", "i8"), ("bool", "i16"), ("u8", "f16"), ("i16", "f16"),
                 ("u16", "i32"), ("u32", "i8"), ("u64", "i64"), ("bool", "f32"),
                 ("i8", "f32"), ("u8", "u64"), ("bool", "bool"), ("i8", "u16"),
                 ("c64", "f32"), ("f64", "c64"), ("c64", "i32"), ("c128", "c64"),
                 ("i16", "c64"), ("c64", "bool"), ("f16", "c128")):
        cases.append((f"mixed {a}+{b}", "ij,jk->ik",
                      [make_operand((4, 5), a, nrng), make_operand((5, 3), b, nrng)]))
    cases.append(("zero-size sum", "ij->i", [make_operand((3, 0), "f32", nrng)]))
    cases.append(("zero-size last dim", "ij->ji", [make_operand((0, 3), "f32", nrng)]))
    cases.append(("zero-size output", "ij,jk->ik",
                  [make_operand((0, 3), "f64", nrng), make_operand((3, 2), "f64", nrng)]))
    cases.append(("fortran column", "ij,jk->ik",
                  [np.asfortranarray(make_operand((5, 1), "f64", nrng)),
                   make_operand((1, 3), "f64", nrng)]))
    cases.append(("fortran order", "ij,jk->ik",
                  [np.asfortranarray(make_operand((5, 7), "f64", nrng)),
                   make_operand((7, 3), "f64", nrng)]))
    cases.append(("big-endian", "ij->ji",
                  [make_operand((3, 4), "f64", nrng).astype(">f8")]))

    for eq, shapes in ODD_CONTRACTIONS:
        for dt in ("f32", "f64"):
            cases.append((f"odd contraction {dt}", eq,
                          [make_operand(sh, dt, nrng) for sh in shapes]))

    for eq, shapes in ODD_CONTRACTIONS[:8]:
        for dt in ("i8", "u8", "bool", "i16", "c64", "c128"):
            cases.append((f"odd contraction {dt}", eq,
                          [make_operand(sh, dt, nrng) for sh in shapes]))

    # 8-bit products, packed for AVX512-VNNI's dot product where the host
    # has it (one operand read as unsigned, the other as signed; results
    # wrap in 8 or 16 bits as numpy's do): even and odd K (a zero-padded
    # group of four), the left-hand side in place or packed, fused label
    # groups, batches and edges.
    for eq, shapes in [("ij,jk->ik", [(64, 128), (128, 96)]),
                       ("ij,jk->ik", [(129, 257), (257, 65)]),
                       ("ji,jk->ik", [(127, 61), (127, 99)]),
                       ("ij,kj->ki", [(45, 203), (37, 203)]),
                       ("bij,bjk->bik", [(3, 33, 66), (3, 66, 47)]),
                       ("btd,dhk->bthk", [(2, 37, 48), (48, 3, 16)]),
                       ("abcd,cdef->abef", [(5, 7, 6, 9), (6, 9, 4, 11)]),
                       ("bhqk,bhkd->bqhd", [(2, 3, 33, 31), (2, 3, 31, 16)])]:
        for a, b in (("i8", "i8"), ("u8", "u8"), ("i8", "u8"), ("u8", "i8")):
            cases.append((f"8-bit dot {a}x{b}", eq,
                          [make_operand(shapes[0], a, nrng),
                           make_operand(shapes[1], b, nrng)]))

    for eq, shapes, labels in DYNAMIC:
        for dt in ("f32", "f64", "i32", "i8", "c64", "f16"):
            cases.append((f"dynamic {labels} {dt}", eq,
                          [make_operand(sh, dt, nrng) for sh in shapes],
                          [f"--dynamic={labels}"]))

    for eq, shapes in TRANSPOSES:
        for dt in ("f16", "f32", "f64", "i32", "i64", "bool", "i8", "i16"):
            cases.append((f"transpose {dt}", eq,
                          [make_operand(sh, dt, nrng) for sh in shapes]))

    for eq, shapes in LONG_REDUCTIONS:
        for dt in ("f16", "f32", "f64"):
            cases.append((f"long reduction {dt}", eq,
                          [make_operand(sh, dt, nrng) for sh in shapes]))

    generated = 0
    while generated < args.count:
        eq, shapes = random_case(rng)
        dt = rng.choice(["f32", "f64", "f32", "f64", "c64", "c128"] +
                        NEW_DTYPES)
        arrays = [make_operand(s, dt, nrng) for s in shapes]
        try:
            np.einsum(eq, *arrays)
        except ValueError:
            continue  # numpy rejects it: not a valid equation
        cases.append((f"random {generated}", eq, arrays))
        generated += 1

    for i in range(args.count // 6):
        eq, shapes = random_large_case(rng)
        dt = rng.choice(["f32", "f64", "f32", "f64", "i32", "i64", "f16", "i8",
                         "u8", "bool", "i16"])
        cases.append((f"random large {i}", eq,
                      [make_operand(s, dt, nrng) for s in shapes]))

    with tempfile.TemporaryDirectory() as workdir:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(
                lambda ic: check(args.einsum_run, ic[1][0], ic[1][1], ic[1][2],
                                 workdir, ic[0],
                                 args.extra_arg + (ic[1][3] if len(ic[1]) > 3 else [])),
                enumerate(cases)))
        for i, (eq, shapes, dtypes, result) in enumerate(BF16_CASES):
            results.append(check_bf16(args.einsum_run, eq, shapes, dtypes,
                                      result, workdir, i, nrng,
                                      args.extra_arg))
    failures = [r for r in results if r]
    for f in failures:
        print(f)
    print(f"{len(results) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
