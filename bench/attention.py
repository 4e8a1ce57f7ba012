#!/usr/bin/env python3
"""Multi-head attention forward: eager and traced einjit beside TensorFlow's
eager, @tf.function and @tf.function(jit_compile=True), in the same run,
with the fp32 FMA peak of the same run (issue 9's benchmark).

The block is Keras's MultiHeadAttention forward on self-attention: model dim
768, 12 heads of 64; q/k/v projections (EinsumDense `btd,dhk->bthk` plus a
bias), the query scaled by 1/sqrt(64), scores `bqhk,bthk->bhqt`, softmax, the
weighted sum `bhqt,bthk->bqhk` and the output projection `bqhk,hkd->bqd`
plus a bias. einjit's side is build/bin/einsum-attention, eager (12
kernels) and --traced (one einjit::Function, one kernel); TensorFlow runs
the same ops with tf.einsum. Each time is the fastest of --reps calls after a
warm-up. einjit's output is first checked against the same block in float64
numpy on the same operands (the script stops above 1e-4 relative error). Threads: both cores unless --threads says otherwise.

  cmake --build build --target einsum-attention
  bench/.venv/bin/python bench/attention.py [--sizes 4x128,4x512,1x32]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def tf_modes(b, t, reps, threads):
    """TensorFlow's three modes on the block, traced; returns a function that
    times each (fastest of `reps` calls)."""
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model, heads, d = 768, 12, 64
    rng = np.random.default_rng(0)

    def w(*shape, scale=1 / np.sqrt(768)):
        return tf.constant((rng.standard_normal(shape) * scale)
                           .astype(np.float32))
    wq, wk, wv = (w(model, heads, d) for _ in range(3))
    wo = w(heads, d, model)
    bq, bk, bv = (w(heads, d, scale=0.1) for _ in range(3))
    bo = w(model, scale=0.1)
    x = w(b, t, model, scale=1.0)

    def block(x):
        q = (tf.einsum("btd,dhk->bthk", x, wq) + bq) * (1 / np.sqrt(d))
        k = tf.einsum("btd,dhk->bthk", x, wk) + bk
        v = tf.einsum("btd,dhk->bthk", x, wv) + bv
        s = tf.einsum("bqhk,bthk->bhqt", q, k)
        p = tf.nn.softmax(s, axis=-1)
        o = tf.einsum("bhqt,bthk->bqhk", p, v)
        return tf.einsum("bqhk,hkd->bqd", o, wo) + bo

    modes = {"tf eager": block, "tf.function": tf.function(block),
             "tf XLA": tf.function(block, jit_compile=True)}
    for fn in modes.values():
        fn(x).numpy()  # traces and compiles

    def measure():
        out = {}
        for name, fn in modes.items():
            best = 1e30
            for _ in range(reps):
                start = time.perf_counter()
                fn(x).numpy()
                best = min(best, (time.perf_counter() - start) * 1e3)
            out[name] = best
        return out
    return measure


def check(binary, b, t, mode):
    """Runs einjit's block (`mode`: [] or ["--traced"]) once into a .npy and compares it with the same
    block in float64 numpy on the same operands: returns the largest error
    relative to the output's largest magnitude."""
    import numpy as np
    model, heads, d = 768, 12, 64

    def filled(shape, scale):
        n = int(np.prod(shape))
        return (np.sin(np.arange(n) * 0.61) * scale).astype(np.float32) \
            .astype(np.float64).reshape(shape)
    ws = 1 / np.sqrt(model)
    wq, wk, wv = (filled((model, heads, d), ws) for _ in range(3))
    wo = filled((heads, d, model), ws)
    bq, bk, bv = (filled((heads, d), 0.1) for _ in range(3))
    bo = filled((model,), 0.1)
    x = filled((b, t, model), 1.0)
    q = (np.einsum("btd,dhk->bthk", x, wq) + bq) / np.sqrt(d)
    k = np.einsum("btd,dhk->bthk", x, wk) + bk
    v = np.einsum("btd,dhk->bthk", x, wv) + bv
    s = np.einsum("bqhk,bthk->bhqt", q, k)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    o = np.einsum("bhqt,bthk->bqhk", p, v)
    y = np.einsum("bqhk,hkd->bqd", o, wo) + bo
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "y.npy")
        subprocess.run([binary] + mode + [str(b), str(t), "1", path],
                       check=True, capture_output=True)
        mine = np.load(path)
    return float(np.abs(mine - y).max() / np.abs(y).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/bin/einsum-attention")
    parser.add_argument("--sizes", default="4x128,4x512,1x32")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    from einsum_peers import fma_peak, peer_environment
    peer_environment(args.threads)
    peak = fma_peak(args.threads)
    print(f"fp32 FMA peak, {args.threads} thread(s): {peak:.1f} GFLOP/s")
    print("| b x seq | einjit eager ms | einjit traced ms | tf eager ms | "
          "tf.function ms | tf XLA ms | best TF / einjit eager | "
          "best TF / einjit traced | traced / eager speedup | "
          "traced % of peak | error vs numpy f64 (eager, traced) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    modes = {"eager": [], "traced": ["--traced"]}
    for size in args.sizes.split(","):
        b, t = map(int, size.split("x"))
        errors = {}
        for mode, flag in modes.items():
            errors[mode] = check(args.binary, b, t, flag)
            if errors[mode] > 1e-4:
                sys.exit(f"einjit's {mode} block at {size} differs from "
                         f"numpy's: relative error {errors[mode]:.2e}")
        # The VM has slow phases of seconds to minutes: einjit and
        # TensorFlow alternate for --rounds rounds, and each keeps its best.
        measure_tf = tf_modes(b, t, args.reps, args.threads)
        mine, tf = {m: 1e30 for m in modes}, {}
        for _ in range(args.rounds):
            for mode, flag in modes.items():
                res = subprocess.run([args.binary] + flag +
                                     [str(b), str(t), str(args.reps)],
                                     check=True, capture_output=True,
                                     text=True).stdout
                vals = dict(line.split() for line in res.splitlines())
                mine[mode] = min(mine[mode], float(vals["ms"]))
                flops = float(vals["flops"])
            for name, ms in measure_tf().items():
                tf[name] = min(tf.get(name, 1e30), ms)
        best = min(tf.values())
        eager, traced = mine["eager"], mine["traced"]
        pct = flops / (traced * 1e-3) / 1e9 / peak * 100
        print(f"| {b}x{t} | {eager:.2f} | {traced:.2f} | "
              f"{tf['tf eager']:.2f} | {tf['tf.function']:.2f} | "
              f"{tf['tf XLA']:.2f} | {best / eager:.2f} | "
              f"{best / traced:.2f} | {eager / traced:.2f} | {pct:.0f}% | "
              f"{errors['eager']:.1e}, {errors['traced']:.1e} |")


if __name__ == "__main__":
    main()
