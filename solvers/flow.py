"""Solving the class-level placement model exactly: an LP bound first, then a search, then a proof if needed.

1. The model (solvers/model.py) plus lattice cuts (solvers/cuts.py), which raise the LP bound to the
   integer optimum on the benchmark instances without changing any integer solution.
2. The LP relaxation (GLOP) gives `lb`, a lower bound on the objective proven in integer arithmetic
   (solvers/relax.py).
3. A search engine looks for a placement with the objective restricted to `>= lb`, so that it may stop as soon as
   it reaches the bound: `params.search` under the default backend "cpsat", else the MIP backend named by
   `params.backend`. A floating-point engine is only a source of candidate placements: nothing it claims is taken
   as proof. The default search, "auto", is what measured fastest on every benchmark family
   (benchmarks/RESULTS.md): CP-SAT alone for models below `LARGE_MODEL` variables (it proves its own answer; steps
   2 and 4 are skipped; its presolve is off: it cost more than the search it prepared on every 10k family, session
   21), SCIP above, where CP-SAT took up to 10x longer to find the optimum that the LP bound already proves. There,
   an integral LP optimum that meets every rule needs no search at all, and the search first looks on the LP's
   optimal face (solvers/face.py: the variables the LP certificate fixes at `ub = lb` substituted out, about half
   of them): a placement there at the bound is optimal, and SCIP found it in 0.3-0.7 of its time on the full model
   on every 100k family (benchmarks/RESULTS.md). Only such a placement is kept; without one the search runs on the
   full model as it would have. The staged solve's (D, B) stage skips the face and searches the LP optimum's
   vicinity instead (solvers/vicinity.py: the few fractional variables and their neighbours free, the rest fixed at
   the LP's values): a placement there within `VICINITY_WINDOW` of `lb` goes straight to step 4 without a search of
   the full model (`_search_near`). Its stage M, after the face, searches where its LP agrees with the (D, B)
   stage's placement (solvers/vicinity.py `agreement`, RINS) the same way: that placement's moves were not in the
   (D, B) objective, and SCIP found the optimal M from it in 0.1 s where the full model took it 7-15 s (hard 100k
   drain s2).
4. The answer is read back as class departures and arrivals, checked against every final-state rule, and its (D, B,
   M) recomputed from the counts. It is OPTIMAL when its objective equals `lb`, or when CP-SAT (exact integer
   arithmetic) proved it. Otherwise the window `[lb, value - 1]` is searched, within the bounds the LP certificate
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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from solvers.backends import BackendAnswer, get_backend
from solvers.cuts import add_lattice_cuts
from solvers.face import restrict
from solvers.linear import LinearModel
from solvers.model import Restrictions, Vars, build_model, complete_hint
from solvers.params import SolveParams
from solvers.problem import FlowProblem, deviation_of, feasibility_errors, final_counts
from solvers.result import FlowResult, Status
from solvers.vicinity import agreement
from solvers.vicinity import vicinity as near_lp

if TYPE_CHECKING:  # the LP (and OR-Tools' linear solver with it) is imported only by the models that use it
    from solvers.relax import Certificate

__all__ = ["Restrictions", "build_model", "infeasible_rules", "solve_flow"]

LARGE_MODEL = 3000  # variables; the 10k-node benchmark models have 1-2.2k, the 100k-node ones 5-11k


VICINITY_WINDOW = 8  # objective values; a vicinity placement this close to `lb` goes straight to the proof
BRANCH_WINDOW = 3  # objective values; a window this narrow is proven by branching first (solvers/branching.py)

Key = tuple[int, int, int]  # (D, B, M) of a placement


@dataclass(frozen=True)
class _Found:
    """A checked placement, its (D, B, M) and its objective value in the stage that found it."""

    out: tuple[int, ...]
    into: tuple[int, ...]
    key: Key
    value: int


class _Solve:
    """One stage: a model and its objective, the proven bound, the best placement so far, the deadline."""

    def __init__(self, p: FlowProblem, m: LinearModel, v: Vars, value: Callable[[Key], int | None],
                 params: SolveParams, deadline: float, steps: list[str]) -> None:
        self.p, self.m, self.v, self.value, self.params = p, m, v, value, params
        self.deadline, self.steps = deadline, steps
        self.lb: int | None = None
        self.certificate: Certificate | None = None
        self.lp_values: list[float] | None = None
        self.best: _Found | None = None
        self.proven = False
        self.infeasible = False  # CP-SAT (exact) found no placement at all
        self.branch = False  # a narrow window proven by branching first (the staged solve's stages)
        self.split: tuple[dict[int, int], int, dict[int, int]] | None = None  # objective weight·H + L (branching.py)

    def left(self) -> float:
        return max(0.01, self.deadline - time.perf_counter())

    def read(self, answer: BackendAnswer) -> _Found | None:
        """The answer's placement if it meets every rule (a floating-point backend may round one off)."""
        if answer.values is None:
            return None
        return self.found(tuple(answer.values[x] for x in self.v.out), tuple(answer.values[x] for x in self.v.into))

    def found(self, out: tuple[int, ...], into: tuple[int, ...]) -> _Found | None:
        """The placement with its (D, B, M) if it meets every rule and the stage admits it (`value` not None)."""
        if feasibility_errors(self.p, out, into):
            return None
        counts = final_counts(self.p, out, into)
        key = (deviation_of(self.p, counts), counts.busy_moves, counts.moves)
        value = self.value(key)
        return None if value is None else _Found(out, into, key, value)

    def offer(self, found: _Found | None) -> None:
        if found is not None and (self.best is None or found.value < self.best.value):
            self.best = found
        if self.best is not None and self.lb is not None and self.best.value <= self.lb:
            self.proven = True

    def raise_lb(self, bound: float | None) -> None:
        if bound is not None:
            proven = math.ceil(bound - 1e-6)
            self.lb = proven if self.lb is None else max(self.lb, proven)
            self.offer(None)

    def run(self, backend: str, lb: int | None, ub: int | None, hint: _Found | None) -> BackendAnswer:
        model = replace(self.m, objective_lb=lb, objective_ub=ub, hint=None if hint is None else self._full(hint))
        if ub is not None and self.certificate is not None:
            model.lbs, model.ubs = self.certificate.tightened(self.m, ub)
        answer = get_backend(backend)(model, replace(self.params, time_limit=self.left()))
        self.steps.append(f"{backend} {answer.status.lower()} {answer.seconds:.3f} s")
        return answer

    def _full(self, found: _Found) -> list[int]:
        """A complete assignment for a hint: flows from `found`, the other variables from the model's rows."""
        values = [0] * len(self.m.lbs)
        for x, n in zip(self.v.out, found.out, strict=True):
            values[x] = n
        for x, n in zip(self.v.into, found.into, strict=True):
            values[x] = n
        complete_hint(self.m, values)
        return values


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
        s = _solve(_Solve(p, m, v, lambda k: weights.deviation * k[0] + weights.busy * k[1] + k[2], params,
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
    s1 = _Solve(p, first, v, lambda k: w1 * k[0] + k[1], params, deadline, steps)
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
    s2 = _Solve(p, second, v, lambda k: k[2] if w1 * k[0] + k[1] <= level else None, params, deadline, steps)
    s2.branch = True
    s2 = _solve(s2, s1.best)
    return _result(s1, s2, start, lambda value: value // w1)


def _solve(s: _Solve, start_from: _Found | None = None, face: bool = True, vicinity: bool = False) -> _Solve:
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
        s.steps.append("lp none" if lp is None else f"lp {lp.seconds:.3f} s")
        if lp is not None and all(abs(x - round(x)) < 1e-6 for x in lp.values):
            s.offer(s.read(BackendAnswer("LP", [round(x) for x in lp.values], lp.objective, None, 0.0)))
        s.offer(None)
    if s.proven:
        return s  # an integral LP optimum, or the placement we started from, meets the bound
    near = params.vicinity and engine != "cpsat" and s.certificate is not None and s.lp_values is not None
    if near and vicinity:
        assert s.certificate is not None and s.lp_values is not None and s.lb is not None
        bounds = s.certificate.tightened(s.m, s.lb + VICINITY_WINDOW)
        if _search_near(s, engine, "the lp vicinity", near_lp(s.m, s.lp_values, *bounds)):
            return s
    if face and params.face and engine != "cpsat" and s.certificate is not None:
        _search_face(s, engine)
        if s.proven:
            return s
    if near and start_from is not None and s.best is not None:
        assert s.lp_values is not None
        if _search_near(s, engine, "the lp's agreement", agreement(s.m, s.lp_values, s._full(s.best))):
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
    if s.best is not None and not s.proven:
        _prove(s)
    return s


def _search_face(s: _Solve, engine: str) -> None:
    """Search the LP's optimal face (solvers/face.py); keep a placement found there only if it reaches `lb` (the
    full model's search then runs as it would have). The face holds every placement whose objective is at most
    `lb`; a row it leaves without free variables that cannot hold proves there is none, and `lb + 1` a bound."""
    assert s.certificate is not None and s.lb is not None
    try:
        # half the time left at most, so that a face hard to search leaves the full model its chance
        found = _search_within(s, engine, "the lp face", s.certificate.tightened(s.m, s.lb), divisor=2)
    except ValueError:
        s.steps.append("lp face empty")
        s.raise_lb(s.lb + 1)
        return
    if found is not None and found.value <= s.lb:
        s.offer(found)


def _search_near(s: _Solve, engine: str, what: str, bounds: tuple[list[int], list[int]]) -> bool:
    """Search the model within `bounds` (solvers/vicinity.py) and offer what it finds (it is checked like any
    answer, and proven only by the bound or CP-SAT). True when the stage is done: proven, or a placement
    within `VICINITY_WINDOW` of `lb` went straight to CP-SAT's proof, so the full model need not be searched."""
    assert s.lb is not None
    try:
        s.offer(_search_within(s, engine, what, bounds, divisor=4))
    except ValueError:
        s.steps.append(f"{what} empty")
        return False
    if not s.proven and s.best is not None and s.best.value <= s.lb + VICINITY_WINDOW:
        _prove(s)  # a few values short of the bound: CP-SAT's proof tells, no search needs to run
    return s.proven or (s.best is not None and s.best.value <= s.lb + VICINITY_WINDOW)


def _search_within(s: _Solve, engine: str, what: str, bounds: tuple[list[int], list[int]], *,
                   divisor: int) -> _Found | None:
    """`engine` on the model within `bounds`, the fixed variables substituted out (solvers/face.py `restrict`),
    objective at least `lb`, for 1/`divisor` of the time left; the placement it found, checked like any answer
    (`_Solve.read`), or None. Raises ValueError when a row left without free variables cannot hold: no placement
    lies within `bounds`."""
    assert s.lb is not None
    within = restrict(s.m, *bounds)
    model = replace(within.model, objective_lb=s.lb - within.offset)
    answer = get_backend(engine)(model, replace(s.params, time_limit=s.left() / divisor))
    s.steps.append(f"{engine} on {what} ({len(within.free)} of {len(s.m.lbs)} variables) "
                   f"{answer.status.lower()} {answer.seconds:.3f} s")
    if answer.values is None:
        return None
    return s.read(BackendAnswer(answer.status, within.expand(answer.values), None, None, 0.0))


def _engine(params: SolveParams, m: LinearModel) -> str:
    """The search engine: the MIP backend named, or `params.search` ("auto": by model size)."""
    engine = params.backend if params.backend != "cpsat" else params.search
    if engine == "auto":
        engine = "scip" if len(m.lbs) >= LARGE_MODEL else "cpsat"
    return engine


def _prove(s: _Solve) -> None:
    """Prove the best placement optimal: by branching on the LP (`_branch`) when the window is narrow, else (or
    when that fails) CP-SAT searches `[lb, best - 1]` from it: none there proves it, one there replaces it."""
    assert s.best is not None
    if _branch(s):
        return
    answer = s.run("cpsat", s.lb, s.best.value - 1, s.best)
    s.offer(s.read(answer))
    if answer.status in ("INFEASIBLE", "OPTIMAL"):
        s.proven = True
    else:
        s.raise_lb(answer.bound)


def _branch(s: _Solve) -> bool:
    """solvers/branching.py's proof that nothing lies in `[lb, best - 1]` (<= `BRANCH_WINDOW` values, half the
    time left)."""
    assert s.best is not None
    if not (s.branch and s.params.branching) or s.certificate is None or s.lb is None or \
            s.best.value - s.lb > BRANCH_WINDOW:
        return False
    from solvers.branching import prove_window, split_window

    window = (s.m, s.best.value, s.lb) if s.split is None else split_window(s.m, s.lb, s.best.value, *s.split)
    if window is not None:
        proof = prove_window(*window, *s.certificate.tightened(s.m, s.best.value - 1), s.left() / 2)
        s.steps.append(f"branching {'proven' if proof.proven else 'open'} ({proof.lps} lps) {proof.seconds:.3f} s")
        s.proven = proof.proven
    return s.proven


def _result(first: _Solve, last: _Solve, start: float, deviation_bound: Callable[[int], int]) -> FlowResult:
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
