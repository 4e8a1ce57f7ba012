#!/usr/bin/env python3
"""einjit's contraction-path planner beside opt_einsum's, flops and time.

For every equation of bench/planner_reference.py's sets (opt_einsum's test
equations, random tensor networks, memory-limited rows) and each strategy
(greedy, optimal, dp, auto), plans with opt_einsum
(`contract_path(..., shapes=True)`) and with einjit

    EINSUM_RUN '<equation>' f32:2x3 f32:3x4 ... --explain=json \\
        --strategy=<greedy|optimal|dp|auto> [--memory-limit=BYTES]

(BYTES = opt_einsum's limit in elements * 4, f32), and reports both flop
counts and the ratio einjit/opt_einsum.

Without a memory limit the strategies mean the same in both libraries, and
a ratio above 1 is a violation (the issue: einjit's flop count must never
exceed opt_einsum's for the same strategy). So are einjit errors, crashes,
timeouts (60 s a call), output that does not parse, a `strategy` or
`memory_limit_bytes` other than asked, and paths that are not valid SSA
paths. Also printed, per row: opt_einsum's flop count of einjit's own path
(when it differs from einjit's `flops` the two cost models disagree: "model
mismatch"), whether einjit's `largest_intermediate` is its path's, and the
exact optimum of opt_einsum's cost model over all pairwise trees
(planner_reference.exact_optimum, up to --exact-max operands), which
opt_einsum's own `optimal` misses now and then (its search scores a step as
an inner product only when a label shared by both operands is summed,
contract_path whenever any label is).

Under a memory limit the rules differ, so the ratio alone proves nothing:
einjit caps intermediates only (not the output), keeps greedy's rule among
the pairs that fit (and runs optimal-under-the-cap if greedy dead-ends), and
refuses with the smallest limit that works when no pairwise tree fits;
opt_einsum's greedy runs branch(nbranch=1) under any limit, greedy, optimal
and auto fall back to one step over every remaining operand when no pair
fits, and dp also caps the output and raises. Memory rows are judged by:
  - every einjit path keeps its intermediates within the limit;
  - every einjit refusal is right (no pairwise tree fits:
    planner_reference.exact_smallest_cap) and names that smallest limit;
  - einjit's optimal (and auto up to 10 operands, and any strategy that
    fell back to optimal) costs no more than the exact optimum under the
    limit;
  - where opt_einsum ran the same search (optimal; dp) and its path is one
    einjit may take (pairwise, intermediates within the limit), einjit does
    not cost more ("judged" rows).
The ratio to opt_einsum's greedy (branch-1) under a limit is reported, not
judged; instead the report counts the rows where opt_einsum's unlimited
greedy path fits the limit and einjit's capped greedy matches it.

Largest intermediates: opt_einsum's PathInfo.largest_intermediate counts the
final output; einjit's `largest_intermediate` does not, so the table shows
opt_einsum's largest step result without the output beside einjit's.

Planning time: random networks rand_equation(n, 3, n_out=2, d_max=8) for
n = 4, 8, 12, 16 and --timing-seeds seeds; opt_einsum's greedy, optimal, dp
and auto timed with time.perf_counter (median of repeats, in a forked
process; a first call over 10 s is a "timeout"), einjit's `plan_seconds`
from its JSON; tables of times and ratios, the issue's targets (greedy on 8
operands within 0.1 ms, every strategy faster than opt_einsum's), and with
--plot-png a log-scale plot of planning time against operand count, one line
per strategy per library, opt_einsum's timeouts as crosses at 10 s.

usage (the bench venv: bench/setup-peers.sh):
    bench/.venv/bin/python bench/planner_compare.py build/bin/einsum-run \\
        --markdown bench/results/planner.md --json bench/results/planner.json \\
        --plot-png docs/img/planner-time-emerald-rapids.png
    bench/.venv/bin/python bench/planner_compare.py --opt-only   # opt_einsum side only
Exit status 1 on any violation or failed timing run.
"""
import argparse
import json
import math
import re
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
EXACT_MAX_SHOWN = [10]   # --exact-max, for the report
TIMING_NS = (4, 8, 12, 16)
OPT_TIMEOUT_S = 10.0
AUTO_OPTIMAL_OPERANDS = 10   # einjit's kAutoOptimalOperands


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
        key = (case.equation, case.shapes, case.memory_limit)
        if key not in exact_cache:
            # memory rows: the optimum among trees whose intermediates fit
            # the limit (einjit's rule), and the smallest limit any tree meets
            exact_cache[key] = (
                ref.exact_optimum(case.equation, case.shapes, args.exact_max, cap=case.memory_limit),
                None if case.memory_limit is None else ref.exact_smallest_cap(case.equation, case.shapes))
        exact, min_cap = exact_cache[key]
        for strategy in case.strategies:
            if strategy not in args.strategies:
                continue
            done += 1
            opt = ref.opt_plan(case.equation, case.shapes, strategy, case.memory_limit)
            opt_chosen = opt_auto_choice(case.n) if strategy == "auto" else strategy
            if case.memory_limit is not None and opt_chosen == "greedy" and case.n > 2:
                opt_chosen = "branch-1"   # opt_einsum's greedy() under any memory limit
            row = {
                "set": case.set, "source": case.name, "equation": case.equation,
                "shapes": ref.format_shapes(case.shapes), "n": case.n,
                "strategy": strategy, "memory_limit": case.memory_limit,
                "opt": {k: v for k, v in opt.items() if k != "seconds"},
                "opt_chosen": opt_chosen,
                "exact": exact, "min_cap": min_cap, "problems": [], "notes": [],
            }
            if opt["error"] is None:
                opt["path_text"] = ref.format_path(opt["path"])
                row["opt"]["path_text"] = opt["path_text"]
                multi = [s for s in opt["path"] if len(s) > 2]
                opt["fallback"] = bool(multi)
                row["opt"]["fallback"] = opt["fallback"]
                if multi and case.memory_limit is not None:
                    row["notes"].append("opt_einsum fell back to a %d-operand step" % max(map(len, multi)))
            if case.memory_limit is not None and strategy == "greedy":
                # einjit's greedy under a cap is still greedy: opt_einsum's
                # unlimited greedy path, for comparison
                g = ref.opt_plan(case.equation, case.shapes, "greedy")
                row["opt_greedy_unlimited"] = {k: g[k] for k in ("flops", "path", "step_sizes")}
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


SMALLEST_RE = re.compile(r"the smallest limit that works is (?:[0-9.]+ [KMGTPE]iB \()?([0-9]+) bytes")


def einjit_side(args, case, strategy, opt, row):
    res = run_einjit(args.einsum_run, case.equation, case.shapes, strategy,
                     case.memory_limit, args.timeout)
    ein = {"status": res["status"], "message": res["message"], "cmd": res["cmd"]}
    limited = case.memory_limit is not None
    if res["status"] == "error":
        if not limited:
            row["problems"].append("einjit error without a memory limit: " + res["message"])
        else:
            judge_memory_error(case, row, ein)
        return ein
    if res["status"] != "ok":
        row["problems"].append(f"einjit {res['status']}: {res['message']}")
        return ein
    j = res["json"]
    ein.update({k: j.get(k) for k in ("strategy", "chosen", "flops", "naive_flops",
                                      "largest_intermediate", "plan_seconds", "path",
                                      "path_text", "memory_limit_bytes")})
    ein["einjit_path_text"] = j.get("path_text")
    try:
        flops = float(j["flops"])
    except (TypeError, ValueError):
        row["problems"].append(f"einjit flops is not a number: {j['flops']!r}")
        ein["status"] = "parse"
        return ein
    ein["flops"] = flops
    if j.get("strategy") not in (None, strategy):
        row["problems"].append(f"einjit says strategy {j.get('strategy')!r}, asked {strategy!r}")
    want_bytes = case.memory_limit * BYTES_PER_ELEMENT if limited else 0
    if j.get("memory_limit_bytes") not in (None, want_bytes):
        row["problems"].append(f"einjit says memory_limit_bytes {j.get('memory_limit_bytes')!r}, "
                               f"asked {want_bytes}")
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
        if j.get("largest_intermediate") != ein["largest_of_path"]:
            row["notes"].append(f"einjit reports largest_intermediate {j.get('largest_intermediate')}, "
                                f"its path's intermediates reach {ein['largest_of_path']}")
        if limited and ein["largest_of_path"] > case.memory_limit:
            row["problems"].append(f"einjit's path builds {ein['largest_of_path']} elements, "
                                   f"over the limit of {case.memory_limit}")
    except (ValueError, TypeError, KeyError, IndexError, AssertionError) as e:
        row["problems"].append(f"einjit path unusable: {e}: {j.get('path')!r}")
    if opt["error"] is None:
        ein["ratio"] = flops / max(opt["flops"], 1)
    if limited:
        judge_memory_row(case, strategy, opt, row, ein)
    elif ein.get("ratio") is not None and ein["ratio"] > 1 + RATIO_TOL:
        row["problems"].append(f"ratio {ein['ratio']:.4f} > 1: einjit {flops:g} flops, "
                               f"opt_einsum {opt['flops']}")
    return ein


def einjit_algorithm(case, strategy, chosen):
    """What einjit ran: 'optimal' (exact under the cap), 'dp', 'greedy' or
    'min(dp, greedy)'."""
    chosen = chosen or ""
    if "optimal did" in chosen or strategy == "optimal":
        return "optimal"
    if strategy == "auto":
        return "optimal" if case.n <= AUTO_OPTIMAL_OPERANDS else "min(dp, greedy)"
    return strategy


def judge_memory_error(case, row, ein):
    """einjit refused: right only when no pairwise tree fits the limit, and
    the limit it names must be the smallest that does."""
    min_cap = row["min_cap"]
    ein["min_cap"] = min_cap
    if min_cap is None:
        return
    if min_cap <= case.memory_limit:
        row["problems"].append(f"einjit found no path, but a pairwise tree keeps every "
                               f"intermediate within {min_cap} <= {case.memory_limit} elements: "
                               + ein["message"])
        return
    m = SMALLEST_RE.search(ein["message"])
    named = int(m.group(1)) if m else None
    ein["named_bytes"] = named
    if named != min_cap * BYTES_PER_ELEMENT:
        row["problems"].append(f"einjit names {named} bytes as the smallest limit, the smallest "
                               f"is {min_cap * BYTES_PER_ELEMENT} bytes ({min_cap} elements)")


def judge_memory_row(case, strategy, opt, row, ein):
    """A plan under a limit. The two libraries' rules differ (see the module
    docstring), so the flop ratio to opt_einsum is a violation only where
    opt_einsum ran the same search and its path is one einjit could take
    (pairwise, intermediates within the limit); `optimal` (and `auto` up to
    10 operands) must also match the exact optimum under the limit."""
    algo = einjit_algorithm(case, strategy, ein.get("chosen"))
    ein["algorithm"] = algo
    flops = ein["flops"]
    exact = row["exact"]
    if algo == "optimal" and exact is not None and flops > exact["flops"] * (1 + RATIO_TOL):
        row["problems"].append(f"einjit {strategy} ({ein.get('chosen')}) costs {flops:g}, the best "
                               f"pairwise tree within the limit {exact['flops']}")
    feasible = (opt["error"] is None and not opt.get("fallback")
                and max(opt["step_sizes"][:-1], default=0) <= case.memory_limit)
    ein["opt_path_fits"] = feasible
    same = (algo == "optimal" or (algo == "dp" and row["opt_chosen"] == "dp"))
    ein["judged"] = same and feasible
    if same and feasible and ein.get("ratio") is not None and ein["ratio"] > 1 + RATIO_TOL:
        row["problems"].append(f"ratio {ein['ratio']:.4f} > 1: einjit {flops:g} flops, opt_einsum "
                               f"{row['opt_chosen']} {opt['flops']} with a path einjit may take")
    if strategy == "greedy" and algo == "greedy":
        g = row.get("opt_greedy_unlimited")
        if g and max(g["step_sizes"][:-1], default=0) <= case.memory_limit:
            ein["greedy_as_unlimited"] = abs(flops - g["flops"]) <= RATIO_TOL * g["flops"]
            if not ein["greedy_as_unlimited"]:
                row["notes"].append(f"opt_einsum's unlimited greedy path {ref.format_path(g['path'])} "
                                    f"fits the limit ({g['flops']} flops); einjit's capped greedy "
                                    f"went another way")


# ---------------------------------------------------------------- timing

def _time_child(conn, equation, shapes, strategy):
    try:
        t0 = time.perf_counter()
        _, info = oe.contract_path(equation, *shapes, shapes=True, optimize=strategy)
        first = time.perf_counter() - t0
        conn.send(("first", (first, int(info.opt_cost))))
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
        flops = None
        if kind == "first":
            first, flops = val
            if not parent.poll(timeout + 5):
                return {"status": "ok", "seconds": first, "repeats": 1, "flops": flops}
            kind, val = parent.recv()
        if kind == "error":
            return {"status": "error", "seconds": None, "repeats": 0, "message": val}
        return {"status": "ok", "seconds": statistics.median(val), "repeats": len(val), "flops": flops}
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
                        e["flops"] = res["json"].get("flops")
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


def _ratios(rs):
    return [r["einjit"]["ratio"] for r in rs if r.get("einjit", {}).get("ratio") is not None]


def summarize(rows, opt_only):
    """{"unlimited": {strategy: {...}}, "memory": {strategy: {...}}}."""
    summary = {"unlimited": {}, "memory": {}}
    for s in ref.STRATEGIES:
        rs = [r for r in rows if r["strategy"] == s and r["memory_limit"] is None]
        ms = [r for r in rows if r["strategy"] == s and r["memory_limit"] is not None]
        if rs:
            d = {"rows": len(rs),
                 "equations": len({(r["equation"], r["shapes"]) for r in rs}),
                 "opt_errors": sum(1 for r in rs if r["opt"]["error"]),
                 "opt_above_exact": sum(1 for r in rs if r["exact"] and not r["opt"]["error"]
                                        and r["opt"]["flops"] > r["exact"]["flops"]),
                 "opt_below_exact": sum(1 for r in rs if r["exact"] and not r["opt"]["error"]
                                        and r["opt"]["flops"] < r["exact"]["flops"])}
            if not opt_only:
                ratios = _ratios(rs)
                d.update({
                    "compared": len(ratios),
                    "einjit_errors": sum(1 for r in rs if r["einjit"]["status"] == "error"),
                    "einjit_failures": sum(1 for r in rs if r["einjit"]["status"] not in ("ok", "error")),
                    "max_ratio": max(ratios, default=None),
                    "min_ratio": min(ratios, default=None),
                    "geomean_ratio": geomean(ratios),
                    "better": sum(1 for x in ratios if x < 1 - RATIO_TOL),
                    "equal": sum(1 for x in ratios if abs(x - 1) <= RATIO_TOL),
                    "worse": sum(1 for x in ratios if x > 1 + RATIO_TOL),
                    "model_mismatch": sum(1 for r in rs if r["einjit"].get("model_mismatch")),
                    "einjit_at_exact": sum(1 for r in rs if r["exact"] and r["einjit"].get("flops") is not None
                                           and abs(r["einjit"]["flops"] - r["exact"]["flops"]) <= 1e-9 * r["exact"]["flops"]),
                    "einjit_above_exact": sum(1 for r in rs if r["exact"] and r["einjit"].get("flops") is not None
                                              and r["einjit"]["flops"] > r["exact"]["flops"] * (1 + 1e-9)),
                    "einjit_below_exact": sum(1 for r in rs if r["exact"] and r["einjit"].get("flops") is not None
                                              and r["einjit"]["flops"] < r["exact"]["flops"] * (1 - 1e-9)),
                    "violations": sum(1 for r in rs if r["problems"]),
                })
            summary["unlimited"][s] = d
        if ms:
            d = {"rows": len(ms),
                 "opt_errors": sum(1 for r in ms if r["opt"]["error"]),
                 "opt_fallbacks": sum(1 for r in ms if r["opt"].get("fallback")),
                 "no_tree_fits": sum(1 for r in ms if r["min_cap"] is not None
                                     and r["min_cap"] > r["memory_limit"])}
            if not opt_only:
                both = [r for r in ms if r["einjit"].get("ratio") is not None]
                judged = [r for r in both if r["einjit"].get("judged")]
                ratios, jratios = _ratios(both), _ratios(judged)
                d.update({
                    "einjit_planned": sum(1 for r in ms if r["einjit"]["status"] == "ok"),
                    "einjit_refused": sum(1 for r in ms if r["einjit"]["status"] == "error"),
                    "einjit_failures": sum(1 for r in ms if r["einjit"]["status"] not in ("ok", "error")),
                    "fell_back_to_optimal": sum(1 for r in ms if "optimal did" in (r["einjit"].get("chosen") or "")),
                    "compared": len(ratios),
                    "max_ratio": max(ratios, default=None),
                    "geomean_ratio": geomean(ratios),
                    "better": sum(1 for x in ratios if x < 1 - RATIO_TOL),
                    "worse": sum(1 for x in ratios if x > 1 + RATIO_TOL),
                    "judged": len(judged),
                    "judged_max_ratio": max(jratios, default=None),
                    "greedy_as_unlimited": sum(1 for r in ms if r["einjit"].get("greedy_as_unlimited")),
                    "greedy_unlimited_fits": sum(1 for r in ms if "greedy_as_unlimited" in r["einjit"]),
                    "violations": sum(1 for r in ms if r["problems"]),
                })
            summary["memory"][s] = d
    return summary


def markdown(rows, summary, timing, opt_only, einsum_run):
    L = []
    L.append("# einjit planner vs opt_einsum")
    L.append("")
    L.append(f"opt_einsum {oe.__version__}" + ("" if opt_only else f"; einjit: `{einsum_run}`")
             + f"; {len(rows)} rows. Ratio = einjit flops / opt_einsum flops (above 1: einjit worse). "
             "`exact` = the cheapest pairwise tree under opt_einsum's flop count (under a limit: "
             "among trees whose intermediates fit it). Largest: "
             "opt_einsum's largest step result without the output (with it, as PathInfo "
             "reports, in brackets) / einjit's largest intermediate. Memory limits in elements.")
    L.append("")
    uns = summary.get("unlimited", {})
    if uns:
        L.append("## Summary by strategy, no memory limit")
        L.append("")
    if not uns:
        pass
    elif opt_only:
        L.append("| strategy | rows | opt_einsum errors | opt_einsum above exact | below exact (single-operand steps) |")
        L.append("|---|---:|---:|---:|---:|")
        for s, d in uns.items():
            L.append(f"| {s} | {d['rows']} | {d['opt_errors']} | {d['opt_above_exact']} | {d['opt_below_exact']} |")
    else:
        L.append("Ratio = einjit flops / opt_einsum flops for the same strategy; the issue's "
                 "requirement is max ratio <= 1. `exact`: the cheapest pairwise tree "
                 f"(computed up to {EXACT_MAX_SHOWN[0]} operands); einjit can go below it with "
                 "single-operand steps (summing an operand's private labels first).")
        L.append("")
        L.append("| strategy | equations | compared | einjit errors | failures | max ratio | geomean ratio "
                 "| min ratio | einjit cheaper | equal | einjit dearer | model mismatch | einjit = exact "
                 "| einjit < exact | einjit > exact | opt_einsum > exact |")
        L.append("|---|" + "---:|" * 15)
        for s, d in uns.items():
            L.append(f"| {s} | {d['equations']} | {d['compared']} | {d['einjit_errors']} | "
                     f"{d['einjit_failures']} | {fmt_num(d['max_ratio'])} | {fmt_num(d['geomean_ratio'])} | "
                     f"{fmt_num(d['min_ratio'])} | {d['better']} | {d['equal']} | {d['worse']} | "
                     f"{d['model_mismatch']} | {d['einjit_at_exact']} | {d['einjit_below_exact']} | "
                     f"{d['einjit_above_exact']} | {d['opt_above_exact']} |")
    if uns:
        L.append("")
    mem = summary.get("memory", {})
    if mem:
        L.append("## Summary by strategy, under a memory limit")
        L.append("")
        L.append("The rules differ (einjit caps intermediates only and refuses when no pairwise tree "
                 "fits; opt_einsum's greedy turns into branch-1 under any limit, greedy/optimal/auto "
                 "fall back to one many-operand step, dp also caps the output and raises). "
                 "`no tree fits`: rows whose limit is below the smallest limit any pairwise tree "
                 "meets. `judged`: rows where opt_einsum ran the same search (optimal, dp; einjit's "
                 "optimal also against every feasible path) and its path is pairwise within the "
                 "limit, so einjit must not cost more. Every einjit path is checked against the "
                 "limit, every refusal against the smallest feasible limit (and the limit it names), "
                 "and einjit's optimal against the exact optimum under the limit.")
        L.append("")
        if opt_only:
            L.append("| strategy | rows | opt_einsum errors | opt_einsum fallbacks | no tree fits |")
            L.append("|---|---:|---:|---:|---:|")
            for s, d in mem.items():
                L.append(f"| {s} | {d['rows']} | {d['opt_errors']} | {d['opt_fallbacks']} | {d['no_tree_fits']} |")
        else:
            L.append("| strategy | rows | no tree fits | einjit refused | einjit planned | of which via optimal "
                     "| opt_einsum errors | opt_einsum fallbacks | both planned | max ratio | geomean "
                     "| einjit cheaper | einjit dearer | judged | judged max ratio | violations |")
            L.append("|---|" + "---:|" * 15)
            for s, d in mem.items():
                L.append(f"| {s} | {d['rows']} | {d['no_tree_fits']} | {d['einjit_refused']} | "
                         f"{d['einjit_planned']} | {d['fell_back_to_optimal']} | {d['opt_errors']} | "
                         f"{d['opt_fallbacks']} | {d['compared']} | {fmt_num(d['max_ratio'])} | "
                         f"{fmt_num(d['geomean_ratio'])} | {d['better']} | {d['worse']} | {d['judged']} | "
                         f"{fmt_num(d['judged_max_ratio'])} | {d['violations']} |")
            g = mem.get("greedy")
            if g:
                L.append("")
                L.append(f"greedy under a limit: in {g['greedy_as_unlimited']} of the "
                         f"{g['greedy_unlimited_fits']} rows where opt_einsum's unlimited greedy path "
                         "fits the limit, einjit's capped greedy costs the same as it (einjit keeps the "
                         "greedy rule; opt_einsum runs branch-1, so its ratio there is not judged).")
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
        L.append("| set | equation | n | strategy (opt_einsum's search) | limit | opt flops | einjit flops "
                 "| ratio | exact | largest opt [incl. out] / einjit | opt path | einjit path | notes |")
        L.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        o, ex = r["opt"], r["exact"]
        lim = "-" if r["memory_limit"] is None else str(r["memory_limit"])
        strat = r["strategy"] + (f" ({r['opt_chosen']})" if r["opt_chosen"] != r["strategy"] else "")
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
            if e.get("chosen") and e["chosen"] != r["strategy"]:
                ep = f"[{e['chosen']}] {ep}"
        elif e["status"] == "error" and e.get("min_cap") is not None:
            ef, ratio, el, ep = "refused", "-", "-", f"no tree fits; names {e.get('named_bytes')} bytes"
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
         "`contract_path(..., shapes=True)` (parsing and PathInfo included), in a forked process, "
         f"`timeout` = no answer in {OPT_TIMEOUT_S:g} s; einjit: `plan_seconds` of `--explain=json` "
         "(the mean of planContraction calls repeated for at least 20 ms, binding the equation "
         "excluded). speedup = opt_einsum / einjit. Flops: each library's path for that strategy.", ""]
    if opt_only:
        L.append("| n | seed | strategy | opt_einsum | repeats |")
        L.append("|---:|---:|---|---:|---:|")
    else:
        L.append("| n | seed | strategy | opt_einsum | einjit | speedup | opt_einsum flops | einjit flops | einjit ran |")
        L.append("|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for t in timing:
        o = t["opt"]
        os_ = fmt_time(o["seconds"]) if o["status"] == "ok" else o["status"]
        if opt_only:
            L.append(f"| {t['n']} | {t['seed']} | {t['strategy']} | {os_} | {o['repeats']} |")
            continue
        e = t["einjit"]
        es = fmt_time(e.get("seconds")) if e["status"] == "ok" else e["status"]
        if o["status"] == "ok" and e["status"] == "ok" and e["seconds"]:
            sp = f"{o['seconds'] / e['seconds']:.1f}x"
        elif o["status"] == "timeout" and e["status"] == "ok" and e["seconds"]:
            sp = f"> {OPT_TIMEOUT_S / e['seconds']:.0f}x"
        else:
            sp = "-"
        L.append(f"| {t['n']} | {t['seed']} | {t['strategy']} | {os_} | {es} | {sp} | "
                 f"{fmt_num(o.get('flops'))} | {fmt_num(e.get('flops'))} | {e.get('chosen') or '-'} |")
    L.append("")
    L.append("Median over seeds (a timeout counts as longer than any time; the slowest and "
             "fastest speedup over the seeds in the last column):")
    L.append("")
    agg = timing_medians(timing, opt_only)
    L.append("| n | strategy | opt_einsum | einjit | speedup | speedup range |")
    L.append("|---:|---|---:|---:|---:|---:|")
    for (n, s), a in sorted(agg.items()):
        ot, et = a["opt"], a["einjit"]
        if ot == math.inf and et:
            sp = f"> {OPT_TIMEOUT_S / et:.0f}x"
        else:
            sp = f"{ot / et:.1f}x" if ot and et else "-"
        rng = "-"
        if a["speedups"]:
            lo, hi = min(a["speedups"]), max(a["speedups"])
            rng = f"{lo:.1f}x - {hi:.1f}x" + (" (+ timeouts)" if a["timeouts"] else "")
        elif a["timeouts"]:
            rng = "all timeouts"
        L.append(f"| {n} | {s} | {'timeout' if ot == math.inf else fmt_time(ot)} | {fmt_time(et)} | {sp} | {rng} |")
    L.append("")
    if not opt_only:
        L.extend(timing_targets(timing))
    return L


def timing_targets(timing):
    L = ["Targets:", ""]
    g8 = [t["einjit"].get("seconds") for t in timing if t["n"] == 8 and t["strategy"] == "greedy"
          and t["einjit"]["status"] == "ok"]
    if g8:
        worst = max(g8)
        L.append(f"- greedy on 8 operands within 0.1 ms: slowest seed {fmt_time(worst)} "
                 f"({'met' if worst <= 1e-4 else 'NOT met'})")
    slower = [t for t in timing if t["einjit"]["status"] == "ok" and t["opt"]["status"] == "ok"
              and t["einjit"]["seconds"] >= t["opt"]["seconds"]]
    failed = [t for t in timing if t["einjit"]["status"] != "ok"]
    L.append(f"- every einjit strategy faster than opt_einsum's at every n and seed: "
             + ("met" if not slower and not failed else
                f"NOT met in {len(slower)} run(s)" + (f", {len(failed)} einjit failure(s)" if failed else "")
                + ": " + ", ".join(f"n={t['n']} seed={t['seed']} {t['strategy']}" for t in slower + failed)))
    L.append("")
    return L


def timing_medians(timing, opt_only):
    """{(n, strategy): {"opt", "einjit": median seconds (inf: timeout), "speedups", "timeouts"}}."""
    agg = {}
    for key in sorted({(t["n"], t["strategy"]) for t in timing}):
        ts = [t for t in timing if (t["n"], t["strategy"]) == key]
        ot = [t["opt"]["seconds"] if t["opt"]["status"] == "ok" else math.inf for t in ts]
        et = [] if opt_only else [t["einjit"]["seconds"] if t["einjit"]["status"] == "ok" else math.inf
                                  for t in ts]
        sp = [] if opt_only else [t["opt"]["seconds"] / t["einjit"]["seconds"] for t in ts
                                  if t["opt"]["status"] == "ok" and t["einjit"]["status"] == "ok"
                                  and t["einjit"]["seconds"]]
        agg[key] = {"opt": statistics.median_high(ot) if ot else None,
                    "einjit": statistics.median_high(et) if et else None,
                    "speedups": sp,
                    "timeouts": sum(1 for t in ts if t["opt"]["status"] == "timeout")}
    return agg


def plot(timing, opt_only, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    agg = timing_medians(timing, opt_only)
    fig, ax = plt.subplots(figsize=(9, 5))
    colors = {"greedy": "tab:blue", "optimal": "tab:red", "dp": "tab:green", "auto": "tab:purple"}
    timeouts = []
    for lib, style in (("opt_einsum", "--"), ("einjit", "-")):
        if lib == "einjit" and opt_only:
            continue
        key = "opt" if lib == "opt_einsum" else "einjit"
        for s in ref.STRATEGIES:
            pts = [(n, a[key]) for (n, st), a in sorted(agg.items())
                   if st == s and a[key] is not None and a[key] != math.inf]
            if pts:
                ax.plot(*zip(*pts), style, marker="o", color=colors[s], label=f"{lib} {s}")
            timeouts += [(n, s) for (n, st), a in sorted(agg.items()) if st == s and a[key] == math.inf]
    if timeouts:
        for n, s in timeouts:
            ax.plot([n], [OPT_TIMEOUT_S], marker="x", markersize=10, color=colors[s], linestyle="none")
        ax.axhline(OPT_TIMEOUT_S, color="gray", linewidth=0.8, linestyle=":")
        ax.annotate(f"x: opt_einsum timeout (> {OPT_TIMEOUT_S:g} s)", (TIMING_NS[0], OPT_TIMEOUT_S),
                    textcoords="offset points", xytext=(0, 5), fontsize=8, color="gray")
    ax.set_yscale("log")
    ax.set_xlabel("operands (rand_equation(n, 3, n_out=2, d_max=8); median over seeds)")
    ax.set_ylabel("planning time per plan (s)")
    ax.set_xticks(TIMING_NS)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("contraction-path planning time: einjit (solid) vs opt_einsum (dashed)", fontsize=10)
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
    ap.add_argument("--timing-seeds", type=int, default=5)
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    ap.add_argument("--from-json", metavar="FILE",
                    help="plan nothing: remake the reports (and the plot) from an earlier --json")
    args = ap.parse_args(argv)
    if not args.opt_only and not args.einsum_run and not args.from_json:
        ap.error("EINSUM_RUN is required (or --opt-only)")
    if args.einsum_run and not os.path.exists(args.einsum_run):
        ap.error(f"{args.einsum_run} does not exist")
    args.strategies = [s for s in args.strategies.split(",") if s]
    bad = [s for s in args.strategies if s not in ref.STRATEGIES]
    if bad:
        ap.error(f"unknown strategies {bad}")
    args.progress = not args.quiet and sys.stderr.isatty()
    EXACT_MAX_SHOWN[0] = args.exact_max

    rows = []
    if args.from_json:
        with open(args.from_json) as f:
            old = json.load(f)
        rows, timing = old["rows"], old["timing"]
        args.einsum_run = args.einsum_run or old.get("einsum_run")
        args.opt_only = not any("einjit" in r for r in rows + timing)
    else:
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
