#!/usr/bin/env python3
"""One training step's gradients (an MLP's loss and the gradients of its
four weights): einjit eager under a GradientTape and traced with
einjit::gradients (one kernel), beside torch autograd and TensorFlow's
GradientTape eager and in @tf.function, in the same run, with the fp32 FMA
peak of the same run.

The MLP: x [B, 512] -> relu(x W1 + b1) [B, 1024] -> h W2 + b2 [B, 10] ->
cross-entropy on log_softmax against one-hot targets. A step is the forward
and the backward, no update: 6 * B * (512 * 1024 + 1024 * 10) flops. Each
time is the fastest of --reps steps after a warm-up; modes alternate for
--rounds rounds. einjit's loss and |dW1|_1 are checked against torch's on
the same operands (same formula for the inputs).

  cmake --build build --target einsum-training
  bench/.venv/bin/python bench/training.py [--batches 32,256,1024]
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def operands(b):
    import numpy as np

    def filled(shape, scale, phase):
        e = np.arange(int(np.prod(shape)), dtype=np.float64)
        return (np.sin(e * 0.61 + phase) * scale).astype(np.float32) \
            .reshape(shape)
    x = filled((b, 512), 1.0, 0.1)
    t = np.zeros((b, 10), np.float32)
    t[np.arange(b), np.arange(b) % 10] = 1
    return (x, t, filled((512, 1024), 1 / np.sqrt(512), 0.2),
            filled((1024,), 0.1, 0.3), filled((1024, 10), 1 / np.sqrt(1024),
                                             0.4), filled((10,), 0.1, 0.5))


def best_of(f, reps):
    f()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times)


def torch_step(b, threads):
    import torch
    torch.set_num_threads(threads)
    x, t, w1, b1, w2, b2 = (torch.from_numpy(a) for a in operands(b))
    params = [p.requires_grad_() for p in (w1, b1, w2, b2)]

    def step():
        h = torch.relu(torch.einsum("bi,ih->bh", x, params[0]) + params[1])
        logits = torch.einsum("bh,hc->bc", h, params[2]) + params[3]
        loss = -(t * torch.log_softmax(logits, -1)).sum() / b
        grads = torch.autograd.grad(loss, params)
        return loss, grads
    loss, grads = step()
    return step, float(loss), float(grads[0].abs().sum())


def tf_steps(b, threads):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    x, t, w1, b1, w2, b2 = (tf.constant(a) for a in operands(b))
    params = [tf.Variable(p) for p in (w1, b1, w2, b2)]

    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.einsum("bi,ih->bh", x, params[0]) + params[1])
            logits = tf.einsum("bh,hc->bc", h, params[2]) + params[3]
            loss = -tf.reduce_sum(t * tf.nn.log_softmax(logits, -1)) / b
        return loss, tape.gradient(loss, params)
    return {"tf eager": step, "tf.function": tf.function(step)}


def einjit_step(binary, mode, b, reps):
    out = subprocess.run([binary, mode, str(b), str(reps)], check=True,
                         capture_output=True, text=True).stdout
    m = re.search(r"best ([0-9.]+) ms.*loss ([-0-9.]+), \|dW1\|1 ([0-9.]+)",
                  out)
    return float(m.group(1)), float(m.group(2)), float(m.group(3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/bin/einsum-training")
    parser.add_argument("--batches", default="32,256,1024")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    from einsum_peers import fma_peak, peer_environment
    peer_environment(args.threads)
    peak = fma_peak(args.threads)
    print(f"fp32 FMA peak, {args.threads} thread(s): {peak:.1f} GFLOP/s")
    print("| batch | einjit eager ms | einjit traced ms | torch ms | "
          "tf eager ms | tf.function ms | best peer / traced | "
          "traced % of peak |")
    print("|---|---|---|---|---|---|---|---|")
    for b in (int(s) for s in args.batches.split(",")):
        torch_f, torch_loss, torch_norm = torch_step(b, args.threads)
        tf_f = tf_steps(b, args.threads)
        best = {}
        for _ in range(args.rounds):
            for mode in ("eager", "traced"):
                ms, loss, norm = einjit_step(args.binary, mode, b, args.reps)
                if abs(loss - torch_loss) > 1e-4 * abs(torch_loss) or \
                        abs(norm - torch_norm) > 1e-3 * torch_norm:
                    sys.exit(f"einjit {mode} disagrees with torch: loss "
                             f"{loss} vs {torch_loss}, |dW1| {norm} vs "
                             f"{torch_norm}")
                best[mode] = min(best.get(mode, 1e9), ms)
            best["torch"] = min(best.get("torch", 1e9),
                                best_of(torch_f, args.reps))
            for name, f in tf_f.items():
                best[name] = min(best.get(name, 1e9), best_of(f, args.reps))
        peer = min(best["torch"], best["tf eager"], best["tf.function"])
        flops = 6 * b * (512 * 1024 + 1024 * 10)
        pct = flops / (best["traced"] * 1e-3) / 1e9 / peak * 100
        print(f"| {b} | {best['eager']:.3f} | {best['traced']:.3f} | "
              f"{best['torch']:.3f} | {best['tf eager']:.3f} | "
              f"{best['tf.function']:.3f} | {peer / best['traced']:.2f} | "
              f"{pct:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
