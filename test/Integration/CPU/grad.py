"""einsum-run --grad against numpy (used by grad.test).

Makes operands and cotangents with numpy, runs `einsum-run EQUATION
OPERAND... --grad=G.npy --grad-dir=DIR`, and compares each DIR/grad_K.npy
with the gradient written out here in numpy for that equation. Nothing of
einjit's computes a reference. Prints one line per case and exits non-zero
on the first mismatch.
"""
import os
import subprocess
import sys

import numpy as np

einsum_run, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(7)


def save(name, array):
    path = os.path.join(work, name)
    np.save(path, array)
    return path


def run(name, equation, operands, cotangent, expected, rtol):
    """Runs einsum-run --grad; `operands` are arrays (saved as .npy) or
    strings (paths or random specs passed as they are)."""
    args = []
    for k, op in enumerate(operands):
        args.append(op if isinstance(op, str) else save(f"{name}_in{k}.npy", op))
    g = save(f"{name}_g.npy", cotangent)
    out = os.path.join(work, name, "nested")  # created by einsum-run
    proc = subprocess.run([einsum_run, equation, *args, f"--grad={g}",
                           f"--grad-dir={out}"], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{name}: einsum-run failed ({proc.returncode}): {proc.stderr}")
    if proc.stdout or proc.stderr:
        sys.exit(f"{name}: einsum-run printed {proc.stdout!r} {proc.stderr!r}")
    files = sorted(os.listdir(out))
    want = [f"grad_{k}.npy" for k in range(len(operands))]
    if files != want:
        sys.exit(f"{name}: wrote {files}, expected {want}")
    for k, ref in enumerate(expected):
        if ref is None:
            continue
        got = np.load(os.path.join(out, f"grad_{k}.npy"))
        if got.dtype != ref.dtype or got.shape != ref.shape:
            sys.exit(f"{name}: grad_{k} is {got.dtype} {got.shape}, numpy's "
                     f"{ref.dtype} {ref.shape}")
        if not np.allclose(got, ref, rtol=rtol, atol=rtol):
            sys.exit(f"{name}: grad_{k} differs from numpy by "
                     f"{np.max(np.abs(got - ref))}")
    print(f"{name}: {len(operands)} gradients match numpy")


# Matrix product: dA = G B^T, dB = A^T G, in f64 and f32.
for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-5)):
    a = rng.standard_normal((5, 7)).astype(dtype)
    b = rng.standard_normal((7, 3)).astype(dtype)
    g = rng.standard_normal((5, 3)).astype(dtype)
    run(f"matmul_{np.dtype(dtype).name}", "ij,jk->ik", [a, b], g,
        [g @ b.T, a.T @ g], rtol)

# A random operand: dA = G B^T does not depend on A, so it is checked.
b = rng.standard_normal((4, 6))
g = rng.standard_normal((3, 6))
run("matmul_random_spec", "ij,jk->ik", ["f64:3x4", b], g, [g @ b.T, None],
    1e-12)

# Trace: d(sum_i A_ii) = G I.
a = rng.standard_normal((6, 6))
g = np.array(rng.standard_normal())
run("trace", "ii->", [a], g, [g * np.eye(6)], 1e-12)

# A label summed away: d(sum_j A_ij) = G broadcast along j.
a = rng.standard_normal((4, 9))
g = rng.standard_normal(4)
run("row_sum", "ij->i", [a], g, [np.broadcast_to(g[:, None], (4, 9)).copy()],
    1e-12)

# The same file passed twice: x^T A x, each position its own gradient
# (A x for the first, A^T x for the last; A is not symmetric).
x = rng.standard_normal(5)
a = rng.standard_normal((5, 5))
g = np.array(rng.standard_normal())
xpath = save("quad_x.npy", x)
run("quadratic", "i,ij,j->", [xpath, a, xpath], g,
    [g * (a @ x), g * np.outer(x, x), g * (a.T @ x)], 1e-12)
