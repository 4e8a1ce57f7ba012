"""One and three steps of einjit's SGD (plain, momentum, nesterov) and Adam
against numpy running Keras's update formulas (keras/src/optimizers/sgd.py
and adam.py) on the same weights and gradients, in f32 and f64.

  optimizers.py OPTIMIZER_STEP_BINARY WORKDIR
"""
import os
import subprocess
import sys

import numpy as np


def keras(kind, w, grads):
    w = w.astype(np.float64)
    v = np.zeros_like(w)
    m = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if kind == "sgd":
            w = w - 0.1 * g
        elif kind in ("sgd-momentum", "sgd-nesterov"):
            v = 0.9 * v - 0.1 * g
            w = w + (0.9 * v - 0.1 * g if kind == "sgd-nesterov" else v)
        else:  # adam
            alpha = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            m = m + (g - m) * (1 - 0.9)
            v = v + (g * g - v) * (1 - 0.999)
            w = w - alpha * m / (np.sqrt(v) + 1e-7)
    return w


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(5)
    for dtype, tol in ((np.float64, 1e-13), (np.float32, 2e-6)):
        w = rng.standard_normal((3, 7)).astype(dtype)
        grads = [rng.standard_normal((3, 7)).astype(dtype) for _ in range(3)]
        np.save(os.path.join(work, "w.npy"), w)
        files = []
        for i, g in enumerate(grads):
            files.append(os.path.join(work, f"g{i}.npy"))
            np.save(files[-1], g)
        for kind in ("sgd", "sgd-momentum", "sgd-nesterov", "adam"):
            for steps in (1, 3):
                out = os.path.join(work, "out.npy")
                subprocess.run([binary, kind, out, os.path.join(work, "w.npy")]
                               + files[:steps], check=True)
                got = np.load(out)
                want = keras(kind, w, grads[:steps])
                assert got.dtype == dtype, (kind, got.dtype)
                err = np.max(np.abs(got - want) / (1 + np.abs(want)))
                if err > tol:
                    sys.exit(f"{kind} {np.dtype(dtype).name} {steps} steps: "
                             f"error {err:.3g} > {tol}")
                print(f"{kind} {np.dtype(dtype).name} {steps} steps: "
                      f"matches numpy")


if __name__ == "__main__":
    main()
