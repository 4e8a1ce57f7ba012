"""einsum-run --device=cuda against numpy, on a machine with a CUDA device
(lit feature `cuda`): canonical einsums and random ones, at odd sizes, in
f32, f64 and c64. Prints one line per case and exits 1 on any mismatch.

  python3 cuda_numpy.py EINSUM_RUN WORKDIR [--random N]
"""
import os
import subprocess
import sys

import numpy as np

CASES = [
    ("ij,jk->ik", [(127, 129), (129, 131)], np.float32),
    ("ij,jk->ik", [(257, 130), (130, 259)], np.float32),
    ("ij,kj->ki", [(131, 1009), (133, 1009)], np.float32),
    ("bij,bkj->bki", [(2, 129, 40), (2, 200, 40)], np.float64),
    ("ji,jk->ik", [(9, 300), (9, 8)], np.float32),
    ("ij,jk->ki", [(64, 33), (33, 65)], np.float32),
    ("bij,bjk->bik", [(3, 127, 33), (3, 33, 129)], np.float64),
    ("bhqd,bhkd->bhqk", [(2, 3, 129, 64), (2, 3, 127, 64)], np.float32),
    ("bhqk,bhkd->bqhd", [(2, 3, 33, 17), (2, 3, 17, 64)], np.float32),
    ("abcd,cdef->abef", [(9, 10, 11, 12), (11, 12, 13, 14)], np.float32),
    ("btd,dhk->bthk", [(2, 17, 96), (96, 3, 32)], np.float32),
    ("ij,jk,kl->il", [(8, 9), (9, 10), (10, 3)], np.float32),
    ("ij->ji", [(33, 17)], np.float32),
    ("ii->i", [(37, 37)], np.float32),
    ("ii->", [(37, 37)], np.float64),
    ("i->", [(100003,)], np.float32),
    ("i->", [(1000003,)], np.float32),
    ("ij->i", [(5, 300007)], np.float64),
    ("ij->j", [(40000, 3)], np.float32),
    ("i,i->", [(4099,), (4099,)], np.float64),
    ("ij->i", [(1000, 999)], np.float32),
    ("ij->j", [(1000, 999)], np.float32),
    ("ijk->j", [(64, 32, 129)], np.float32),
    ("i,j->ij", [(129,), (999,)], np.float32),
    ("ij,j->i", [(100, 50), (50,)], np.float32),
    ("ij,jk->ik", [(17, 19), (19, 23)], np.complex64),
    ("ij,jk->ik", [(1, 1), (1, 1)], np.float32),
    ("ij,jk->ik", [(3, 3), (3, 3)], np.float32),
]


def random_case(rng):
    letters = "abcdefg"
    n = rng.integers(2, 6)
    labels = list(letters[:n])
    sizes = {c: int(rng.integers(1, 40)) for c in labels}
    a = "".join(rng.permutation(labels)[: rng.integers(1, n + 1)])
    b = "".join(rng.permutation(labels)[: rng.integers(1, n + 1)])
    # Output labels come from the inputs: one only in a or b stays, one in
    # both stays sometimes.
    out = "".join(c for c in labels if (c in a) != (c in b)
                  or (c in a and c in b and rng.random() < 0.3))
    out = "".join(rng.permutation(list(out))) if out else ""
    return (f"{a},{b}->{out}", [tuple(sizes[c] for c in a),
                                tuple(sizes[c] for c in b)], np.float32)


def main():
    einsum_run, work = sys.argv[1], sys.argv[2]
    count = int(sys.argv[sys.argv.index("--random") + 1]) if "--random" in sys.argv else 0
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    cases = CASES + [random_case(rng) for _ in range(count)]
    failures = 0
    for n, (equation, shapes, dtype) in enumerate(cases):
        files = []
        ops = []
        for i, shape in enumerate(shapes):
            a = rng.uniform(-1, 1, shape)
            if np.issubdtype(dtype, np.complexfloating):
                a = a + 1j * rng.uniform(-1, 1, shape)
            a = a.astype(dtype)
            ops.append(a)
            files.append(os.path.join(work, f"case{n}_{i}.npy"))
            np.save(files[-1], a)
        out = os.path.join(work, f"case{n}_out.npy")
        run = subprocess.run([einsum_run, "--device=cuda", equation, *files, "-o", out],
                             capture_output=True, text=True)
        if run.returncode:
            print(f"FAIL {equation} {shapes}: {run.stderr.strip()}")
            failures += 1
            continue
        got = np.load(out)
        wide = [o.astype(np.complex128 if np.iscomplexobj(o) else np.float64) for o in ops]
        ref = np.einsum(equation, *wide)
        scale = np.einsum(equation, *[np.abs(o) for o in wide])
        tol = 1e-5 if dtype in (np.float32, np.complex64) else 1e-12
        err = float(np.max(np.abs(got - ref) / (scale + 1e-30))) if ref.size else 0.0
        ok = got.shape == ref.shape and err <= tol
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {equation} {shapes} {np.dtype(dtype).name}: "
              f"max error {err:.1e} of |A||B|")
    print(f"{len(cases) - failures} of {len(cases)} match numpy")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
