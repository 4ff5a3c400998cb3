"""One stage of the exact solve (solvers/flow.py): its model and objective, the proven bound, the best placement
so far and the deadline, answers read back as checked placements, and the proof of the best one.

A stage admits a placement only if it meets every final-state rule (`feasibility_errors`) and its (D, B, M),
recomputed from the counts, has a value in the stage's objective; it is proven when that value reaches the
bound, or by `prove`: strong branching on the LP for a window of at most `BRANCH_WINDOW` values in the staged
solve (solvers/branching.py, every closed branch certified exactly), else CP-SAT's search of the window. A window
first gets the LP's substituted lattice cuts (`add_cuts`, solvers/cuts.py): in the staged solve one wider than
`BRANCH_WINDOW`, after which branching takes what they leave of a window wider than `PLAIN_WINDOW` up to
`CUT_WINDOW` values, and CP-SAT the rest; in the one-stage solve before CP-SAT's search of the LP face, their rows
then left out (`keep`), or, with SCIP on the face, on any window the full model's search leaves.
Owns: a stage's state and its proof step. Must not: choose where to search (solvers/flow.py does) or import
planner, pandas, httpx, click.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from solvers.backends import BackendAnswer, get_backend
from solvers.cuts import separate
from solvers.linear import LinearModel
from solvers.model import Vars, complete_hint
from solvers.params import SolveParams
from solvers.problem import FlowProblem, deviation_of, feasibility_errors, final_counts
from solvers.vicinity import fractional

if TYPE_CHECKING:  # the LP (and OR-Tools' linear solver with it) is imported only by the models that use it
    from solvers.relax import Certificate

# objective values; a window this narrow is proven by branching first (solvers/branching.py). 4, not 3: hard 100k s3
# drain's (D, B) window of 4 closed in 41 LP solves (1.8-2.1 s; CP-SAT 3.0-3.7 s), busy 100k s1's in 24 (0.5 s; 0.8 s)
BRANCH_WINDOW = 4
# in the staged solve, a wider window than BRANCH_WINDOW gets the substituted lattice cuts first (`add_cuts`); what they
# leave of a window at most this wide is proven by CP-SAT, not branching: busy 100k s2 drain's stage M window of 7 went
# to 1, which branching left open after 100 LPs (1.5 s) and CP-SAT proved in 0.2 s, and hard 100k s4 drain's (D, B)
# window of 7 closed under the cuts alone (CP-SAT took 2.2-3.0 s on it); session 25. The one-stage solve takes the cuts
# before its face search, on any window (solvers/flow.py step 4)
PLAIN_WINDOW = 8
# the branching's window after the cuts: hard 100k s4 nocross drain's (D, B) window of 10 closed in 17 LP solves
# (0.6-0.9 s; CP-SAT 6.7-10.3 s), its stage M's of 23 in 51 (1.6-2.1 s; CP-SAT 16 s, or unknown at the time limit)
CUT_WINDOW = 24
SEPARATION_ROUNDS = 6  # LP solves with substituted lattice cuts (`add_cuts`); the 100k drain stages took 1-4

Key = tuple[int, int, int]  # (D, B, M) of a placement


@dataclass(frozen=True)
class Found:
    """A checked placement, its (D, B, M) and its objective value in the stage that found it."""

    out: tuple[int, ...]
    into: tuple[int, ...]
    key: Key
    value: int


class Stage:
    """One stage: a model and its objective, the proven bound, the best placement so far, the deadline."""

    def __init__(self, p: FlowProblem, m: LinearModel, v: Vars, value: Callable[[Key], int | None],
                 params: SolveParams, deadline: float, steps: list[str]) -> None:
        self.p, self.m, self.v, self.value, self.params = p, m, v, value, params
        self.deadline, self.steps = deadline, steps
        self.lb: int | None = None
        self.certificate: Certificate | None = None
        self.lp_values: list[float] | None = None
        self.lp_basis: Any = None  # the LP relaxation's optimal basis (solvers/glop.py), the branching's start
        self.best: Found | None = None
        self.proven = False
        self.infeasible = False  # CP-SAT (exact) found no placement at all
        self.branch = False  # a narrow window proven by branching first (the staged solve's stages)
        self.separated = False  # the LP's substituted lattice cuts added (solvers/flow.py `_separate`)
        self.cut_window = 0  # the window `best - lb` when they were added
        self.split: tuple[dict[int, int], int, dict[int, int]] | None = None  # objective weight·H + L (branching.py)

    def left(self) -> float:
        return max(0.01, self.deadline - time.perf_counter())

    def read(self, answer: BackendAnswer) -> Found | None:
        """The answer's placement if it meets every rule (a floating-point backend may round one off)."""
        if answer.values is None:
            return None
        return self.found(tuple(answer.values[x] for x in self.v.out), tuple(answer.values[x] for x in self.v.into))

    def found(self, out: tuple[int, ...], into: tuple[int, ...]) -> Found | None:
        """The placement with its (D, B, M) if it meets every rule and the stage admits it (`value` not None)."""
        if feasibility_errors(self.p, out, into):
            return None
        counts = final_counts(self.p, out, into)
        key = (deviation_of(self.p, counts), counts.busy_moves, counts.moves)
        value = self.value(key)
        return None if value is None else Found(out, into, key, value)

    def offer(self, found: Found | None) -> None:
        if found is not None and (self.best is None or found.value < self.best.value):
            self.best = found
        if self.best is not None and self.lb is not None and self.best.value <= self.lb:
            self.proven = True

    def raise_lb(self, bound: float | None) -> None:
        if bound is not None:
            proven = math.ceil(bound - 1e-6)
            self.lb = proven if self.lb is None else max(self.lb, proven)
            self.offer(None)

    def run(self, backend: str, lb: int | None, ub: int | None, hint: Found | None) -> BackendAnswer:
        model = replace(self.m, objective_lb=lb, objective_ub=ub, hint=None if hint is None else self.full(hint))
        if ub is not None and self.certificate is not None:
            model.lbs, model.ubs = self.certificate.tightened(self.m, ub)
        answer = get_backend(backend)(model, replace(self.params, time_limit=self.left()))
        self.steps.append(f"{backend} {answer.status.lower()} {answer.seconds:.3f} s")
        return answer

    def full(self, found: Found) -> list[int]:
        """A complete assignment for a hint: flows from `found`, the other variables from the model's rows."""
        values = [0] * len(self.m.lbs)
        for x, n in zip(self.v.out, found.out, strict=True):
            values[x] = n
        for x, n in zip(self.v.into, found.into, strict=True):
            values[x] = n
        complete_hint(self.m, values)
        return values


def add_cuts(s: Stage, keep: bool = True) -> list[float] | None:
    """Once per stage, when its best placement is above `lb` (in the staged solve, more than `BRANCH_WINDOW`; in the
    one-stage solve also before any placement is found): rounds of substituted lattice cuts (solvers/cuts.py
    `separate`) that the LP optimum violates, added to the stage's model, each followed by the LP again from the last
    basis, until none is violated or `SEPARATION_ROUNDS`; the last LP's bound raises `lb`, its certificate and basis
    replace the stage's (the searches before ran on the first LP's, as without cuts). Without `keep` the rows leave
    the model again, and the basis is the one before them: only the bound, the certificate (valid for every integer
    placement, which meets the rows) and the LP optimum remain. The last LP optimum when `lb` rose and the placement
    is not proven, else None."""
    if s.separated or not s.params.cuts or s.lp_values is None or s.lb is None:
        return None
    window = None if s.best is None else s.best.value - s.lb
    if (window is None and s.branch) or (window is not None and window <= (BRANCH_WINDOW if s.branch else 0)):
        return None
    from solvers.glop import with_rows
    from solvers.relax import resolve

    s.separated, s.cut_window = True, window or 0
    start, before, bound = time.perf_counter(), len(s.m.rows), s.lb
    values, basis, rounds = s.lp_values, s.lp_basis, 0
    while rounds < SEPARATION_ROUNDS and (s.best is None or s.best.value > s.lb) and fractional(values):
        first = len(s.m.rows)
        if not separate(s.m, s.p, s.v, values):
            break
        lp = resolve(s.m, basis, first, s.left())
        if lp is None:  # the new rows' slacks basic keep the last basis a basis of the model with them
            basis = None if basis is None else with_rows(basis, first, len(s.m.rows) - first)
            break
        rounds, values, basis, s.certificate = rounds + 1, lp.values, lp.basis, lp.certificate
        s.raise_lb(lp.bound)
    cuts = len(s.m.rows) - before
    if keep:
        s.lp_basis = basis
    else:
        del s.m.rows[before:]
    seconds = time.perf_counter() - start
    s.steps.append(f"{cuts} cuts, {rounds} lps, lb +{s.lb - bound} {seconds:.3f} s")
    return values if s.lb > bound and not s.proven else None


def prove(s: Stage) -> None:
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


def _branch(s: Stage) -> bool:
    """solvers/branching.py's proof that nothing lies in `[lb, best - 1]` (<= `BRANCH_WINDOW` values; after the cuts,
    <= `CUT_WINDOW` when they were added on a window wider than `PLAIN_WINDOW`, else none; half the time left)."""
    assert s.best is not None
    widest = BRANCH_WINDOW if not s.separated else CUT_WINDOW if s.cut_window > PLAIN_WINDOW else -1
    if not (s.branch and s.params.branching) or s.certificate is None or s.lb is None or \
            s.best.value - s.lb > widest:
        return False
    from solvers.branching import prove_window, split_window
    from solvers.glop import with_rows

    window = (s.m, s.best.value, s.lb) if s.split is None else split_window(s.m, s.lb, s.best.value, *s.split)
    if window is not None:
        added = len(window[0].rows) - len(s.m.rows)  # split_window's row: its slack basic in the LP's basis
        basis = with_rows(s.lp_basis, len(s.m.rows), added) if added and s.lp_basis is not None else s.lp_basis
        proof = prove_window(*window, *s.certificate.tightened(s.m, s.best.value - 1), s.left() / 2, basis)
        s.steps.append(f"branching {'proven' if proof.proven else 'open'} ({proof.lps} lps) {proof.seconds:.3f} s")
        s.proven = proof.proven
    return s.proven
