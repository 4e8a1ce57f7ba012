#!/usr/bin/env python3
"""Times one einsum peer on a list of cases; started by einsum_peers.py.

usage: einsum_peers_worker.py JSON   (run by the peers venv's python)

JSON: {"peer": NAME, "threads": N, "runs": N, "max_case_seconds": S,
       "cases": [{"name", "eq", "shapes", "blas"}]}

The parent has already set the thread environment (OMP/OPENBLAS/MKL_NUM_
THREADS, XLA_FLAGS), pinned this process to the first N cores and unset
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE. This script sets the framework's own
thread counts, prints one JSON line describing the peer (versions, the BLAS
threadpoolctl sees), then one JSON line per case as soon as it is timed:
{"case", "min", "median", "calls", "cpu_per_wall", "copy", "check"} or
{"case", "error"}. Each peer makes its own random fp32 operands of the
case's shapes (uniform in [-1, 1), seed 0): einsum-run generates its own.

Every peer must deliver a C-contiguous array of its own in the equation's
output layout, as einjit does. numpy writes into a preallocated `out=` (as
einsum-run's --bench writes into one preallocated output); torch results
that are views of an input or not contiguous get `.contiguous()` / `.clone()`
inside the timed call, reported as "copy": true. TensorFlow and JAX always
return new dense arrays.
"""
import json
import os
import re
import sys
import time

import numpy as np

PEERS = ("numpy_blas", "numpy_einsum", "torch", "tf_eager", "tf_xla", "jax")


def make_operands(shapes):
    rng = np.random.default_rng(0)
    return [rng.uniform(-1, 1, size=tuple(s)).astype(np.float32) for s in shapes]


def threadpools():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl missing"
    return [{k: p.get(k) for k in ("user_api", "internal_api", "version",
                                   "architecture", "num_threads", "prefix")}
            for p in threadpool_info()]


class Peer:
    """Builds, per case, a zero-argument callable that returns the result."""

    def __init__(self, name, threads):
        self.name = name
        self.info = {"peer": name, "numpy": np.__version__}
        if name in ("numpy_blas", "numpy_einsum"):
            pass
        elif name == "torch":
            import torch
            torch.set_num_threads(threads)
            torch.set_num_interop_threads(1)
            self.torch = torch
            self.info.update(torch=torch.__version__,
                             torch_threads=torch.get_num_threads(),
                             mkldnn=torch.backends.mkldnn.is_available())
        elif name in ("tf_eager", "tf_xla"):
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            self.tf = tf
            self.info.update(tensorflow=tf.__version__,
                             xla_flags=os.environ.get("XLA_FLAGS", ""))
        elif name == "jax":
            import jax
            import jax.numpy as jnp
            self.jax, self.jnp = jax, jnp
            self.info.update(jax=jax.__version__,
                             devices=[str(d) for d in jax.devices()],
                             xla_flags=os.environ.get("XLA_FLAGS", ""))
        else:
            raise ValueError(f"unknown peer {name}")
        self.info["threadpools"] = threadpools()

    def build(self, case, ops, ref):
        """Returns (fn, copied) or None when the peer has no form for the case."""
        eq = case["eq"]
        if self.name == "numpy_blas":
            if not case.get("blas"):
                return None
            # A fresh C-order array, as einjit's result: empty_like(ref)
            # would copy the layout of a view (np.einsum returns `ijk->kji`
            # as a transposed view), turning the transpose into a memcpy.
            out = np.empty(ref.shape, ref.dtype)
            names = dict(zip("abcd", ops))
            code = compile(case["blas"], "<blas>", "eval")
            env = {"np": np, "out": out, **names}
            if re.search(r"\bout\b", case["blas"]):  # the result lands in out
                return (lambda: (eval(code, env), out)[1]), False
            return (lambda: eval(code, env)), False
        if self.name == "numpy_einsum":
            out = np.empty(ref.shape, ref.dtype)  # C order; 0-d for a scalar
            return (lambda: np.einsum(eq, *ops, out=out, optimize=True)), False
        if self.name == "torch":
            torch = self.torch
            ts = [torch.from_numpy(o) for o in ops]
            r = torch.einsum(eq, *ts)
            storages = {t.untyped_storage().data_ptr() for t in ts}
            aliases = r.untyped_storage().data_ptr() in storages
            if aliases and r.is_contiguous():
                return (lambda: torch.einsum(eq, *ts).clone()), True
            if not r.is_contiguous():
                return (lambda: torch.einsum(eq, *ts).contiguous()), True
            return (lambda: torch.einsum(eq, *ts)), False
        if self.name == "tf_eager":
            tf = self.tf
            ts = [tf.constant(o) for o in ops]
            return (lambda: tf.einsum(eq, *ts)), False
        if self.name == "tf_xla":
            tf = self.tf
            ts = [tf.constant(o) for o in ops]
            f = tf.function(lambda *x: tf.einsum(eq, *x), jit_compile=True)
            return (lambda: f(*ts)), False
        if self.name == "jax":
            jax, jnp = self.jax, self.jnp
            ts = [jax.device_put(o) for o in ops]
            f = jax.jit(lambda *x: jnp.einsum(eq, *x))
            return (lambda: f(*ts).block_until_ready()), False
        raise AssertionError(self.name)


def to_numpy(r):
    if hasattr(r, "numpy"):
        return np.asarray(r.numpy())
    return np.asarray(r)


def time_case(peer, case, runs, max_seconds):
    ops = make_operands(case["shapes"])
    ref = np.asarray(np.einsum(case["eq"], *ops, optimize=True),
                     dtype=np.float32)
    built = peer.build(case, ops, ref)
    if built is None:
        return None
    fn, copied = built
    # Warm up: the first call traces / compiles; then until 3 calls and
    # 0.1 s have gone by, so thread pools and allocators are warm.
    first = fn()
    got = to_numpy(first)
    del first
    scale = float(np.max(np.abs(ref))) if ref.size else 1.0
    ok = got.shape == ref.shape and bool(
        np.allclose(got, ref, rtol=1e-3, atol=1e-4 * max(scale, 1.0)))
    start, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - start < 0.1:
        fn()
        calls += 1
    times = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if len(times) >= 3 and time.perf_counter() - wall0 > max_seconds:
            break
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    times.sort()
    return {"min": times[0], "median": times[len(times) // 2],
            "calls": len(times), "cpu_per_wall": cpu / wall if wall else 0,
            "copy": copied, "check": "ok" if ok else "MISMATCH"}


def main():
    job = json.loads(sys.argv[1])
    peer = Peer(job["peer"], job["threads"])
    info = dict(peer.info, affinity=sorted(os.sched_getaffinity(0)))
    print(json.dumps({"info": info}), flush=True)
    for case in job["cases"]:
        try:
            res = time_case(peer, case, job["runs"], job["max_case_seconds"])
        except Exception as e:  # one case failing does not end the peer
            res = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
        if res is not None:
            print(json.dumps(dict(res, case=case["name"])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
