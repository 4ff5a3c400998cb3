"""Solving the class-level placement model exactly: an LP bound first, then a search, then a proof if needed.

1. The model (solvers/model.py) plus lattice cuts (solvers/cuts.py), which raise the LP bound to the
   integer optimum on the benchmark instances without changing any integer solution.
2. The LP relaxation (GLOP) gives `lb`, a lower bound on the objective proven in integer arithmetic
   (solvers/relax.py).
3. A search engine looks for a placement with the objective restricted to `>= lb`, so that it may stop as soon as it
   reaches the bound: `params.search` under the default backend "cpsat", else the MIP backend named by
   `params.backend`. A floating-point engine is only a source of candidate placements: nothing it claims is taken as
   proof. The default search, "auto", is what measured fastest on every benchmark family (benchmarks/RESULTS.md):
   CP-SAT alone for models below `LARGE_MODEL` variables (it proves its own answer; steps 2 and 4 are skipped; its
   presolve is off: it cost more than the search it prepared on every 10k family, session 21), SCIP above, where
   CP-SAT took up to 10x longer to find the optimum that the LP bound already proves. There, an integral LP optimum
   that meets every rule needs no search at all, and the search first looks on the LP's optimal face
   (solvers/face.py: the variables the LP certificate fixes at `ub = lb` substituted out, about half of them): a
   placement there at the bound is optimal, and SCIP found it in 0.3-0.7 of its time on the full model on every 100k
   family (benchmarks/RESULTS.md); before the whole face, the LP optimum's vicinity within it (solvers/vicinity.py),
   where SCIP found that placement in 0.04-0.6 s on every 100k instance whose bound is reached (session 22). In the
   one-stage solve CP-SAT searches the face, objective held at `lb`: its "infeasible" proves `lb + 1`. Only such a
   placement is kept; without one, CP-SAT searches the LP optimum's vicinity within `[lb, lb + VICINITY_WINDOW]`
   (`_search_window`; 0.1-0.9 s at 100k, where SCIP took up to 0.9 s): where the optimum lies a few values above `lb`
   (seed 2 at 100k), the placement it finds starts SCIP's search of the full model, which then took a third to a half
   of its time without it (session 23). The staged solve's (D, B) stage skips the face and searches the LP optimum's
   vicinity instead (solvers/vicinity.py: the few fractional variables and their neighbours free, the rest fixed at
   the LP's values): a placement there within `VICINITY_WINDOW` of `lb` goes straight to step 4 without a search of
   the full model (`_search_near`). Its stage M, after the face, searches where its LP agrees with the (D, B) stage's
   placement, the LP optimum's vicinity left free too (solvers/vicinity.py `agreement`, RINS), the same way: that
   placement's moves were not in the (D, B) objective, and SCIP found the optimal M from it in 0.1-1 s where the full
   model took it 7-15 s (hard 100k drain s2, s3).
4. The answer is read back as class departures and arrivals, checked against every final-state rule, and its (D, B,
   M) recomputed from the counts. It is OPTIMAL when its objective equals `lb`, or when CP-SAT (exact integer
   arithmetic) proved it. In the staged solve, a stage whose placement is more than `BRANCH_WINDOW` above `lb` first
   adds the substituted lattice cuts its LP optimum violates (solvers/cuts.py `separate`, solvers/stage.py
   `add_cuts`): their LP's bound raises `lb`, and SCIP searches the new LP optimum's vicinity (hard 100k nocross drain
   s3: the optimum, 0.15 s); branching then takes what they leave of a window wider than `PLAIN_WINDOW`, up to
   `CUT_WINDOW` values, and CP-SAT what they leave of a narrower one. The one-stage solve takes them before
   CP-SAT's search of the LP face (`_search_face`): their bound and LP optimum, not their rows (which slowed SCIP's
   search of the full model: subnets s2's 0.5 -> 1.8 s), so that the face is searched at their bound. Of the 29
   100k instances (seeds 1-4, every busy policy) that reach that search, 20 now end with it or with the window's
   vicinity search after it, without the full model's search or a proof (5 before); the 29 solves 0.80x in total
   (0.46-1.35x; session 25, benchmarks/RESULTS.md). With SCIP on the face (`params.exact_face` False) they come
   after the full model's search instead, rows kept.
   Otherwise the window `[lb, value - 1]` is searched, within the bounds the LP certificate
   allows there (exact reduced-cost fixing): in the staged solve, at most `BRANCH_WINDOW` values wide, by strong
   branching on GLOP first (solvers/branching.py: every branch closed by an exact certificate; the (D, B) window on
   B alone); then by CP-SAT from the answer: no solution there proves it optimal, a solution found there replaces
   it.

The objective is lexicographic (D, B, M) as one weighted sum (solvers/model.py `Weights`), so one bound
covers every level: objective == lb means every level is optimal. With busy classes and a floating-point
search engine the sum is too wide for its tolerances, and the steps run twice instead (`solve_flow`):
(D, B) first, then M with (D, B) held; OPTIMAL then needs both stages proven. A result is never called
OPTIMAL without those proofs; at a time limit it is FEASIBLE with the best proven bound.

Owns: the order of these steps, the statuses, the result. Must not: import planner, pandas, httpx, click.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from solvers.backends import BackendAnswer, get_backend
from solvers.cuts import add_lattice_cuts
from solvers.face import restrict
from solvers.linear import LinearModel
from solvers.model import Restrictions, Vars, build_model
from solvers.params import SolveParams
from solvers.problem import FlowProblem
from solvers.result import FlowResult, Status
from solvers.stage import CUT_WINDOW, Found, Stage, add_cuts, prove
from solvers.vicinity import agreement, fractional
from solvers.vicinity import vicinity as near_lp

__all__ = ["Restrictions", "build_model", "infeasible_rules", "solve_flow"]

LARGE_MODEL = 3000  # variables; the 10k-node benchmark models have 1-2.2k, the 100k-node ones 5-11k
VICINITY_WINDOW = 8  # objective values; a vicinity placement this close to `lb` goes straight to the proof
FACE_PRESOLVE_ROUNDS = 1  # CP-SAT's presolve rounds on the exact face: faster than its default 3 on every 100k s2
FACE_VICINITY_NODES = 10  # SCIP's nodes on the face's vicinity: each that found the placement took 1 (session 24)


def solve_flow(p: FlowProblem, params: SolveParams | None = None,
               restrictions: Restrictions | None = None) -> FlowResult:
    """Solve the class-level model; D, B and M are recomputed from the flows, not read off a solver.

    The objective `Wd·D + Wb·B + M` (`W·D + M` without busy classes) is solved in one stage, except with
    busy classes when `params.staged` is True, or None and the search engine is floating point (SCIP above
    `LARGE_MODEL`, or a MIP backend): there (D, B) comes first (objective `W1·D + B`, W1 = busy nodes + 1),
    then M with `W1·D + B` held at the first stage's answer. The one weighted sum reaches 10^14 at 100k
    nodes, beyond what floating-point tolerances tell apart (benchmarks/RESULTS.md); CP-SAT's integer
    arithmetic takes it exactly. Both ways are exactly lexicographic.
    """
    params = params or SolveParams()
    start = time.perf_counter()
    try:
        m, v, weights = build_model(p, restrictions)
    except ValueError as exc:  # a constant row that cannot hold: nothing can change it
        return FlowResult(Status.INFEASIBLE, (), (), None, None, None, 0.0, params.backend, str(exc))
    if params.cuts:
        add_lattice_cuts(m, p, v)
    steps: list[str] = []
    deadline = start + params.time_limit
    staged = params.staged if params.staged is not None else _engine(params, m) != "cpsat"
    if not p.busy_nodes or not staged:
        s = _solve(Stage(p, m, v, lambda k: weights.deviation * k[0] + weights.busy * k[1] + k[2], params,
                          deadline, steps))
        return _result(s, s, start, lambda value: value // weights.deviation)
    return _solve_staged(p, m, v, params, deadline, steps, start)


def _solve_staged(p: FlowProblem, m: LinearModel, v: Vars, params: SolveParams, deadline: float,
                  steps: list[str], start: float) -> FlowResult:
    """(D, B) first as `W1·D + B`, then M among the placements that keep `W1·D + B` at the first answer.

    W1 = busy nodes + 1 exceeds any B, so `W1·D + B` orders (D, B) exactly. The second stage holds (D, B)
    by two short rows, Σ dev <= D* and B <= B*, when the first stage proved (D*, B*) optimal (then no
    placement has a smaller D, so these rows keep exactly the placements with (D*, B*)), else by the one
    row `W1·D + B <= W1·D* + B*`; the two short rows measured faster (benchmarks/RESULTS.md). It admits
    only placements whose recomputed (D, B) keeps that value (a floating-point engine may round off a row).
    """
    w1 = p.busy_nodes + 1
    busy_out = {v.out[i]: c.size for i, c in enumerate(p.classes) if c.busy}
    first = replace(m, rows=list(m.rows))
    first.minimize({**dict.fromkeys(v.devs, w1), **busy_out})
    steps.append("stage (D, B)")
    s1 = Stage(p, first, v, lambda k: w1 * k[0] + k[1], params, deadline, steps)
    s1.branch, s1.split = True, (dict.fromkeys(v.devs, 1), w1, busy_out)  # the window proven on B alone
    s1 = _solve(s1, face=False, vicinity=True)
    if s1.best is None:
        return _result(s1, s1, start, lambda value: value // w1)
    level = s1.best.value
    second = replace(m, rows=list(m.rows))
    if s1.proven:
        second.row(dict.fromkeys(v.devs, 1), None, s1.best.key[0], "keep_deviation")
        second.row(busy_out, None, s1.best.key[1], "keep_busy")
    else:
        second.row(dict(first.objective), None, level, "keep_deviation_and_busy")
    second.minimize({v.out[i]: c.size for i, c in enumerate(p.classes)})
    steps.append("stage M")
    s2 = Stage(p, second, v, lambda k: k[2] if w1 * k[0] + k[1] <= level else None, params, deadline, steps)
    s2.branch = True
    s2 = _solve(s2, s1.best)
    return _result(s1, s2, start, lambda value: value // w1)


def _solve(s: Stage, start_from: Found | None = None, face: bool = True, vicinity: bool = False) -> Stage:
    """One stage: LP bound, search, proof (the module docstring's steps 2-4); `s` carries the outcome.

    `face`: search the LP's optimal face first (`_search_face`; not in the (D, B) stage, where it only added its
    time). `vicinity`: search the LP optimum's vicinity first (`_search_near`). With `start_from` (stage M), the
    same after the face where the LP agrees with that placement (`agreement`). Measured: benchmarks/RESULTS.md.
    """
    if start_from is not None:
        s.offer(s.found(start_from.out, start_from.into))
    params = s.params
    engine = _engine(params, s.m)
    small = params.search == "auto" and engine == "cpsat"  # CP-SAT alone, without its presolve (RESULTS.md)
    if small and params.presolve is None:  # it cost more than it saved on every 10k family
        s.params = params = replace(params, presolve=False)
    if params.lp_bound and not small:
        from solvers.relax import relax  # 50 ms of imports a small model never needs

        lp = relax(s.m, s.left())
        s.lb = None if lp is None else lp.bound
        s.certificate = None if lp is None else lp.certificate
        s.lp_values = None if lp is None else lp.values
        s.lp_basis = None if lp is None else lp.basis
        s.steps.append("lp none" if lp is None else f"lp {lp.seconds:.3f} s")
        if lp is not None and not fractional(lp.values):
            s.offer(s.read(BackendAnswer("LP", [round(x) for x in lp.values], lp.objective, None, 0.0)))
        s.offer(None)
    if s.proven:
        return s  # an integral LP optimum, or the placement we started from, meets the bound
    near = params.vicinity and engine != "cpsat" and s.certificate is not None and s.lp_values is not None
    if near and vicinity and _search_near(s, engine, "the lp vicinity", _window_vicinity(s)):
        return s
    if face and params.face and engine != "cpsat" and s.certificate is not None:
        _search_face(s, engine, exact=params.exact_face and start_from is None)
        if s.proven:
            return s
        if near and params.window and start_from is None:
            _search_window(s)
            if s.proven:
                return s
    if near and start_from is not None and s.best is not None:
        assert s.lp_values is not None
        if _search_near(s, engine, "the lp's agreement", agreement(s.m, s.lp_values, s.full(s.best))):
            return s
    # the staged solve's cuts come before the full model's search; the one-stage solve's came before its face search
    # (`_search_face`), or, with SCIP on the face, come after the full model's search (below)
    if s.branch and _separate(s):
        return s
    first = s.run(engine, s.lb, None, s.best)
    s.offer(s.read(first))
    if first.status == "INFEASIBLE" and s.best is None and engine != "cpsat":
        engine = "cpsat"  # a floating-point "infeasible" is confirmed exactly
        first = s.run(engine, None, None, None)
        s.offer(s.read(first))
    if first.status == "INFEASIBLE" and s.best is None:
        s.infeasible = True  # CP-SAT, objective at most restricted to >= a proven bound: no placement at all
        return s
    if engine == "cpsat" and first.status == "OPTIMAL" and s.best is not None:
        s.proven = True  # CP-SAT's own proof (integer arithmetic)
    elif engine == "cpsat":
        s.raise_lb(first.bound)
    if s.best is not None and not s.proven and not _separate(s, search=s.branch):
        prove(s)
    return s


def _separate(s: Stage, search: bool = True) -> bool:
    """The stage's cuts (solvers/stage.py `add_cuts`); when they raised `lb` (and `search`), SCIP searches the new LP
    optimum's vicinity for a better placement. True when the stage is proven."""
    values = add_cuts(s)
    if search and values is not None and s.certificate is not None and s.best is not None:  # a new LP optimum
        try:
            s.offer(_search_within(s, _engine(s.params, s.m), "the cut lp's vicinity",
                                   near_lp(s.m, values, *s.certificate.tightened(s.m, s.best.value - 1)),
                                   divisor=4, ub=s.best.value - 1))
        except ValueError:
            s.steps.append("the cut lp's vicinity empty")
    return s.proven


def _search_face(s: Stage, engine: str, exact: bool) -> None:
    """Search the LP's optimal face (solvers/face.py); keep a placement found there only if it reaches `lb` (the
    full model's search then runs as it would have). The face holds every placement whose objective is at most
    `lb`; a row it leaves without free variables that cannot hold proves there is none, and `lb + 1` a bound.
    With `exact` (the one-stage solve, `params.exact_face`) CP-SAT searches it, the objective held at `lb`: its
    "infeasible" is that proof too. At 100k nodes where the optimum lies above `lb` (seed 2) it gave it in
    0.12-0.8 s, where SCIP spent 0.2-0.8 s finding the face's best placement (a D higher) and proved nothing; where
    the face holds the optimum it found it about as fast as SCIP (0.2-0.4 s); with one presolve round
    (`FACE_PRESOLVE_ROUNDS`) it was faster than with CP-SAT's default three on each of them. Not in the staged
    solve's stage M: there CP-SAT took 5.5 s to find what SCIP found in 1.3 s (hard drain s1; session 23).
    First (`params.vicinity`) the LP optimum's vicinity within the face (solvers/vicinity.py), the objective held
    at `lb` by a row: where the bound is reached at 100k nodes it held such a placement every time, found in
    0.04-0.6 s where the whole face took 0.2-3.4 s; elsewhere it was over in 0.03-0.13 s (without the row, SCIP
    spent up to 2.2 s finding the vicinity's best placement far above `lb`; benchmarks/RESULTS.md). SCIP stops there
    after `FACE_VICINITY_NODES` nodes: every search that found the placement (100k, seeds 1-4) decided at the root,
    and unreachable 100k s3 spent 1.3-3.6 s on 139 nodes to find nothing (session 24). Between the two, with
    `exact`, the substituted lattice cuts raise `lb` (solvers/stage.py `add_cuts`, their rows left out of the
    models searched): of the 29 100k instances that reach CP-SAT's face search, 20 end with it or the window's
    vicinity after it, without the full model's search or a proof, where 5 did (session 25)."""
    assert s.certificate is not None and s.lb is not None
    bounds = s.certificate.tightened(s.m, s.lb)
    if s.params.vicinity and s.lp_values is not None:
        try:
            found = _search_within(s, engine, "the lp face's vicinity", near_lp(s.m, s.lp_values, *bounds),
                                   divisor=4, ub=s.lb, node_limit=FACE_VICINITY_NODES)
        except ValueError:
            s.steps.append("the lp face's vicinity empty")
            found = None
        if found is not None and found.value <= s.lb:
            s.offer(found)
            return
    if exact:  # the cuts' bound and LP optimum (not their rows) first: the face searched at a higher bound
        values = add_cuts(s, keep=False)  # (no placement yet: their bound alone proves nothing)
        if values is not None:
            s.lp_values = values
            bounds = s.certificate.tightened(s.m, s.lb)
    try:
        # half the time left at most, so that a face hard to search leaves the full model its chance
        if exact:
            status, found = _within(s, "cpsat", "the lp face", bounds, divisor=2, ub=s.lb,
                                    presolve_rounds=FACE_PRESOLVE_ROUNDS)
        else:
            status, found = "", _search_within(s, engine, "the lp face", bounds, divisor=2)
    except ValueError:
        s.steps.append("lp face empty")
        status, found = "INFEASIBLE", None
    if found is not None and found.value <= s.lb:
        s.offer(found)
    elif status == "INFEASIBLE":  # CP-SAT (exact): no placement within the face's bounds reaches lb
        s.raise_lb(s.lb + 1)


def _search_window(s: Stage) -> None:
    """CP-SAT on the LP optimum's vicinity within the window `[lb, lb + VICINITY_WINDOW]` (the certificate's bounds
    at `lb + VICINITY_WINDOW`, the objective held there by a row); what it finds is kept as the best placement so
    far, and so becomes the full model's search's starting solution."""
    assert s.lb is not None
    try:
        s.offer(_search_within(s, "cpsat", "the lp window's vicinity", _window_vicinity(s), divisor=4,
                               ub=s.lb + VICINITY_WINDOW))
    except ValueError:
        s.steps.append("the lp window's vicinity empty")


def _window_vicinity(s: Stage) -> tuple[list[int], list[int]]:
    """The LP optimum's vicinity (solvers/vicinity.py) within the bounds every placement of objective at most
    `lb + VICINITY_WINDOW` keeps (the certificate's exact reduced-cost fixing there)."""
    assert s.certificate is not None and s.lb is not None and s.lp_values is not None
    return near_lp(s.m, s.lp_values, *s.certificate.tightened(s.m, s.lb + VICINITY_WINDOW))


def _search_near(s: Stage, engine: str, what: str, bounds: tuple[list[int], list[int]]) -> bool:
    """Search the model within `bounds` (solvers/vicinity.py) and offer what it finds (it is checked like any
    answer, and proven only by the bound or CP-SAT). If it is above `lb`, the LP's cuts first (`_separate`). True when
    the stage is done: proven, or a placement within `VICINITY_WINDOW` (after the cuts, `CUT_WINDOW`) of `lb`
    went straight to the proof (branching, CP-SAT), so the full model need not be searched."""
    assert s.lb is not None
    try:
        s.offer(_search_within(s, engine, what, bounds, divisor=4))
    except ValueError:
        s.steps.append(f"{what} empty")
        return False
    if not s.proven and _separate(s):
        return True
    window = max(VICINITY_WINDOW, CUT_WINDOW) if s.separated else VICINITY_WINDOW  # branching's, after the cuts
    if not s.proven and s.best is not None and s.best.value <= s.lb + window:
        prove(s)  # a few values short of the bound: CP-SAT's proof tells, no search needs to run
    return s.proven or (s.best is not None and s.best.value <= s.lb + window)


def _search_within(s: Stage, engine: str, what: str, bounds: tuple[list[int], list[int]], *,
                   divisor: int, ub: int | None = None, node_limit: int | None = None) -> Found | None:
    """`_within`'s placement."""
    return _within(s, engine, what, bounds, divisor=divisor, ub=ub, node_limit=node_limit)[1]


def _within(s: Stage, engine: str, what: str, bounds: tuple[list[int], list[int]], *,
            divisor: int, ub: int | None = None, presolve_rounds: int | None = None,
            node_limit: int | None = None) -> tuple[str, Found | None]:
    """`engine` on the model within `bounds`, the fixed variables substituted out (solvers/face.py `restrict`),
    objective at least `lb` (and at most `ub`), for 1/`divisor` of the time left (CP-SAT presolving
    `presolve_rounds` rounds unless `params.presolve_rounds` says; SCIP stopping after `node_limit` nodes); the
    backend's status and the placement it found, checked like any answer (`Stage.read`), or None. Raises
    ValueError when a row left without free variables cannot hold: no placement lies within `bounds`."""
    assert s.lb is not None
    within = restrict(s.m, *bounds)
    model = replace(within.model, objective_lb=s.lb - within.offset,
                    objective_ub=None if ub is None else ub - within.offset)
    params = replace(s.params, time_limit=s.left() / divisor)
    if presolve_rounds is not None and params.presolve_rounds is None:
        params = replace(params, presolve_rounds=presolve_rounds)
    if node_limit is not None:
        params = replace(params, node_limit=node_limit)
    answer = get_backend(engine)(model, params)
    s.steps.append(f"{engine} on {what} ({len(within.free)} of {len(s.m.lbs)} variables) "
                   f"{answer.status.lower()} {answer.seconds:.3f} s")
    if answer.values is None:
        return answer.status, None
    return answer.status, s.read(BackendAnswer(answer.status, within.expand(answer.values), None, None, 0.0))


def _engine(params: SolveParams, m: LinearModel) -> str:
    """The search engine: the MIP backend named, or `params.search` ("auto": by model size)."""
    engine = params.backend if params.backend != "cpsat" else params.search
    if engine == "auto":
        engine = "scip" if len(m.lbs) >= LARGE_MODEL else "cpsat"
    return engine


def _result(first: Stage, last: Stage, start: float, deviation_bound: Callable[[int], int]) -> FlowResult:
    """The result of the stages: the last stage's placement, OPTIMAL only when every stage proved its part.

    `deviation_bound` turns the first stage's proven objective bound into a bound on D.
    """
    seconds = time.perf_counter() - start
    detail = "; ".join(last.steps)
    backend = first.params.backend
    best = last.best or first.best
    if best is None:
        status = Status.INFEASIBLE if first.infeasible else Status.UNKNOWN
        return FlowResult(status, (), (), None, None, None, seconds, backend, detail)
    proven = first.proven and (last is first or last.proven)
    d, b, m = best.key
    if proven:
        bound = d
    else:
        bound = max(0, deviation_bound(first.lb)) if first.lb is not None else 0
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    return FlowResult(status, best.out, best.into, d, m, bound, seconds, backend, detail, b)


def infeasible_rules(p: FlowProblem, params: SolveParams | None = None,
                     restrictions: Restrictions | None = None) -> list[str]:
    """A small set of rule tags (`pool_lo:i`, `pool_hi:i`, `cap:i`, `subnet:s`, `max_moves`) that cannot all hold.

    Found by CP-SAT with one assumption literal per rule (single worker, as assumptions require). Returns
    [] when the rules can all hold, or when no core was found in the time limit.
    """
    from solvers.backends.cpsat import find_core

    params = params or SolveParams()
    try:
        m, _, _ = build_model(p, restrictions)
    except ValueError as exc:
        return [str(exc)]
    m.objective = {}
    return find_core(m, params)
