#!/usr/bin/env python3
"""Named linalg ops against einsum, per peer and for einjit, in one run.

usage: linalg_vs_einsum.py EINSUM_RUN [--threads 1,2] [--reps 5] [--runs 15]
                           [--cases a,b] [--peers numpy,torch,tf,jax]
                           [--json FILE] [--markdown FILE]
       linalg_vs_einsum.py --render FILE.json   (the tables again)

The question (issue 8): "when should I call a named linalg op instead of
einsum?". For each workload (matmul, batch matmul, attention scores and
weighted sum, a mode-n product, a reduction, a transpose; fp32) each peer
times its einsum and its named forms in one process, call by call in
turn (so a slow phase of the VM hits both alike), and reports the ratio
named time / einsum time (below 1: the named op is faster, einsum costs
more). Forms:

  numpy   np.einsum(eq, ..., optimize=True, out=) and, with at most 5 calls
          a repetition, np.einsum(eq, ..., out=) (optimize=False, numpy's
          default); named: np.matmul(out=), np.tensordot + moveaxis,
          np.sum(axis=, out=), np.copyto(out, a.transpose(...))
  torch   torch.einsum; named: torch.matmul / torch.bmm, tensordot +
          permute, .sum(dim=), .permute().contiguous(). A result that is
          not contiguous (or aliases an input) is made contiguous inside
          the timed call, for einsum and named alike (einjit writes a
          contiguous array).
  tf      tf.einsum and tf.linalg.matmul / tf.transpose / tf.reduce_sum /
          tf.tensordot, eager and inside tf.function(jit_compile=True)
  jax     jax.jit(jnp.einsum) and jax.jit of jnp.matmul / tensordot / sum /
          transpose

einjit has only einsum: `EINSUM_RUN EQ SPECS --bench=N` (compile excluded)
and `--explain` for the kernel it picks. Its time is set against the best
named op of any peer: ratio = best named time / einjit time (above 1:
einjit is faster).

One run: the FMA peak (bench/fma_peak.cpp, via einsum_peers.py) first,
then --reps repetitions; in each, for each thread count, einjit and every
peer (a fresh process each, pinned to the first N CPUs, thread counts set
as in einsum_peers.py, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset), in an
order rotated from one repetition to the next. Every figure is the median
over repetitions of the per-repetition median; einjit against the best
named op is also given in each one's fastest repetition. A workload whose
per-repetition medians of any form spread by more than --outlier (1.3x)
gets --extra-reps more repetitions (all implementations) in the same run.

This script needs only the standard library; the peers run in the venv
of bench/setup-peers.sh (bench/.venv or $EINJIT_PEERS_VENV).
"""
import argparse
import datetime
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import einsum_peers as EP  # noqa: E402  (standard library only)


def wl(eq, shapes, kind, form, note=""):
    return {"eq": eq, "shapes": shapes, "kind": kind, "form": form,
            "note": note}


# kind: "gemm" (GFLOP/s, % of FMA peak) or "mem" (GB/s of operand + result
# bytes). form: which named formulation the worker builds.
WORKLOADS = {
    "matmul_1000": wl("ij,jk->ik", [[1000, 1000]] * 2, "gemm", "matmul"),
    "matmul_999": wl("ij,jk->ik", [[999, 999]] * 2, "gemm", "matmul"),
    "matmul_1009": wl("ij,jk->ik", [[1009, 1009]] * 2, "gemm", "matmul"),
    "bmm_24x100": wl("bij,bjk->bik", [[24, 100, 100]] * 2, "gemm", "bmm",
                     "b24 100^3"),
    "bmm_64x128x64": wl("bij,bjk->bik", [[64, 128, 64], [64, 64, 128]], "gemm",
                        "bmm", "b64 M128 K64 N128"),
    "attn_scores": wl("bhqd,bhkd->bhqk", [[8, 12, 129, 64]] * 2, "gemm",
                      "scores", "b8 h12 s129 d64"),
    "attn_wsum": wl("bhqk,bhkd->bqhd", [[8, 12, 129, 129], [8, 12, 129, 64]],
                    "gemm", "wsum", "b8 h12 s129 d64, heads-interleaved output"),
    "mode_n": wl("ijk,lj->ilk", [[256, 256, 256], [128, 256]], "gemm", "moden",
                 "256^3 x (128x256)"),
    "reduce_j": wl("ijk->j", [[256, 256, 256]], "mem", "reduce", "256^3"),
    "transpose": wl("ijk->kji", [[256, 256, 256]], "mem", "transpose", "256^3"),
}
PEERS = ("numpy", "torch", "tf", "jax")
# form name -> column label; "einsum" forms against "named" forms.
EINSUM_FORM = {"numpy": "einsum", "torch": "einsum", "tf": "einsum",
               "tf_xla": "xla_einsum", "jax": "einsum"}


# ------------------------------------------------------------------ worker --

def worker(job):
    """Runs in the peers venv: times every form of every workload for one
    peer; prints one JSON line per workload."""
    import numpy as np
    peer, threads = job["peer"], job["threads"]
    info = {"peer": peer, "numpy": np.__version__,
            "affinity": sorted(os.sched_getaffinity(0))}
    if peer == "torch":
        import torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        info.update(torch=torch.__version__, threads=torch.get_num_threads())
    elif peer == "tf":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        info.update(tensorflow=tf.__version__)
    elif peer == "jax":
        import jax
        import jax.numpy as jnp
        info.update(jax=jax.__version__, devices=[str(d) for d in jax.devices()])
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [f"{p.get('internal_api')} {p.get('version')} "
                        f"{p.get('architecture')} x{p.get('num_threads')}"
                        for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl missing"
    print(json.dumps({"info": info}), flush=True)

    def forms_numpy(w, a, b, out):
        eq, f = w["eq"], w["form"]
        ops = (a,) if b is None else (a, b)
        forms = {"einsum": lambda: np.einsum(eq, *ops, optimize=True, out=out),
                 "einsum_noopt": lambda: np.einsum(eq, *ops, out=out)}
        if f in ("matmul", "bmm"):
            forms["matmul"] = lambda: np.matmul(a, b, out=out)
        elif f == "scores":
            forms["matmul(q, k^T)"] = lambda: np.matmul(a, b.swapaxes(-1, -2),
                                                        out=out)
        elif f == "wsum":
            forms["matmul + transpose copy"] = lambda: np.copyto(
                out, np.matmul(a, b).transpose(0, 2, 1, 3))
            forms["matmul(out=strided view)"] = lambda: np.matmul(
                a, b, out=out.transpose(0, 2, 1, 3))
        elif f == "moden":
            forms["matmul(m, x) broadcast"] = lambda: np.matmul(b, a, out=out)
            forms["tensordot + moveaxis copy"] = lambda: np.copyto(
                out, np.moveaxis(np.tensordot(a, b, axes=([1], [1])), 2, 1))
        elif f == "reduce":
            forms["sum(axis=(0,2))"] = lambda: np.sum(a, axis=(0, 2), out=out)
        elif f == "transpose":
            forms["transpose + copy"] = lambda: np.copyto(out, a.transpose(2, 1, 0))
        return {k: (lambda fn=fn: (fn(), out)[1]) for k, fn in forms.items()}

    def forms_torch(w, a, b):
        eq, f = w["eq"], w["form"]
        ops = (a,) if b is None else (a, b)
        ptrs = {t.untyped_storage().data_ptr() for t in ops}

        def dense(fn):
            """fn, or fn followed by a copy when its result is a view of an
            input or not contiguous (einjit writes a new contiguous array)."""
            r = fn()
            # contiguity first: clone() keeps a permuted view's strides
            if not r.is_contiguous():
                return (lambda: fn().contiguous()), True
            if r.untyped_storage().data_ptr() in ptrs:
                return (lambda: fn().clone()), True
            return fn, False
        forms = {"einsum": dense(lambda: torch.einsum(eq, *ops))}
        if f == "matmul":
            forms["matmul"] = dense(lambda: torch.matmul(a, b))
        elif f == "bmm":
            forms["bmm"] = dense(lambda: torch.bmm(a, b))
        elif f == "scores":
            forms["matmul(q, k^T)"] = dense(lambda: torch.matmul(a, b.transpose(-1, -2)))
        elif f == "wsum":
            forms["matmul + transpose copy"] = dense(
                lambda: torch.matmul(a, b).transpose(1, 2).contiguous())
        elif f == "moden":
            forms["matmul(m, x) broadcast"] = dense(lambda: torch.matmul(b, a))
            forms["tensordot + permute copy"] = dense(
                lambda: torch.tensordot(a, b, dims=([1], [1])).permute(0, 2, 1).contiguous())
        elif f == "reduce":
            forms["sum(dim=(0,2))"] = dense(lambda: a.sum(dim=(0, 2)))
        elif f == "transpose":
            forms["permute + contiguous"] = dense(
                lambda: a.permute(2, 1, 0).contiguous())
        return forms

    def tf_named(f, tf):
        if f in ("matmul", "bmm"):
            return {"linalg.matmul": lambda a, b: tf.linalg.matmul(a, b)}
        if f == "scores":
            return {"linalg.matmul(transpose_b)":
                    lambda a, b: tf.linalg.matmul(a, b, transpose_b=True)}
        if f == "wsum":
            return {"linalg.matmul + transpose": lambda a, b: tf.transpose(
                tf.linalg.matmul(a, b), [0, 2, 1, 3])}
        if f == "moden":
            return {"linalg.matmul(m, x) broadcast": lambda a, b: tf.linalg.matmul(b, a),
                    "tensordot + transpose": lambda a, b: tf.transpose(
                        tf.tensordot(a, b, axes=[[1], [1]]), [0, 2, 1])}
        if f == "reduce":
            return {"reduce_sum(axis=[0,2])": lambda a: tf.reduce_sum(a, axis=[0, 2])}
        if f == "transpose":
            return {"transpose": lambda a: tf.transpose(a, [2, 1, 0])}
        raise AssertionError(f)

    def jax_named(f, jnp):
        if f in ("matmul", "bmm"):
            return {"matmul": lambda a, b: jnp.matmul(a, b)}
        if f == "scores":
            return {"matmul(q, k^T)": lambda a, b: jnp.matmul(a, jnp.swapaxes(b, -1, -2))}
        if f == "wsum":
            return {"matmul + transpose": lambda a, b: jnp.transpose(
                jnp.matmul(a, b), (0, 2, 1, 3))}
        if f == "moden":
            return {"matmul(m, x) broadcast": lambda a, b: jnp.matmul(b, a),
                    "tensordot + moveaxis": lambda a, b: jnp.moveaxis(
                        jnp.tensordot(a, b, axes=([1], [1])), 2, 1)}
        if f == "reduce":
            return {"sum(axis=(0,2))": lambda a: jnp.sum(a, axis=(0, 2))}
        if f == "transpose":
            return {"transpose": lambda a: jnp.transpose(a, (2, 1, 0))}
        raise AssertionError(f)

    def build(w, ops, ref):
        """{form: (fn, copied)}; fn returns something np.asarray takes."""
        a, b = ops[0], (ops[1] if len(ops) > 1 else None)
        if peer == "numpy":
            out = np.empty(ref.shape, ref.dtype)  # C order, as einjit's result
            return {k: (fn, False) for k, fn in forms_numpy(w, a, b, out).items()}
        if peer == "torch":
            ts = [torch.from_numpy(o) for o in ops]
            forms = forms_torch(w, ts[0], ts[1] if len(ts) > 1 else None)
            return forms
        if peer == "tf":
            ts = [tf.constant(o) for o in ops]
            eq = w["eq"]
            fns = {"einsum": lambda *x: tf.einsum(eq, *x), **tf_named(w["form"], tf)}
            forms = {k: ((lambda fn=fn: fn(*ts)), False) for k, fn in fns.items()}
            for k, fn in fns.items():
                jit = tf.function(fn, jit_compile=True)
                forms[f"xla_{k}"] = ((lambda jit=jit: jit(*ts)), False)
            return forms
        if peer == "jax":
            ts = [jax.device_put(o) for o in ops]
            eq = w["eq"]
            fns = {"einsum": lambda *x: jnp.einsum(eq, *x), **jax_named(w["form"], jnp)}
            return {k: ((lambda f=jax.jit(fn): f(*ts).block_until_ready()), False)
                    for k, fn in fns.items()}
        raise AssertionError(peer)

    def to_numpy(r):
        return np.asarray(r.numpy() if hasattr(r, "numpy") else r)

    runs, max_s = job["runs"], job["max_case_seconds"]
    for w in job["workloads"]:
        try:
            rng = np.random.default_rng(0)
            ops = [rng.uniform(-1, 1, size=tuple(s)).astype(np.float32)
                   for s in w["shapes"]]
            ref = np.einsum(w["eq"], *ops, optimize=True).astype(np.float32)
            forms = build(w, ops, ref)
            scale = max(float(np.max(np.abs(ref))), 1.0)
            res, first = {}, {}
            for k, (fn, copied) in forms.items():
                t = time.perf_counter()
                r0 = fn()
                first[k] = time.perf_counter() - t
                got = to_numpy(r0)
                ok = got.shape == ref.shape and bool(
                    np.allclose(got, ref, rtol=1e-3, atol=1e-4 * scale))
                # every form must deliver a dense row-major result, as einjit
                ok = ok and (not hasattr(r0, "is_contiguous") or r0.is_contiguous())
                del r0
                res[k] = {"copy": copied, "check": "ok" if ok else "MISMATCH",
                          "times": []}
                start, calls = time.perf_counter(), 0
                # numpy's optimize=False einsum is slow: 1 warm-up call
                while calls < (1 if k == "einsum_noopt" else 3) or \
                        (k != "einsum_noopt" and time.perf_counter() - start < 0.05):
                    fn()
                    calls += 1
            names = list(forms)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for r in range(runs):
                # call by call in turn, the order rotated each round
                for k in names[r % len(names):] + names[:r % len(names)]:
                    if k == "einsum_noopt" and len(res[k]["times"]) >= 5:
                        continue
                    fn = forms[k][0]
                    t = time.perf_counter()
                    fn()
                    res[k]["times"].append(time.perf_counter() - t)
                if r >= 2 and time.perf_counter() - wall0 > max_s:
                    break
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            for k, v in res.items():
                ts = sorted(v.pop("times"))
                v.update(min=ts[0], median=statistics.median(ts), calls=len(ts),
                         first=first[k])
            print(json.dumps({"case": w["name"], "forms": res,
                              "cpu_per_wall": cpu / wall if wall else 0}), flush=True)
        except Exception as e:  # one workload failing does not end the peer
            print(json.dumps({"case": w["name"],
                              "error": f"{type(e).__name__}: {str(e)[:300]}"}),
                  flush=True)
    return 0


# ------------------------------------------------------------ orchestrator --

def run_peer(python, peer, threads, workloads, args):
    job = {"peer": peer, "threads": threads, "runs": args.runs,
           "max_case_seconds": args.max_case_seconds, "workloads": workloads}
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([python, os.path.abspath(__file__), "--worker",
                             json.dumps(job)], stdout=subprocess.PIPE,
                            stderr=err, text=True, env=EP.peer_env(threads),
                            preexec_fn=EP.pin(threads))
    info, got = None, {}
    for line in proc.stdout:
        line = line.strip()
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        if "info" in msg:
            info = msg["info"]
        elif "case" in msg:
            got[msg.pop("case")] = msg
    proc.wait()
    if proc.returncode:
        err.seek(0)
        tail = " | ".join(err.read().strip().splitlines()[-3:])[:400]
        got["__fatal__"] = tail or f"exit {proc.returncode}"
    err.close()
    return info, got


def explain(einsum_run, w):
    out = subprocess.run([einsum_run, w["eq"], *map(EP.spec, w["shapes"]),
                          "--explain"], capture_output=True, text=True).stdout
    return [ln.strip() for ln in out.splitlines()
            if ln.strip().startswith(("step", "kernel:", "why:", "target:"))]


def med(xs):
    return statistics.median(xs) if xs else None


def aggregate(samples):
    """samples[(t, impl, case, form)] = [per-repetition medians] -> median."""
    return {k: med(v) for k, v in samples.items()}


def fmt_ms(s):
    if s is None:
        return "–"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def summarize(args, threads_list, names, peers, samples, flops, ceilings):
    agg = aggregate(samples)
    rows = []
    for t in threads_list:
        for n in names:
            w = WORKLOADS[n]
            row = {"threads": t, "case": n, "eq": w["eq"], "peers": {}}
            e = agg.get((t, "einjit", n, "einsum"))
            row["einjit"] = e
            if e and w["kind"] == "gemm" and flops.get(n):
                g = flops[n] / e * 1e-9
                row["einjit_rate"] = f"{g:.0f} GFLOP/s"
                row["einjit_pct"] = 100 * g / ceilings[t]["fma_gflops"]
            elif e:
                nbytes = 4 * (sum(math.prod(s) for s in w["shapes"]) + EP.out_elems(w))
                g = nbytes / e * 1e-9
                row["einjit_rate"] = f"{g:.1f} GB/s"
                row["einjit_pct"] = 100 * g / ceilings[t]["copy_gbs"]
            best_named = None
            for p in peers:
                sub = [("tf", "einsum", ""), ("tf_xla", "xla_einsum", "xla_")] \
                    if p == "tf" else [(p, "einsum", "")]
                for label, ekey, prefix in sub:
                    forms = {f: v for (tt, imp, c, f), v in agg.items()
                             if tt == t and imp == p and c == n and v is not None}
                    if prefix:
                        forms = {f[len(prefix):]: v for f, v in forms.items()
                                 if f.startswith(prefix)}
                    else:
                        forms = {f: v for f, v in forms.items()
                                 if not f.startswith("xla_")}
                    ein = forms.get("einsum")
                    named = {f: v for f, v in forms.items()
                             if f not in ("einsum", "einsum_noopt")}
                    if not named or ein is None:
                        continue
                    bf = min(named, key=named.get)
                    # per-repetition ratio (same process, same phase), median
                    rr = []
                    for i, ev in enumerate(samples.get((t, p, n, prefix + "einsum"), [])):
                        nv = samples.get((t, p, n, prefix + bf), [])
                        if i < len(nv):
                            rr.append(nv[i] / ev)
                    pr = {"einsum": ein, "named": named[bf], "named_form": bf,
                          "ratio": med(rr), "all_named": named}
                    if "einsum_noopt" in forms:
                        pr["noopt"] = forms["einsum_noopt"]
                    row["peers"][label] = pr
                    if best_named is None or named[bf] < best_named[0]:
                        best_named = (named[bf], f"{label} {bf}")
            if best_named and e:
                row["best_named"] = best_named[1]
                row["best_named_time"] = best_named[0]
                row["einjit_vs_best_named"] = best_named[0] / e
                # The same comparison in each one's fastest repetition (the
                # VM's slow phases move whole processes by 30-50%).
                eb = min(samples[(t, "einjit", n, "einsum")])
                nb = min((min(v), f"{'tf_xla' if f.startswith('xla_') else imp} "
                          f"{f[4:] if f.startswith('xla_') else f}")
                         for (tt, imp, c, f), v in samples.items()
                         if tt == t and c == n and imp != "einjit" and v
                         and f not in ("einsum", "einsum_noopt", "xla_einsum"))
                row.update(einjit_best_rep=eb, best_named_best_rep=nb[0],
                           best_named_best_rep_form=nb[1],
                           einjit_vs_best_named_best_rep=nb[0] / eb)
            rows.append(row)
    return rows


LABELS = {"numpy": "numpy", "torch": "torch", "tf": "tf eager",
          "tf_xla": "tf XLA", "jax": "jax.jit"}


def markdown(rows, threads_list, peer_labels, ceilings, noisy):
    out = []
    for t in threads_list:
        rs = [r for r in rows if r["threads"] == t]
        c = ceilings[t]
        out.append(f"\n### {t} thread{'s' if t > 1 else ''} (fp32 FMA peak "
                   f"{c['fma_gflops']:.0f} GFLOP/s, memcpy {c['copy_gbs']:.1f} GB/s)\n")
        out.append("Ratio named / einsum (time of the peer's best named form over "
                   "its einsum's, same process; below 1: the named op is faster, "
                   "einsum costs more), and einjit against the best named op of "
                   "any peer (its time / einjit's; above 1: einjit is faster).\n")
        head = ["workload"] + [LABELS[p] for p in peer_labels] + \
            ["np.einsum no optimize / optimize", "einjit ms", "best named op (ms)",
             "best named / einjit", "fastest repetitions: einjit ms, "
             "best named (ms), ratio"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for r in rs:
            cells = [f"{r['case']} `{r['eq']}`"]
            for p in peer_labels:
                pr = r["peers"].get(p)
                cells.append(f"{pr['ratio']:.2f}" if pr and pr["ratio"] else "–")
            npr = r["peers"].get("numpy", {})
            cells.append(f"{npr['noopt'] / npr['einsum']:.1f}x"
                         if npr.get("noopt") else "–")
            e = r.get("einjit")
            cells.append(f"{fmt_ms(e)} ({r.get('einjit_rate', '')}, "
                         f"{r.get('einjit_pct', 0):.0f}%)" if e else "–")
            cells.append(f"{r['best_named']} ({fmt_ms(r['best_named_time'])})"
                         if r.get("best_named") else "–")
            cells.append(f"{r['einjit_vs_best_named']:.2f}"
                         if r.get("einjit_vs_best_named") else "–")
            cells.append(f"{fmt_ms(r['einjit_best_rep'])}, "
                         f"{r['best_named_best_rep_form']} "
                         f"({fmt_ms(r['best_named_best_rep'])}), "
                         f"{r['einjit_vs_best_named_best_rep']:.2f}"
                         if r.get("einjit_best_rep") else "–")
            out.append("| " + " | ".join(cells) + " |")
        out.append("\nMedian times in ms, einsum / best named form:\n")
        head = ["workload", "einjit"] + [LABELS[p] for p in peer_labels]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for r in rs:
            cells = [r["case"], fmt_ms(r.get("einjit"))]
            for p in peer_labels:
                pr = r["peers"].get(p)
                cells.append(f"{fmt_ms(pr['einsum'])} / {fmt_ms(pr['named'])} "
                             f"({pr['named_form']})" if pr else "–")
            out.append("| " + " | ".join(cells) + " |")
        nz = [k for k, v in noisy.items() if v and k.endswith(f"@{t}")]
        if nz:
            out.append(f"\nPhases during which another process used CPU or the "
                       f"hypervisor stole time: {', '.join(sorted(nz))}.")
    return "\n".join(out) + "\n"


def render(path):
    """Prints the tables of a --json file again (no new measurement)."""
    with open(path) as f:
        d = json.load(f)
    a = d["args"]
    threads_list = [int(t) for t in a["threads"].split(",")]
    names, peers = a["cases"].split(","), [p for p in a["peers"].split(",") if p]
    samples = {}
    for k, v in d["samples"].items():
        t, impl, n, form = k.split("|", 3)
        samples[(int(t), impl, n, form)] = v
    flops = d.get("flops") or {
        n: EP.contraction_flops(WORKLOADS[n]["eq"], WORKLOADS[n]["shapes"])
        for n in names if WORKLOADS[n]["kind"] == "gemm"}
    ceilings = {int(k): v for k, v in d["ceilings"].items()}
    rows = summarize(None, threads_list, names, peers, samples, flops, ceilings)
    peer_labels = [x for p in peers for x in (["tf", "tf_xla"] if p == "tf" else [p])]
    sys.stdout.write(markdown(rows, threads_list, peer_labels, ceilings, d["noisy"]))
    return 0


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        return worker(json.loads(sys.argv[2]))
    if len(sys.argv) > 2 and sys.argv[1] == "--render":
        return render(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("einsum_run")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--runs", type=int, default=15,
                    help="timed calls of each form in a repetition")
    ap.add_argument("--max-case-seconds", type=float, default=6.0)
    ap.add_argument("--cases", default=",".join(WORKLOADS))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--outlier", type=float, default=1.3)
    ap.add_argument("--extra-reps", type=int, default=2)
    ap.add_argument("--quiet-wait", type=float, default=300)
    ap.add_argument("--python", help="the peers' python (default: bench/.venv)")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    names = args.cases.split(",")
    peers = [p for p in args.peers.split(",") if p]
    for n in names:
        if n not in WORKLOADS:
            ap.error(f"unknown workload {n}: {', '.join(WORKLOADS)}")
    for p in peers:
        if p not in PEERS:
            ap.error(f"unknown peer {p}: {', '.join(PEERS)}")
    python = EP.find_python(args)

    def log(s):
        print(s, flush=True)
    log(f"CPU: {EP.cpu_name()}, {os.cpu_count()} CPUs; "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}")
    log(f"einsum-run: {EP.binary_info(args.einsum_run)}")
    env_blas = {k: os.environ.pop(k) for k in ("OPENBLAS_CORETYPE",
                                               "OPENBLAS_L2_SIZE") if k in os.environ}
    log(f"OPENBLAS_CORETYPE/L2_SIZE: {env_blas or 'not set'}; unset for this run")
    tmp = tempfile.mkdtemp(prefix="linalg-vs-einsum-")
    try:
        ceilings = EP.measure_ceilings(EP.build_fma_peak(tmp), threads_list,
                                       args, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for t, c in sorted(ceilings.items()):
        log(f"fp32 FMA peak, {t} pinned thread(s): {c['fma_gflops']:.1f} GFLOP/s; "
            f"memcpy {c['copy_gbs']:.1f} GB/s{'  (noisy)' if c['noisy'] else ''}")

    wls = {n: dict(WORKLOADS[n], name=n) for n in names}
    explains = {n: explain(args.einsum_run, w) for n, w in wls.items()}
    samples, flops, infos, noisy, phases = {}, {}, {}, {}, []
    impls = ["einjit"] + peers

    def one_rep(rep, todo):
        for t in threads_list:
            order = impls[rep % len(impls):] + impls[:rep % len(impls)]
            for impl in order:
                quiet = EP.wait_quiet(f"{impl} {t}t rep {rep + 1}",
                                      args.quiet_wait, log)
                ph = EP.Phase()
                errs = {}
                if impl == "einjit":
                    for n in todo:
                        w = wls[n]
                        r = EP.run_einjit(args.einsum_run, w["eq"], w["shapes"],
                                          args.runs, t)
                        if "error" in r:
                            errs[n] = r["error"]
                            continue
                        flops[n] = r["flops"]
                        samples.setdefault((t, "einjit", n, "einsum"), []).append(r["median"])
                else:
                    info, got = run_peer(python, impl, t, [wls[n] for n in todo], args)
                    if info and (t, impl) not in infos:
                        infos[(t, impl)] = info
                        log(f"  {impl} ({t}t): {json.dumps(info)}")
                    for n, msg in got.items():
                        if "error" in msg or n == "__fatal__":
                            errs[n] = msg if n == "__fatal__" else msg["error"]
                            continue
                        for f, v in msg["forms"].items():
                            samples.setdefault((t, impl, n, f), []).append(v["median"])
                            if v["check"] != "ok":
                                errs[f"{n}/{f}"] = v["check"]
                n_ = ph.end()
                bad = n_["noisy"] or not quiet
                noisy[f"{impl}@{t}"] = noisy.get(f"{impl}@{t}", False) or bad
                phases.append({"rep": rep, "threads": t, "impl": impl,
                               "cases": todo, **n_})
                log(f"  rep {rep + 1} {impl} {t}t: other processes "
                    f"{n_['other_cores']:.2f} cores, steal {n_['steal']:.1%}"
                    + (" (noisy)" if bad else "")
                    + (f"; errors: {errs}" if errs else ""))

    for rep in range(args.reps):
        one_rep(rep, names)
    # Outliers: a workload whose per-repetition medians spread too far.
    spread = {}
    for (t, impl, n, f), v in samples.items():
        if len(v) > 1 and f != "einsum_noopt":
            spread[n] = max(spread.get(n, 1.0), max(v) / min(v))
    rerun = [n for n in names if spread.get(n, 1.0) > args.outlier]
    if rerun and args.extra_reps:
        log(f"outliers (per-repetition spread > {args.outlier}x): "
            + ", ".join(f"{n} {spread[n]:.2f}x" for n in rerun)
            + f"; {args.extra_reps} more repetitions of these")
        for i in range(args.extra_reps):
            one_rep(args.reps + i, rerun)

    rows = summarize(args, threads_list, names, peers, samples, flops, ceilings)
    peer_labels = [x for p in peers for x in (["tf", "tf_xla"] if p == "tf" else [p])]
    log("\nworkloads and einjit's --explain:")
    for n in names:
        w = wls[n]
        log(f"  {n:14} {w['eq']:17} {' '.join(map(EP.spec, w['shapes']))}")
        for ln in explains[n]:
            if not ln.startswith("target:"):
                log(f"      {ln}")
    md = markdown(rows, threads_list, peer_labels, ceilings, noisy)
    log(md)
    if rerun:
        log(f"reran (outliers): {', '.join(rerun)}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": EP.cpu_name(), "einsum_run": EP.binary_info(args.einsum_run),
                       "args": vars(args), "ceilings": {str(k): v for k, v in ceilings.items()},
                       "explain": explains, "rows": rows, "flops": flops,
                       "samples": {"|".join(map(str, k)): v for k, v in samples.items()},
                       "spread": spread, "rerun": rerun,
                       "peers": {f"{p}@{t}": i for (t, p), i in infos.items()},
                       "noisy": noisy, "phases": phases}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
