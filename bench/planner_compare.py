#!/usr/bin/env python3
"""einjit's contraction-path planner beside opt_einsum's, flops and time.

For every equation of bench/planner_reference.py's sets (opt_einsum's test
equations, random tensor networks, memory-limited rows) and each strategy
(greedy, optimal, dp, auto), plans with opt_einsum
(`contract_path(..., shapes=True)`) and with einjit

    EINSUM_RUN '<equation>' f32:2x3 f32:3x4 ... --explain=json \\
        --strategy=<greedy|optimal|dp|auto> [--memory-limit=BYTES]

(BYTES = opt_einsum's limit in elements * 4, f32), and reports both flop
counts and the ratio einjit/opt_einsum. A ratio above 1 is a violation: they
are printed loudly and the exit status is 1. So are einjit errors on rows
without a memory limit, einjit paths whose intermediates exceed the memory
limit, crashes, timeouts (60 s a call) and output that does not parse.
einjit errors under a memory limit are listed but are not violations
(opt_einsum itself falls back to one all-operand step there, or raises).

Also printed, per row: opt_einsum's flop count of einjit's own path (when it
differs from einjit's `flops` the two cost models disagree: "model
mismatch"), and the exact optimum of opt_einsum's cost model over all
pairwise trees (planner_reference.exact_optimum, up to --exact-max
operands), which opt_einsum's own `optimal` misses now and then (its search
scores a step as an inner product only when a label shared by both operands
is summed, contract_path whenever any label is).

Largest intermediates: opt_einsum's PathInfo.largest_intermediate counts the
final output; einjit's `largest_intermediate` does not, so the table shows
opt_einsum's largest step result without the output beside einjit's.

Planning time: random networks rand_equation(n, 3, n_out=2, d_max=8) for
n = 4, 8, 12, 16 and a few seeds; opt_einsum's greedy, optimal (n <= 8; a
call over 10 s is a "timeout"), dp and auto timed with time.perf_counter
(median of repeats, in a forked process), einjit's `plan_seconds` from its
JSON; a table of times and ratios, and with --plot-png a log-scale plot of
planning time against operand count, one line per strategy per library.

usage (the bench venv: bench/setup-peers.sh):
    bench/.venv/bin/python bench/planner_compare.py build/bin/einsum-run \\
        --markdown bench/results/planner.md --json bench/results/planner.json \\
        --plot-png bench/results/planner-time.png
    bench/.venv/bin/python bench/planner_compare.py --opt-only   # opt_einsum side only
"""
import argparse
import json
import math
import multiprocessing
import os
import shlex
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planner_reference as ref  # noqa: E402
from planner_reference import oe  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TSV = os.path.join(REPO, "test", "Inputs", "opt_einsum_paths.tsv")
BYTES_PER_ELEMENT = 4  # f32
RATIO_TOL = 1e-9
TIMING_NS = (4, 8, 12, 16)
OPT_TIMEOUT_S = 10.0


# ---------------------------------------------------------------- einjit

def einjit_command(einsum_run, equation, shapes, strategy, memory_limit):
    cmd = [einsum_run, equation] + ["f32:" + "x".join(str(d) for d in s) for s in shapes]
    cmd += ["--explain=json", f"--strategy={strategy}"]
    if memory_limit is not None:
        cmd.append(f"--memory-limit={memory_limit * BYTES_PER_ELEMENT}")
    return cmd


def _parse_json_object(text):
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object on stdout")
    obj, _ = json.JSONDecoder().raw_decode(text[start:])
    return obj


REQUIRED = ("flops", "path", "largest_intermediate")


def run_einjit(einsum_run, equation, shapes, strategy, memory_limit, timeout):
    """{'status': ok|error|crash|timeout|parse, 'message', 'json', 'cmd', 'seconds'}."""
    cmd = einjit_command(einsum_run, equation, shapes, strategy, memory_limit)
    shown = " ".join(shlex.quote(c) for c in cmd)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "message": f"no answer in {timeout:g} s", "cmd": shown,
                "seconds": timeout}
    except OSError as e:
        return {"status": "crash", "message": str(e), "cmd": shown, "seconds": 0.0}
    seconds = time.perf_counter() - t0
    out = {"cmd": shown, "seconds": seconds}
    err_lines = [l for l in p.stderr.splitlines() if "error:" in l]
    if p.returncode == 1 and err_lines:
        msg = err_lines[0]
        if msg.startswith("einsum-run: error: "):
            msg = msg[len("einsum-run: error: "):]
        return dict(out, status="error", message=msg)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or [""])[-1][:300]
        return dict(out, status="crash", message=f"exit {p.returncode}: {tail}")
    try:
        obj = _parse_json_object(p.stdout)
    except ValueError as e:
        return dict(out, status="parse", message=f"{e}: {p.stdout[:200]!r}")
    if not isinstance(obj, dict):
        return dict(out, status="parse", message="stdout JSON is not an object")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        return dict(out, status="parse", message="missing keys " + ", ".join(missing), json=obj)
    return dict(out, status="ok", message="", json=obj)


def ssa_path_check(ssa_path, n):
    """Validate an SSA path (lists of ids; operands 0..n-1, step k makes n+k)
    and turn it into opt_einsum's linear form. Raises ValueError."""
    alive = list(range(n))
    linear = []
    for k, step in enumerate(ssa_path):
        step = [int(i) for i in step]
        if not step:
            raise ValueError(f"step {k} is empty")
        if len(set(step)) != len(step):
            raise ValueError(f"step {k} uses an id twice: {step}")
        pos = []
        for i in step:
            if i not in alive:
                raise ValueError(f"step {k} uses id {i}, which is not live")
            pos.append(alive.index(i))
        linear.append(tuple(sorted(pos)))
        for i in step:
            alive.remove(i)
        alive.append(n + k)
    if len(alive) != 1:
        raise ValueError(f"{len(alive)} tensors left after the path")
    return linear


# ---------------------------------------------------------------- rows

def opt_auto_choice(n):
    if n <= 2:
        return "single step"
    names = {oe.paths.optimal: "optimal", oe.paths.branch_all: "branch-all",
             oe.paths.branch_2: "branch-2", oe.paths.branch_1: "branch-1",
             oe.paths.greedy: "greedy"}
    return names.get(oe.paths._AUTO_CHOICES.get(n, oe.paths.greedy), "?")


def load_reference(path):
    table = {}
    if path and os.path.exists(path):
        for f in ref.read_tsv(path):
            table[tuple(f[:4])] = f[4:]
    return table


def compare_rows(args, cases):
    reference = load_reference(args.reference)
    rows = []
    exact_cache = {}
    total = sum(len([s for s in c.strategies if s in args.strategies]) for c in cases)
    done = 0
    for case in cases:
        key = (case.equation, case.shapes)
        if key not in exact_cache:
            exact_cache[key] = (ref.exact_optimum(case.equation, case.shapes, args.exact_max)
                                if case.memory_limit is None else None)
        exact = exact_cache[key]
        for strategy in case.strategies:
            if strategy not in args.strategies:
                continue
            done += 1
            opt = ref.opt_plan(case.equation, case.shapes, strategy, case.memory_limit)
            row = {
                "set": case.set, "source": case.name, "equation": case.equation,
                "shapes": ref.format_shapes(case.shapes), "n": case.n,
                "strategy": strategy, "memory_limit": case.memory_limit,
                "opt": {k: v for k, v in opt.items() if k != "seconds"},
                "opt_chosen": opt_auto_choice(case.n) if strategy == "auto" else strategy,
                "exact": exact, "problems": [], "notes": [],
            }
            if opt["error"] is None:
                opt["path_text"] = ref.format_path(opt["path"])
                row["opt"]["path_text"] = opt["path_text"]
                multi = [s for s in opt["path"] if len(s) > 2]
                if multi and case.memory_limit is not None:
                    row["notes"].append("opt_einsum fell back to a %d-operand step" % max(map(len, multi)))
            # the checked-in reference
            tsv_key = tuple(ref.row_fields(case, strategy, opt)[:4])
            want = reference.get(tsv_key)
            got = ref.row_fields(case, strategy, opt)[4:]
            if reference and want is None:
                row["notes"].append("not in the reference TSV")
            elif want is not None and want != got:
                row["problems"].append(f"opt_einsum now gives {got}, the TSV says {want}")
            if not args.opt_only:
                row["einjit"] = einjit_side(args, case, strategy, opt, row)
            rows.append(row)
            if args.progress:
                print(f"\r[{done}/{total}]", end="", file=sys.stderr, flush=True)
    if args.progress:
        print(file=sys.stderr)
    return rows


def einjit_side(args, case, strategy, opt, row):
    res = run_einjit(args.einsum_run, case.equation, case.shapes, strategy,
                     case.memory_limit, args.timeout)
    ein = {"status": res["status"], "message": res["message"], "cmd": res["cmd"]}
    if res["status"] == "error":
        if case.memory_limit is None:
            row["problems"].append("einjit error without a memory limit: " + res["message"])
        return ein
    if res["status"] != "ok":
        row["problems"].append(f"einjit {res['status']}: {res['message']}")
        return ein
    j = res["json"]
    ein.update({k: j.get(k) for k in ("strategy", "chosen", "flops", "naive_flops",
                                      "largest_intermediate", "plan_seconds", "path")})
    try:
        flops = float(j["flops"])
    except (TypeError, ValueError):
        row["problems"].append(f"einjit flops is not a number: {j['flops']!r}")
        ein["status"] = "parse"
        return ein
    ein["flops"] = flops
    if j.get("strategy") not in (None, strategy):
        row["problems"].append(f"einjit says strategy {j.get('strategy')!r}, asked {strategy!r}")
    try:
        linear = ssa_path_check(j["path"], case.n)
        ein["path_text"] = ref.format_path(linear)
        cost, sizes = ref.path_cost(case.equation, case.shapes, linear)
        ein["opt_cost_of_path"] = cost
        ein["largest_of_path"] = max(sizes[:-1], default=0)
        if abs(cost - flops) > 1e-9 * max(cost, flops, 1):
            row["notes"].append(f"model mismatch: opt_einsum counts {cost} for einjit's path, "
                                f"einjit says {flops:g}")
            ein["model_mismatch"] = True
        if case.memory_limit is not None and ein["largest_of_path"] > case.memory_limit:
            row["problems"].append(f"einjit's path builds {ein['largest_of_path']} elements, "
                                   f"over the limit of {case.memory_limit}")
    except (ValueError, TypeError, KeyError, IndexError, AssertionError) as e:
        row["problems"].append(f"einjit path unusable: {e}: {j.get('path')!r}")
    if opt["error"] is None:
        ratio = flops / max(opt["flops"], 1)
        ein["ratio"] = ratio
        if ratio > 1 + RATIO_TOL:
            row["problems"].append(f"ratio {ratio:.4f} > 1: einjit {flops:g} flops, "
                                   f"opt_einsum {opt['flops']}")
    return ein


# ---------------------------------------------------------------- timing

def _time_child(conn, equation, shapes, strategy):
    try:
        t0 = time.perf_counter()
        oe.contract_path(equation, *shapes, shapes=True, optimize=strategy)
        first = time.perf_counter() - t0
        conn.send(("first", first))
        times = [first]
        if first < 1.0:
            budget_end = time.perf_counter() + 0.5
            while len(times) < 25 and (len(times) < 3 or time.perf_counter() < budget_end):
                t0 = time.perf_counter()
                oe.contract_path(equation, *shapes, shapes=True, optimize=strategy)
                times.append(time.perf_counter() - t0)
        conn.send(("done", times))
    except Exception as e:  # noqa: BLE001
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def time_opt(equation, shapes, strategy, timeout=OPT_TIMEOUT_S):
    """Median planning seconds of opt_einsum (forked process; None + status on timeout)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_time_child, args=(child, equation, shapes, strategy))
    p.start()
    child.close()
    try:
        if not parent.poll(timeout):
            return {"status": "timeout", "seconds": None, "repeats": 0}
        kind, val = parent.recv()
        if kind == "first":
            if not parent.poll(timeout + 5):
                return {"status": "ok", "seconds": val, "repeats": 1}
            kind, val = parent.recv()
        if kind == "error":
            return {"status": "error", "seconds": None, "repeats": 0, "message": val}
        return {"status": "ok", "seconds": statistics.median(val), "repeats": len(val)}
    finally:
        if p.is_alive():
            p.kill()
        p.join()
        parent.close()


def timing_cases(seeds):
    out = []
    for n in TIMING_NS:
        for seed in seeds:
            eq, shapes = ref.testing.rand_equation(n, 3, n_out=2, d_min=2, d_max=8, seed=seed)
            out.append((n, seed, ref.relabel(eq), tuple(map(tuple, shapes))))
    return out


def run_timing(args):
    rows = []
    cases = timing_cases(range(1, args.timing_seeds + 1))
    for n, seed, eq, shapes in cases:
        for strategy in ref.STRATEGIES:
            if strategy not in args.strategies:
                continue
            if strategy == "optimal" and n > ref.OPTIMAL_MAX_OPERANDS:
                continue
            t = time_opt(eq, shapes, strategy)
            row = {"n": n, "seed": seed, "equation": eq, "shapes": ref.format_shapes(shapes),
                   "strategy": strategy, "opt": t}
            if not args.opt_only:
                res = run_einjit(args.einsum_run, eq, shapes, strategy, None, args.timeout)
                e = {"status": res["status"], "message": res["message"]}
                if res["status"] == "ok":
                    ps = res["json"].get("plan_seconds")
                    if isinstance(ps, (int, float)):
                        e["seconds"] = float(ps)
                        e["chosen"] = res["json"].get("chosen")
                    else:
                        e["status"] = "parse"
                        e["message"] = f"plan_seconds missing or not a number: {ps!r}"
                row["einjit"] = e
            rows.append(row)
            if args.progress:
                print(f"\rtiming n={n} seed={seed} {strategy:8s}", end="", file=sys.stderr, flush=True)
    if args.progress:
        print(file=sys.stderr)
    return rows


# ---------------------------------------------------------------- reports

def fmt_num(x):
    if x is None:
        return "-"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.4g}"
    x = int(x)
    return f"{x}" if abs(x) < 10**7 else f"{x:.3e}"


def fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def short(eq, width=48):
    return eq if len(eq) <= width else eq[:width - 1] + "…"


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def summarize(rows, opt_only):
    summary = {}
    for s in ref.STRATEGIES:
        rs = [r for r in rows if r["strategy"] == s]
        if not rs:
            continue
        d = {"rows": len(rs),
             "opt_errors": sum(1 for r in rs if r["opt"]["error"]),
             "opt_above_exact": sum(1 for r in rs if r["exact"] and not r["opt"]["error"]
                                    and r["opt"]["flops"] > r["exact"]["flops"]),
             "opt_below_exact": sum(1 for r in rs if r["exact"] and not r["opt"]["error"]
                                    and r["opt"]["flops"] < r["exact"]["flops"])}
        if not opt_only:
            ratios = [r["einjit"]["ratio"] for r in rs if r.get("einjit", {}).get("ratio") is not None]
            d.update({
                "compared": len(ratios),
                "einjit_errors": sum(1 for r in rs if r["einjit"]["status"] == "error"),
                "einjit_failures": sum(1 for r in rs if r["einjit"]["status"] not in ("ok", "error")),
                "max_ratio": max(ratios, default=None),
                "geomean_ratio": geomean(ratios),
                "better": sum(1 for x in ratios if x < 1 - RATIO_TOL),
                "equal": sum(1 for x in ratios if abs(x - 1) <= RATIO_TOL),
                "worse": sum(1 for x in ratios if x > 1 + RATIO_TOL),
                "model_mismatch": sum(1 for r in rs if r["einjit"].get("model_mismatch")),
                "einjit_at_exact": sum(1 for r in rs if r["exact"] and r["einjit"].get("flops") is not None
                                       and abs(r["einjit"]["flops"] - r["exact"]["flops"]) <= 1e-9 * r["exact"]["flops"]),
                "einjit_above_exact": sum(1 for r in rs if r["exact"] and r["einjit"].get("flops") is not None
                                          and r["einjit"]["flops"] > r["exact"]["flops"] * (1 + 1e-9)),
            })
        summary[s] = d
    return summary


def markdown(rows, summary, timing, opt_only, einsum_run):
    L = []
    L.append("# einjit planner vs opt_einsum")
    L.append("")
    L.append(f"opt_einsum {oe.__version__}" + ("" if opt_only else f"; einjit: `{einsum_run}`")
             + f"; {len(rows)} rows. Ratio = einjit flops / opt_einsum flops (above 1: einjit worse). "
             "`exact` = the cheapest pairwise tree under opt_einsum's flop count. Largest: "
             "opt_einsum's largest step result without the output (with it, as PathInfo "
             "reports, in brackets) / einjit's largest intermediate. Memory limits in elements.")
    L.append("")
    L.append("## Summary by strategy")
    L.append("")
    if opt_only:
        L.append("| strategy | rows | opt_einsum errors | opt_einsum above exact | below exact (single-operand steps) |")
        L.append("|---|---:|---:|---:|---:|")
        for s, d in summary.items():
            L.append(f"| {s} | {d['rows']} | {d['opt_errors']} | {d['opt_above_exact']} | {d['opt_below_exact']} |")
    else:
        L.append("| strategy | rows | compared | einjit errors | failures | max ratio | geomean ratio "
                 "| better | equal | worse | model mismatch | einjit = exact | einjit > exact "
                 "| opt_einsum > exact |")
        L.append("|---|" + "---:|" * 14)
        for s, d in summary.items():
            L.append(f"| {s} | {d['rows']} | {d['compared']} | {d['einjit_errors']} | "
                     f"{d['einjit_failures']} | {fmt_num(d['max_ratio'])} | {fmt_num(d['geomean_ratio'])} | "
                     f"{d['better']} | {d['equal']} | {d['worse']} | {d['model_mismatch']} | "
                     f"{d['einjit_at_exact']} | {d['einjit_above_exact']} | {d['opt_above_exact']} |")
    L.append("")
    problems = [r for r in rows if r["problems"]]
    if problems:
        L.append(f"## Violations ({len(problems)})")
        L.append("")
        for r in problems:
            for p in r["problems"]:
                L.append(f"- `{r['equation']}` {r['shapes']} {r['strategy']}"
                         f"{'' if r['memory_limit'] is None else ' limit ' + str(r['memory_limit'])}: {p}")
        L.append("")
    L.append("## Rows")
    L.append("")
    if opt_only:
        L.append("| set | equation | n | strategy | limit | opt flops | exact | largest | opt path | notes |")
        L.append("|---|---|---:|---|---:|---:|---:|---:|---|---|")
    else:
        L.append("| set | equation | n | strategy | limit | opt flops | einjit flops | ratio | exact "
                 "| largest opt [incl. out] / einjit | opt path | einjit path | notes |")
        L.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        o, ex = r["opt"], r["exact"]
        lim = "-" if r["memory_limit"] is None else str(r["memory_limit"])
        strat = r["strategy"] + (f" ({r['opt_chosen']})" if r["strategy"] == "auto" else "")
        if o["error"]:
            oflops, olarge, opath = "error", "-", o["error"]
        else:
            oflops = fmt_num(o["flops"])
            olarge = f"{fmt_num(o['largest_intermediate_no_output'])} [{fmt_num(o['largest_intermediate'])}]"
            opath = o["path_text"]
        exs = fmt_num(ex["flops"]) if ex else "-"
        notes = "; ".join(r["notes"] + r["problems"])
        if opt_only:
            L.append(f"| {r['set']} | `{short(r['equation'])}` | {r['n']} | {strat} | {lim} | {oflops} | "
                     f"{exs} | {olarge} | {short(opath, 40)} | {notes} |")
            continue
        e = r["einjit"]
        if e["status"] == "ok":
            ef, ratio = fmt_num(e["flops"]), fmt_num(e.get("ratio"))
            el, ep = fmt_num(e.get("largest_intermediate")), e.get("path_text", "?")
            if r["strategy"] == "auto" and e.get("chosen"):
                ep = f"[{e['chosen']}] {ep}"
        else:
            ef, ratio, el, ep = e["status"], "-", "-", e["message"]
        flag = " **!**" if r["problems"] else ""
        L.append(f"| {r['set']} | `{short(r['equation'])}` | {r['n']} | {strat} | {lim} | {oflops} | "
                 f"{ef} | {ratio}{flag} | {exs} | {olarge} / {el} | {short(opath, 40)} | {short(ep, 40)} | {notes} |")
    L.append("")
    if timing:
        L.extend(timing_markdown(timing, opt_only))
    return "\n".join(L) + "\n"


def timing_markdown(timing, opt_only):
    L = ["## Planning time", "",
         "rand_equation(n, 3, n_out=2, d_min=2, d_max=8, seed); opt_einsum: median of repeats of "
         "`contract_path(..., shapes=True)`; einjit: `plan_seconds`. speedup = opt_einsum / einjit.", ""]
    L.append("| n | seed | strategy | opt_einsum | einjit | speedup |" if not opt_only else
             "| n | seed | strategy | opt_einsum | repeats |")
    L.append("|---:|---:|---|---:|---:|---:|" if not opt_only else "|---:|---:|---|---:|---:|")
    for t in timing:
        o = t["opt"]
        os_ = fmt_time(o["seconds"]) if o["status"] == "ok" else o["status"]
        if opt_only:
            L.append(f"| {t['n']} | {t['seed']} | {t['strategy']} | {os_} | {o['repeats']} |")
            continue
        e = t["einjit"]
        es = fmt_time(e.get("seconds")) if e["status"] == "ok" else e["status"]
        sp = (f"{o['seconds'] / e['seconds']:.1f}x" if o["status"] == "ok" and e["status"] == "ok"
              and e["seconds"] else "-")
        L.append(f"| {t['n']} | {t['seed']} | {t['strategy']} | {os_} | {es} | {sp} |")
    L.append("")
    L.append("Median over seeds:")
    L.append("")
    agg = timing_medians(timing, opt_only)
    L.append("| n | strategy | opt_einsum | einjit | speedup |")
    L.append("|---:|---|---:|---:|---:|")
    for (n, s), (ot, et) in sorted(agg.items()):
        sp = f"{ot / et:.1f}x" if ot and et else "-"
        L.append(f"| {n} | {s} | {fmt_time(ot) if ot else 'timeout'} | {fmt_time(et)} | {sp} |")
    L.append("")
    return L


def timing_medians(timing, opt_only):
    agg = {}
    for key in sorted({(t["n"], t["strategy"]) for t in timing}):
        ts = [t for t in timing if (t["n"], t["strategy"]) == key]
        ot = [t["opt"]["seconds"] for t in ts if t["opt"]["status"] == "ok"]
        et = [] if opt_only else [t["einjit"]["seconds"] for t in ts if t["einjit"]["status"] == "ok"]
        # a timeout anywhere makes the median unknown
        omed = statistics.median(ot) if ot and len(ot) == len(ts) else None
        emed = statistics.median(et) if et and len(et) == len(ts) else None
        agg[key] = (omed, emed)
    return agg


def plot(timing, opt_only, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    agg = timing_medians(timing, opt_only)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = {"greedy": "tab:blue", "optimal": "tab:red", "dp": "tab:green", "auto": "tab:purple"}
    for lib, idx, style in (("opt_einsum", 0, "--"), ("einjit", 1, "-")):
        if lib == "einjit" and opt_only:
            continue
        for s in ref.STRATEGIES:
            pts = [(n, v[idx]) for (n, st), v in sorted(agg.items()) if st == s and v[idx]]
            if pts:
                ax.plot(*zip(*pts), style, marker="o", color=colors[s], label=f"{lib} {s}")
    ax.set_yscale("log")
    ax.set_xlabel("operands (rand_equation, regularity 3)")
    ax.set_ylabel("planning time per plan (s)")
    ax.set_xticks(TIMING_NS)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("contraction-path planning time")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("einsum_run", nargs="?", help="path of einsum-run (omit with --opt-only)")
    ap.add_argument("--json", metavar="OUT", help="write every row and timing as JSON")
    ap.add_argument("--markdown", metavar="OUT", help="write the tables here (default: stdout)")
    ap.add_argument("--plot-png", metavar="OUT", help="plot planning time against operand count")
    ap.add_argument("--opt-only", action="store_true", help="opt_einsum's side only (no einjit)")
    ap.add_argument("--sets", default="oe-tests,random,memory",
                    help="comma-separated: oe-tests, random, memory (default: all)")
    ap.add_argument("--strategies", default=",".join(ref.STRATEGIES))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per einsum-run call")
    ap.add_argument("--exact-max", type=int, default=10,
                    help="exact optimum up to this many operands (3^n work)")
    ap.add_argument("--reference", default=DEFAULT_TSV,
                    help="check opt_einsum's answers against this TSV ('' to skip)")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--timing-only", action="store_true")
    ap.add_argument("--timing-seeds", type=int, default=3)
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    if not args.opt_only and not args.einsum_run:
        ap.error("EINSUM_RUN is required (or --opt-only)")
    if args.einsum_run and not os.path.exists(args.einsum_run):
        ap.error(f"{args.einsum_run} does not exist")
    args.strategies = [s for s in args.strategies.split(",") if s]
    bad = [s for s in args.strategies if s not in ref.STRATEGIES]
    if bad:
        ap.error(f"unknown strategies {bad}")
    args.progress = not args.quiet and sys.stderr.isatty()

    rows = []
    if not args.timing_only:
        cases = ref.all_cases(tuple(args.sets.split(",")))
        rows = compare_rows(args, cases)
    timing = [] if args.no_timing else run_timing(args)

    summary = summarize(rows, args.opt_only) if rows else {}
    text = markdown(rows, summary, timing, args.opt_only, args.einsum_run)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"opt_einsum_version": oe.__version__, "einsum_run": args.einsum_run,
                       "summary": summary, "rows": rows, "timing": timing}, f, indent=1, default=str)
    if args.plot_png and timing:
        plot(timing, args.opt_only, args.plot_png)

    if args.markdown:
        # stdout: the summary, the violations and the timing tables
        keep, skipping = [], False
        for line in text.splitlines():
            if line.startswith("## Rows"):
                skipping = True
            elif line.startswith("## "):
                skipping = False
            if not skipping:
                keep.append(line)
        print("\n".join(keep))
    else:
        print(text)

    problems = [(r, p) for r in rows for p in r["problems"]]
    timing_fail = [t for t in timing if not args.opt_only and t["einjit"]["status"] not in ("ok",)]
    if problems or timing_fail:
        bar = "!" * 72
        print(bar, file=sys.stderr)
        print(f"!!! {len(problems)} VIOLATION(S)" + (f", {len(timing_fail)} failed timing run(s)"
                                                    if timing_fail else ""), file=sys.stderr)
        for r, p in problems[:50]:
            lim = "" if r["memory_limit"] is None else f" limit={r['memory_limit']}"
            print(f"!!! {r['equation']} [{r['shapes']}] {r['strategy']}{lim}: {p}", file=sys.stderr)
        if len(problems) > 50:
            print(f"!!! ... and {len(problems) - 50} more (see the markdown / JSON)", file=sys.stderr)
        for t in timing_fail[:10]:
            print(f"!!! timing n={t['n']} seed={t['seed']} {t['strategy']}: einjit "
                  f"{t['einjit']['status']}: {t['einjit']['message']}", file=sys.stderr)
        print(bar, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    ref.ensure_hash_seed()
    sys.exit(main())
