"""Solving the class-level placement model exactly: an LP bound first, then a search, then a proof if needed.

1. The model (solvers/model.py) plus lattice cuts (solvers/cuts.py), which raise the LP bound to the
   integer optimum on the benchmark instances without changing any integer solution.
2. The LP relaxation (GLOP) gives `lb`, a lower bound on the objective proven in integer arithmetic
   (solvers/relax.py).
3. A search engine looks for a placement with the objective restricted to `>= lb`, so that it may stop as
   soon as it reaches the bound: `params.search` under the default backend "cpsat", else the MIP backend
   named by `params.backend`. A floating-point engine is only a source of candidate placements: nothing
   it claims is taken as proof. The default search, "auto", is what measured fastest on every benchmark
   family (benchmarks/RESULTS.md): CP-SAT alone for models below `LARGE_MODEL` variables (it proves its
   own answer; steps 2 and 4 are skipped, so small plans stay what they were), SCIP above, where CP-SAT
   took up to 10x longer to find the optimum that the LP bound already proves. There, an integral LP
   optimum that meets every rule needs no search at all.
4. The answer is read back as class departures and arrivals, checked against every final-state rule, and
   its (D, B, M) recomputed from the counts. It is OPTIMAL when its objective equals `lb`, or when CP-SAT
   (exact integer arithmetic) proved it. Otherwise CP-SAT searches the window `[lb, value - 1]` with the
   answer as a hint: no solution there proves the answer optimal; a solution found there replaces it.
   The LP certificate first tightens every variable's bounds to what a solution in that window allows
   (exact reduced-cost fixing), which makes that search small when the window is.

The objective is lexicographic (D, B, M) as one weighted sum (solvers/model.py `Weights`), so one bound
covers every level: objective == lb means every level is optimal. A result is never called OPTIMAL without
one of those two proofs; at a time limit it is FEASIBLE with the best proven bound.

Owns: the order of these steps, the statuses, the result. Must not: import planner, pandas, httpx, click.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from solvers.backends import BackendAnswer, get_backend
from solvers.cuts import add_lattice_cuts
from solvers.linear import LinearModel
from solvers.model import Restrictions, Vars, Weights, build_model
from solvers.params import SolveParams
from solvers.problem import FlowProblem, deviation_of, feasibility_errors, final_counts
from solvers.relax import Certificate, relax
from solvers.result import FlowResult, Status

__all__ = ["Restrictions", "build_model", "infeasible_rules", "solve_flow"]

LARGE_MODEL = 3000  # variables; the 10k-node benchmark models have 1-2.2k, the 100k-node ones 5-11k


@dataclass(frozen=True)
class _Found:
    """A checked placement and its exact objective."""

    out: tuple[int, ...]
    into: tuple[int, ...]
    value: int


class _Solve:
    """One solve: the model, its proven bound, the best placement so far and the time left."""

    def __init__(self, p: FlowProblem, m: LinearModel, v: Vars, weights: Weights, params: SolveParams) -> None:
        self.p, self.m, self.v, self.weights, self.params = p, m, v, weights, params
        self.start = time.perf_counter()
        self.lb: int | None = None
        self.certificate: Certificate | None = None
        self.best: _Found | None = None
        self.proven = False
        self.steps: list[str] = []  # what ran and for how long, for `FlowResult.detail`

    def left(self) -> float:
        return max(0.01, self.params.time_limit - (time.perf_counter() - self.start))

    def read(self, answer: BackendAnswer) -> _Found | None:
        """The answer's placement if it meets every rule (a floating-point backend may round one off)."""
        if answer.values is None:
            return None
        out = tuple(answer.values[x] for x in self.v.out)
        into = tuple(answer.values[x] for x in self.v.into)
        if feasibility_errors(self.p, out, into):
            return None
        counts = final_counts(self.p, out, into)
        value = (self.weights.deviation * deviation_of(self.p, counts) + self.weights.busy * counts.busy_moves
                 + counts.moves)
        return _Found(out, into, value)

    def offer(self, found: _Found | None) -> None:
        if found is not None and (self.best is None or found.value < self.best.value):
            self.best = found
        if self.best is not None and self.lb is not None and self.best.value <= self.lb:
            self.proven = True

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
        _complete_hint(self.m, values)
        return values


def _complete_hint(m: LinearModel, values: list[int]) -> None:
    """Set the helper variables (deviation, commodity totals) to the least value their defining rows allow."""
    flows = {x for x, n in enumerate(m.names) if n.startswith(("out[", "in["))}
    for row in m.rows:
        helpers = [(x, c) for x, c in zip(row.vars, row.coefs, strict=True) if x not in flows]
        if len(helpers) != 1:
            continue
        x, c = helpers[0]
        rest = sum(cc * values[xx] for xx, cc in zip(row.vars, row.coefs, strict=True) if xx != x)
        if row.lb is not None and c > 0:
            values[x] = max(values[x], min(m.ubs[x], max(m.lbs[x], math.ceil((row.lb - rest) / c))))
        if row.lb is not None and row.ub is not None and row.lb == row.ub and c < 0:
            values[x] = min(m.ubs[x], max(m.lbs[x], (row.lb - rest) // c))


def solve_flow(p: FlowProblem, params: SolveParams | None = None,
               restrictions: Restrictions | None = None) -> FlowResult:
    """Solve the class-level model; D, B and M are recomputed from the flows, not read off a solver."""
    params = params or SolveParams()
    try:
        m, v, weights = build_model(p, restrictions)
    except ValueError as exc:  # a constant row that cannot hold: nothing can change it
        return FlowResult(Status.INFEASIBLE, (), (), None, None, None, 0.0, params.backend, str(exc))
    if params.cuts:
        add_lattice_cuts(m, p, v)
    s = _Solve(p, m, v, weights, params)
    engine = params.backend if params.backend != "cpsat" else params.search
    if engine == "auto":
        engine = "scip" if len(m.lbs) >= LARGE_MODEL else "cpsat"
    small = params.search == "auto" and engine == "cpsat"  # CP-SAT alone: its plans as before (RESULTS.md)
    if params.lp_bound and not small:
        lp = relax(m, s.left())
        s.lb = None if lp is None else lp.bound
        s.certificate = None if lp is None else lp.certificate
        s.steps.append("lp none" if lp is None else f"lp {lp.seconds:.3f} s")
        if lp is not None and all(abs(x - round(x)) < 1e-6 for x in lp.values):
            s.offer(s.read(BackendAnswer("LP", [round(x) for x in lp.values], lp.objective, None, 0.0)))
    if s.proven:
        return _result(s, Status.OPTIMAL)  # an integral LP optimum that meets every rule and the bound
    first = s.run(engine, s.lb, None, None)
    s.offer(s.read(first))
    if first.status == "INFEASIBLE" and s.best is None:
        if engine == "cpsat":
            return _result(s, Status.INFEASIBLE)
        first = s.run("cpsat", None, None, None)  # a floating-point "infeasible" is confirmed exactly
        engine = "cpsat"
        s.offer(s.read(first))
        if first.status == "INFEASIBLE":
            return _result(s, Status.INFEASIBLE)
    if engine == "cpsat" and first.status == "OPTIMAL" and s.best is not None:
        s.proven = True  # CP-SAT's own proof (integer arithmetic)
    elif engine == "cpsat" and first.bound is not None:
        proven = math.ceil(first.bound - 1e-6)
        s.lb = proven if s.lb is None else max(s.lb, proven)
        s.offer(None)
    if s.best is not None and not s.proven:
        _prove(s)
    if s.best is None:
        return _result(s, Status.UNKNOWN)
    return _result(s, Status.OPTIMAL if s.proven else Status.FEASIBLE)


def _prove(s: _Solve) -> None:
    """CP-SAT searches `[lb, best - 1]` from the best placement: none there proves it, one there replaces it."""
    assert s.best is not None
    answer = s.run("cpsat", s.lb, s.best.value - 1, s.best)
    if answer.status == "INFEASIBLE":
        s.proven = True
        return
    s.offer(s.read(answer))
    if answer.status == "OPTIMAL":
        s.proven = True
    elif answer.bound is not None:
        proven = math.ceil(answer.bound - 1e-6)
        s.lb = proven if s.lb is None else max(s.lb, proven)
        s.offer(None)


def _result(s: _Solve, status: Status) -> FlowResult:
    seconds = time.perf_counter() - s.start
    detail = "; ".join(s.steps)
    if s.best is None:
        return FlowResult(status, (), (), None, None, None, seconds, s.params.backend, detail)
    d, b, m = s.weights.split(s.best.value)
    bound_value = s.best.value if status == Status.OPTIMAL else (s.lb if s.lb is not None else 0)
    bound = max(0, bound_value // s.weights.deviation)
    return FlowResult(status, s.best.out, s.best.into, d, m, bound, seconds, s.params.backend, detail, b)


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
