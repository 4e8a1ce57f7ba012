#!/usr/bin/env python3
"""Reference contraction paths from opt_einsum, for einjit's path planner.

Writes test/Inputs/opt_einsum_paths.tsv: for a fixed set of equations and
shapes, what opt_einsum's greedy, optimal, dp and auto strategies return
(flop count, largest intermediate, linear path), with and without a memory
limit. The file in the repository was made with

    bench/.venv/bin/python bench/planner_reference.py -o test/Inputs/opt_einsum_paths.tsv

(bench/.venv is the peers' venv of bench/setup-peers.sh; opt_einsum 3.4.0).
Everything is deterministic: the random networks come from
opt_einsum.testing.rand_equation with fixed seeds (numpy's legacy seeded
stream), and the script re-runs itself with PYTHONHASHSEED=0 as a precaution,
since opt_einsum iterates over sets of labels in places (with opt_einsum
3.4.0 the file came out the same under every hash seed tried). Generation
takes about 2 s. `--check FILE` regenerates and compares.

Equation sets (the `SET` names below; bench/planner_compare.py reuses them):

  oe-tests    opt_einsum's own test equations: the `tests` list of
              tests/test_contract.py and the equations of tests/test_paths.py
              (read from the installed sources with `ast`, not imported: those
              modules need pytest), shapes from opt_einsum.testing.build_shapes
              (its default label sizes) or the shapes the test itself uses.
              Implicit-output equations are made explicit (numpy semantics:
              the labels seen once, sorted). Equations with `...`, one
              operand, a scalar operand or labels outside a-zA-Z are skipped.
              greedy, dp, auto, and optimal when there are at most 8 operands.
  random      opt_einsum.testing.rand_equation(n, reg, n_out, 2, d_max, seed)
              for n = 3..8 (all four strategies) and n = 10, 12, 16 (greedy,
              dp, auto), reg 2..4, n_out 0..3, d_max 4..10; labels renamed to
              a-zA-Z in order of first appearance.
  memory      memory-limited rows (limit in elements, as opt_einsum takes
              it): chains and small networks with a limit below the unlimited
              path's largest intermediate, opt_einsum's own memory tests
              ("max_input", tiny limits) and dp's "no contraction found".

TSV columns (tab separated; lines starting with # are comments):

  equation  shapes  strategy  memory_limit  flops  largest_intermediate  path

  equation              explicit `ins->out`, letters only
  shapes                operand shapes, dims joined by `x`, operands by `,`
  strategy              greedy | optimal | dp | auto  (opt_einsum's names;
                        dp = DynamicProgramming() defaults)
  memory_limit          `-` (none) or a number of elements
  flops                 PathInfo.opt_cost (integer): per step, the product of
                        the sizes of every label the step touches, times
                        max(1, operands - 1) + (1 if a label is summed away)
  largest_intermediate  PathInfo.largest_intermediate (elements): the
                        largest result of any step, the final output
                        included, the inputs not
  path                  the linear path, e.g. `(1,2)(0,1)`; a step consuming
                        every remaining operand at once, e.g. `(0,1,2,3)`, is
                        opt_einsum's fallback when the memory limit cannot be
                        met pairwise

A row where opt_einsum raised (only dp under a too small memory limit) has
`-` in flops and largest_intermediate and `error: <exception>` as its path.

opt_einsum 3.4.0's behaviour, as seen in this file:
  - Two operands (or fewer): one step (0,1) whatever the strategy.
  - `flops` is recomputed by contract_path from the path; the searches score
    steps differently: optimal/branch count a step as an inner product only
    when a label held by both operands is summed (so "optimal" misses the
    cheapest pairwise tree of `flops`, exact_optimum, in 8 of the 128
    unlimited optimal rows), dp scores a step as the size of its labels' union
    (no factor 2), leaves out outer products and first sums away, one
    operand at a time, labels no other operand or the output has: those
    single-operand steps, e.g. `(1)(0,2)...`, cost 2 x the operand's size
    and can beat every pairwise path.
  - greedy with any memory limit, however large, runs branch(nbranch=1), not
    the greedy it runs without one (another path in 60 of 144 cases).
  - Under a limit, greedy, optimal and auto never fail: when no pairwise step
    fits they contract all remaining operands in one step (`(0,1,2,3)`,
    `(1,2)(0,1,2)`), which may cost orders of magnitude more; the last step's
    result (the output) is never held to the limit. dp holds every step,
    the output included, to the limit and raises RuntimeError instead.
  - auto: optimal up to 4 operands, branch-all 5-6, branch-2 7-8, branch-1
    9-14, greedy beyond; at 7-8 operands it can do worse than greedy.

usage: planner_reference.py [-o OUT] [--check FILE] [--list]
"""
import argparse
import ast
import importlib
import importlib.util
import os
import sys
import time
import types
from dataclasses import dataclass
from typing import Optional, Tuple

STRATEGIES = ("greedy", "optimal", "dp", "auto")
OPTIMAL_MAX_OPERANDS = 8
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                           "Inputs", "opt_einsum_paths.tsv")


def ensure_hash_seed():
    """Re-exec with PYTHONHASHSEED=0 (opt_einsum's tie breaks follow set order)."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def _import_testing():
    """opt_einsum.testing imports pytest only for pytest.importorskip("numpy");
    bench/.venv has no pytest, so stand in for it while importing."""
    if importlib.util.find_spec("pytest") is not None:
        return importlib.import_module("opt_einsum.testing")
    stub = types.ModuleType("pytest")
    stub.importorskip = lambda name, *a, **k: importlib.import_module(name)
    sys.modules["pytest"] = stub
    try:
        return importlib.import_module("opt_einsum.testing")
    finally:
        del sys.modules["pytest"]


import opt_einsum as oe  # noqa: E402

testing = _import_testing()


# ---------------------------------------------------------------- cases

@dataclass
class Case:
    set: str                      # oe-tests | random | memory
    name: str                     # where it came from
    equation: str                 # explicit, letters only
    shapes: Tuple[Tuple[int, ...], ...]
    strategies: Tuple[str, ...]
    memory_limit: Optional[int] = None   # elements; None = unlimited
    note: str = ""

    @property
    def n(self):
        return len(self.shapes)


def strategies_for(n):
    return STRATEGIES if n <= OPTIMAL_MAX_OPERANDS else tuple(s for s in STRATEGIES if s != "optimal")


def format_shapes(shapes):
    return ",".join("x".join(str(d) for d in s) for s in shapes)


def parse_shapes(text):
    return tuple(tuple(int(d) for d in s.split("x")) for s in text.split(","))


def format_path(path):
    return "".join("(" + ",".join(str(i) for i in step) + ")" for step in path)


def parse_path(text):
    text = text.strip()
    assert text.startswith("(") and text.endswith(")"), text
    return [tuple(int(i) for i in step.split(",")) for step in text[1:-1].split(")(")]


def explicit(equation):
    """`ab,bc` -> `ab,bc->ac` (numpy's implicit output: labels seen once, sorted)."""
    if "->" in equation:
        return equation
    labels = equation.replace(",", "")
    out = "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    return equation + "->" + out


def usable(equation):
    """Letters only, at least two operands, no scalar operand, no ellipsis."""
    if "." in equation:
        return False
    ins, out = explicit(equation).split("->")
    terms = ins.split(",")
    return (len(terms) >= 2 and all(terms)
            and all(c in LETTERS for c in ins.replace(",", "") + out))


def relabel(equation, shapes=None):
    """Rename labels to a..zA..Z in order of first appearance (None: > 52 labels)."""
    mapping = {}
    for c in equation:
        if c not in ",->" and c not in mapping:
            mapping[c] = None
    if len(mapping) > len(LETTERS):
        return None
    for c, l in zip(list(mapping), LETTERS):
        mapping[c] = l
    return "".join(mapping.get(c, c) for c in equation)


def _site_tests_file(name):
    return os.path.join(os.path.dirname(oe.__file__), "tests", name)


def _module_assign(path, var):
    tree = ast.parse(open(path).read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == var for t in node.targets):
            return ast.literal_eval(node.value)
    raise KeyError(f"{var} not found in {path}")


def oe_test_cases():
    cases, seen = [], set()

    def add(name, equation, shapes=None):
        if not usable(equation):
            return
        eq = explicit(equation)
        if shapes is None:
            shapes = testing.build_shapes(eq)
        shapes = tuple(tuple(s) for s in shapes)
        key = (eq, shapes)
        if key in seen:
            return
        seen.add(key)
        cases.append(Case("oe-tests", name, eq, shapes, strategies_for(len(shapes))))

    for eq in _module_assign(_site_tests_file("test_contract.py"), "tests"):
        add("test_contract.tests", eq)
    for _alg, eq, _order in _module_assign(_site_tests_file("test_paths.py"), "path_edge_tests"):
        add("test_paths.path_edge_tests", eq)
    # Equations used inside test_paths.py's functions (shapes as there).
    add("test_paths.test_memory_paths", "abc,bdef,fghj,cem,mhk,ljk->adgl")
    d20 = {c: 20 for c in "abcdef"}
    add("test_paths.test_optimal_edge_cases", "a,ac,ab,ad,cd,bd,bc->",
        testing.build_shapes("a,ac,ab,ad,cd,bd,bc->", d20))
    add("test_paths.test_greedy_edge_cases", "abc,cfd,dbe,efa",
        testing.build_shapes("abc,cfd,dbe,efa", d20))
    add("test_paths.test_dp_edge_cases_dimension_1", "nlp,nlq,pl->n",
        [(1, 1, 1), (1, 1, 1), (1, 1)])
    add("test_paths.test_dp_edge_cases_all_singlet_indices", "a,bcd,efg->",
        [(2,), (2, 2, 2), (2, 2, 2)])
    add("test_paths.test_custom_dp_can_optimize_for_outer_products", "a,b,abc->c",
        [(2,), (2,), (2, 2, 3)])
    add("test_paths.test_can_optimize_outer_products", "ab,cd,ef,fg",
        [(10, 10), (10, 10), (10, 10), (10, 2)])
    add("test_paths.explicit_path_tests[GEMM1]", "abd,ac,bdc->",
        testing.build_shapes("abd,ac,bdc->", {"a": 1, "b": 2, "c": 3, "d": 4}))
    add("test_paths.explicit_path_tests[Inner1]", "abcd,abc,bc->",
        testing.build_shapes("abcd,abc,bc->", {"a": 5, "b": 2, "c": 3, "d": 4}))
    for seed, reg in ((43, 4), (42, 3)):
        eq, shapes = testing.rand_equation(10, reg, seed=seed)
        add(f"test_paths rand_equation(10, {reg}, seed={seed})", relabel(eq), shapes)
    for num_symbols in (26, 52):   # test_large_path: a chain, sizes 2,3,4,2,...
        symbols = LETTERS[:num_symbols]
        sizes = dict(zip(symbols, [2, 3, 4] * 20))
        eq = ",".join(symbols[t:t + 2] for t in range(num_symbols - 1))
        add(f"test_paths.test_large_path({num_symbols})", eq, testing.build_shapes(eq, sizes))
    return cases


# (n, reg, n_out, d_max) per seed: every n of 3..8 gets 9 networks, 10/12/16 get 4.
def random_specs():
    specs = []
    regs, n_outs, d_maxes = (2, 3, 4), (0, 1, 2, 3), (4, 5, 6, 7, 8, 9, 10)
    k = 0
    for n in (3, 4, 5, 6, 7, 8):
        for i in range(9):
            specs.append((n, regs[i % 3], n_outs[(i + n) % 4], d_maxes[(i + 2 * n) % 7], 1000 + k))
            k += 1
    for n in (10, 12, 16):
        for i in range(4):
            specs.append((n, regs[(i + 1) % 3], n_outs[(i + n) % 4], d_maxes[(i + n) % 7], 1000 + k))
            k += 1
    return specs


def random_cases():
    cases = []
    for n, reg, n_out, d_max, seed in random_specs():
        eq, shapes = testing.rand_equation(n, reg, n_out=n_out, d_min=2, d_max=d_max, seed=seed)
        eq = relabel(eq)
        if eq is None or not usable(eq):
            continue
        cases.append(Case("random", f"rand_equation({n}, {reg}, n_out={n_out}, d_min=2, "
                          f"d_max={d_max}, seed={seed})", eq, tuple(map(tuple, shapes)),
                          strategies_for(n)))
    return cases


MEMORY_STRATEGIES = ("greedy", "optimal", "dp", "auto")


def memory_cases():
    cases = []

    def add(name, eq, shapes, limits, note=""):
        shapes = tuple(tuple(s) for s in shapes)
        for lim in limits:
            cases.append(Case("memory", name, explicit(eq), shapes, MEMORY_STRATEGIES,
                              int(lim), note))

    # Chains a-b-c-d-e: the limits sit at and just under the unlimited
    # path's intermediates (the output never counts for greedy/optimal, whose
    # last step is the remaining pair either way; dp counts it).
    add("chain, thin middle", "ab,bc,cd,de->ae", [(8, 2), (2, 16), (16, 2), (2, 8)],
        [64, 63, 16, 15])
    add("chain, wide middle", "ab,bc,cd,de->ae", [(4, 32), (32, 32), (32, 32), (32, 4)],
        [128, 127, 16])
    add("chain of 6", "ab,bc,cd,de,ef,fg->ag",
        [(3, 40), (40, 5), (5, 40), (40, 5), (5, 40), (40, 3)], [25, 24, 14])
    # A star: the hub is cheapest to shrink first, but the caps forbid some orders.
    add("star", "abcd,ae,bf,cg,dh->efgh",
        [(6, 6, 6, 6), (6, 3), (6, 3), (6, 3), (6, 3)], [1296, 648, 324, 81])
    # opt_einsum's own memory tests.
    eq = "abc,bdef,fghj,cem,mhk,ljk->adgl"
    add("test_paths.test_memory_paths", eq, testing.build_shapes(eq), [5, 100, 1000])
    d20 = {c: 20 for c in "abcdef"}
    eq = "a,ac,ab,ad,cd,bd,bc->"
    add("test_paths.test_optimal_edge_cases (max_input)", eq, testing.build_shapes(eq, d20), [400])
    eq = "abc,cfd,dbe,efa->"
    add("test_paths.test_greedy_edge_cases (max_input)", eq, testing.build_shapes(eq, d20), [8000])
    eq = "abd,ac,bdc->"
    add("test_paths.explicit_path_tests[GEMM1]", eq,
        testing.build_shapes(eq, {"a": 1, "b": 2, "c": 3, "d": 4}), [5000, 1])
    # dp's test: the smallest feasible limit, and one below it (dp raises).
    eq, shapes = testing.rand_equation(10, 3, seed=42)
    width = oe.contract_path(eq, *shapes, shapes=True,
                             optimize=oe.DynamicProgramming(minimize="size"))[1].largest_intermediate
    cases_before = len(cases)
    add("test_paths.test_dp_errors_when_no_contractions_found", relabel(eq), shapes,
        [int(width), int(width) - 1])
    for c in cases[cases_before:]:
        c.strategies = ("greedy", "dp", "auto")
    # Random networks where a limit just under (and at half) the unlimited
    # optimum's largest intermediate (output excluded) makes optimal pick a
    # different all-pairwise path (seeds found by search; n_out = seed % 3).
    for n, seed in ((4, 4), (4, 8), (5, 1), (5, 4), (5, 5), (7, 1), (7, 3), (7, 6), (7, 7)):
        eq, shapes = testing.rand_equation(n, 3, n_out=seed % 3, d_min=2, d_max=8, seed=seed)
        eq = relabel(eq)
        sizes = opt_plan(eq, shapes, "optimal")["step_sizes"]
        widest = max(sizes[:-1])
        add(f"rand_equation({n}, 3, n_out={seed % 3}, d_min=2, d_max=8, seed={seed})",
            eq, shapes, sorted({widest - 1, widest // 2}, reverse=True))
    return cases


def all_cases(sets=("oe-tests", "random", "memory")):
    out = []
    if "oe-tests" in sets:
        out += oe_test_cases()
    if "random" in sets:
        out += random_cases()
    if "memory" in sets:
        out += memory_cases()
    return out


# ---------------------------------------------------------------- opt_einsum

def opt_plan(equation, shapes, strategy, memory_limit=None):
    """Plan with opt_einsum. Returns a dict (see keys below); on an exception
    the dict has `error` set and no flops."""
    kwargs = {}
    if memory_limit is not None:
        kwargs["memory_limit"] = memory_limit
    t0 = time.perf_counter()
    try:
        path, info = oe.contract_path(equation, *shapes, shapes=True, optimize=strategy, **kwargs)
    except Exception as e:  # dp: "No contraction found for given `memory_limit`."
        return {"error": f"{type(e).__name__}: {e}".replace("\t", " ").replace("\n", " "),
                "seconds": time.perf_counter() - t0}
    seconds = time.perf_counter() - t0
    sizes = [int(s) for s in info.size_list]
    return {
        "error": None,
        "flops": int(info.opt_cost),
        "naive_flops": int(info.naive_cost),
        # PathInfo.largest_intermediate: max over step results, output included.
        "largest_intermediate": int(info.largest_intermediate),
        # The same without the final step's result (what einjit reports).
        "largest_intermediate_no_output": max(sizes[:-1], default=0),
        "step_sizes": sizes,
        "path": [tuple(int(i) for i in step) for step in path],
        "seconds": seconds,
    }


def path_cost(equation, shapes, linear_path):
    """opt_einsum's flop count and step sizes of an explicit linear path."""
    _, info = oe.contract_path(equation, *shapes, shapes=True, optimize=[tuple(s) for s in linear_path])
    return int(info.opt_cost), [int(s) for s in info.size_list]


def exact_optimum(equation, shapes, max_operands=12, cap=None):
    """The true minimum of opt_einsum's flop count (contract_path's, the
    `flops` column) over every pairwise contraction tree, outer products
    included, single-operand steps not; by dynamic programming over subsets
    of operands (an intermediate's labels depend only on which operands it
    holds: a label stays while the output or an operand outside has it).

    Returns {"flops", "largest_intermediate_no_output", "path"} for a
    cheapest tree (the smallest largest-intermediate among equally cheap
    ones; path linear, opt_einsum's convention), or None above max_operands.
    With `cap` (elements), only trees whose intermediates (every step result
    but the output) hold at most `cap` elements count, einjit's memory-limit
    rule; None also when no tree meets it (see exact_smallest_cap).
    3^n work: about a second at n = 10, ten at n = 12."""
    ins, out = equation.split("->")
    terms = ins.split(",")
    n = len(terms)
    if n > max_operands:
        return None
    size = {}
    for t, shp in zip(terms, shapes):
        for c, d in zip(t, shp):
            size[c] = d
    output = frozenset(out)
    full = (1 << n) - 1

    def prod(labels):
        r = 1
        for c in labels:
            r *= size[c]
        return r

    union = [frozenset()] * (1 << n)
    for m in range(1, 1 << n):
        low = m & -m
        union[m] = union[m ^ low] | frozenset(terms[low.bit_length() - 1])
    # labels of the tensor a subset becomes; an operand is used as it is
    labels = [union[m] & (output | union[full ^ m]) for m in range(1 << n)]
    for i in range(n):
        labels[1 << i] = frozenset(terms[i])
    if n == 1:
        return {"flops": 0, "largest_intermediate_no_output": 0, "path": []}
    best = {1 << i: (0, 0, None) for i in range(n)}   # flops, width, split
    for m in sorted(range(1, 1 << n), key=lambda x: bin(x).count("1")):
        if m & (m - 1) == 0:
            continue
        result = union[m] & (output | union[full ^ m])
        rsize = 0 if m == full else prod(result)
        top = None
        if cap is not None and rsize > cap:
            best[m] = None
            continue
        low = m & -m
        sub = (m - 1) & m
        while sub:
            # each split once (the part with m's lowest operand first),
            # halves that break the cap left out
            if sub & low and best[sub] and best[m ^ sub]:
                a, b = best[sub], best[m ^ sub]
                contract = labels[sub] | labels[m ^ sub]
                step = prod(contract) * (1 + (1 if contract - result else 0))
                cand = (a[0] + b[0] + step, max(a[1], b[1], rsize), sub)
                if top is None or cand[:2] < top[:2]:
                    top = cand
            sub = (sub - 1) & m
        best[m] = top

    # SSA path in post-order, then linear ids
    ssa, ids = [], {1 << i: i for i in range(n)}

    def build(m):
        if m in ids:
            return ids[m]
        sub = best[m][2]
        x, y = build(sub), build(m ^ sub)
        ssa.append((min(x, y), max(x, y)))
        ids[m] = n + len(ssa) - 1
        return ids[m]

    if best[full] is None:
        return None
    build(full)
    flops, width, _ = best[full]
    return {"flops": flops, "largest_intermediate_no_output": width,
            "path": [tuple(s) for s in oe.paths.ssa_to_linear(ssa)]}


def exact_smallest_cap(equation, shapes, max_operands=12):
    """The smallest memory cap (elements) that some pairwise tree meets,
    intermediates only (the output does not count, nor do the inputs):
    min over trees of the largest intermediate. None above max_operands
    (3^n work, as exact_optimum).
    (Summing an operand's private labels first adds an intermediate and
    shrinks nothing later, so single-operand steps cannot lower it.)"""
    ins, out = equation.split("->")
    terms = ins.split(",")
    n = len(terms)
    if n > max_operands:
        return None
    if n <= 2:
        return 0
    size = {}
    for t, shp in zip(terms, shapes):
        for c, d in zip(t, shp):
            size[c] = d
    output = frozenset(out)
    full = (1 << n) - 1
    union = [frozenset()] * (1 << n)
    for m in range(1, 1 << n):
        low = m & -m
        union[m] = union[m ^ low] | frozenset(terms[low.bit_length() - 1])
    worst = [0] * (1 << n)
    for m in sorted(range(1, 1 << n), key=lambda x: bin(x).count("1")):
        if m & (m - 1) == 0:
            continue
        low = m & -m
        top = None
        sub = (m - 1) & m
        while sub:
            if sub & low:
                w = max(worst[sub], worst[m ^ sub])
                if top is None or w < top:
                    top = w
            sub = (sub - 1) & m
        if m != full:
            r = 1
            for c in union[m] & (output | union[full ^ m]):
                r *= size[c]
            top = max(top, r)
        worst[m] = top
    return worst[full]


def row_fields(case, strategy, res):
    lim = "-" if case.memory_limit is None else str(case.memory_limit)
    if res["error"]:
        return [case.equation, format_shapes(case.shapes), strategy, lim, "-", "-",
                "error: " + res["error"]]
    return [case.equation, format_shapes(case.shapes), strategy, lim, str(res["flops"]),
            str(res["largest_intermediate"]), format_path(res["path"])]


def read_tsv(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            rows.append(line.split("\t"))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", default=None,
                    help="write the TSV here (default: stdout)")
    ap.add_argument("--check", metavar="FILE",
                    help="regenerate and compare with FILE; exit 1 on any difference")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)

    cases = all_cases()
    if args.list:
        for c in cases:
            print(c.set, c.n, c.memory_limit, c.equation, format_shapes(c.shapes), c.name, sep="\t")
        return 0

    t_start = time.perf_counter()
    lines, per_strategy, slow = [], {}, []
    for case in cases:
        for strategy in case.strategies:
            res = opt_plan(case.equation, case.shapes, strategy, case.memory_limit)
            if res["seconds"] > 5:
                slow.append((case.equation, strategy, res["seconds"]))
            lines.append("\t".join(row_fields(case, strategy, res)))
            per_strategy[strategy] = per_strategy.get(strategy, 0) + 1
    elapsed = time.perf_counter() - t_start

    header = [
        "# opt_einsum reference contraction paths for einjit's planner (bench/planner_compare.py,",
        "# the planner's tests). Generated by:",
        "#   bench/.venv/bin/python bench/planner_reference.py -o test/Inputs/opt_einsum_paths.tsv",
        f"# opt_einsum {oe.__version__}; see bench/planner_reference.py for the sets and columns.",
        "# flops: PathInfo.opt_cost; largest_intermediate: PathInfo.largest_intermediate in elements",
        "# (largest step result, final output included); memory_limit in elements (- = none);",
        "# rows where opt_einsum raised have - - and 'error: ...' in place of flops, size, path.",
        "# equation\tshapes\tstrategy\tmemory_limit\tflops\tlargest_intermediate\tpath",
    ]
    text = "\n".join(header + lines) + "\n"
    summary = (f"{len(lines)} rows (" + ", ".join(f"{s} {per_strategy.get(s, 0)}" for s in STRATEGIES)
               + f") from {len(cases)} cases in {elapsed:.1f} s")
    print(summary, file=sys.stderr)
    for eq, s, t in slow:
        print(f"warning: {s} took {t:.1f} s on {eq}", file=sys.stderr)

    if args.check:
        old = open(args.check).read()
        if old != text:
            a = [l for l in old.splitlines() if not l.startswith("#")]
            b = [l for l in text.splitlines() if not l.startswith("#")]
            diff = [(x, y) for x, y in zip(a, b) if x != y]
            print(f"{args.check} differs: {len(a)} vs {len(b)} rows, {len(diff)} changed", file=sys.stderr)
            for x, y in diff[:10]:
                print(f"  was: {x}\n  now: {y}", file=sys.stderr)
            return 1
        print(f"{args.check} is up to date", file=sys.stderr)
        return 0
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    ensure_hash_seed()
    sys.exit(main())
