"""An exact proof that no integer solution lies in a narrow window: strong branching on GLOP, certified exactly.

The claim proven is "every integer solution within `lbs..ubs` that meets the rows has objective >= target"
(the caller passes target = its best placement's value, and the bounds the LP certificate allows below it,
solvers/relax.py `Certificate.tightened`). A region is closed when a weak-duality certificate evaluated
exactly on that region (solvers/relax.py `certify`: integers only, valid for ANY dual vector) gives a bound
>= target. GLOP only proposes the dual vectors; no floating-point status or value is ever taken as proof.

The search (`prove_window`), on one GLOP instance (solvers/glop.py) started from the stage's LP relaxation's
basis (its first LP then takes no iteration, where from scratch it took 0.65-1.0 s at 100k nodes) and
warm-started from solve to solve (no preprocessing, dual simplex after a bound change: 10-30 ms a solve):
- a node is a region (the bounds); it is closed when its own certificate reaches the target;
- strong branching: for a variable x_j at a fractional LP value v, f = floor(v), the children x_j <= f and
  x_j >= f + 1 hold every integer solution of the node between them. Both closed: the node is closed. One
  closed: every integer solution of the node below the target lies in the other, so the node's bound on x_j
  is tightened to it for good, its LP solved again (this is what raises the bound: SCIP closed the same
  gaps at its root by such tightenings). The child x_j's objective coefficient makes dearer is solved
  first; when it closes, the other is not solved as a child but as the tightened node;
- a child GLOP calls infeasible is bounded by a Lagrangian instead, which needs no feasible child: with
  P >= 0 and the node's region, the certificate of the objective `c + P·e_j` gives `(c + P·e_j)·x >= L` for
  every x of the node, so every x of the down child (x_j <= f) has `c·x >= L - P·f`; with `c - P·e_j`, every
  x of the up child (x_j >= f + 1) has `c·x >= L + P·(f + 1)`. Any P is valid; a large one makes the bound
  strong when the child is empty (every x of the node then has x_j > f, or < f + 1);
- otherwise it branches on the candidate whose weaker child came closest, both ways, depth-first, up to
  `MAX_DEPTH` levels. Every integer solution below the target lies in some leaf; when every leaf is closed
  there is none. At the time limit or `MAX_LPS` solves, or with a leaf left open, nothing is claimed.

Measured on the 100k drain instances (benchmarks/RESULTS.md, "Drain proofs (session 22)"): the staged solve's
windows of 1-3 values proven in 11-37 LP solves, 1.1-1.9 s where CP-SAT took 2.2-6.5 s. Not everywhere:
the one-sum solve of busy 100k s2 under `ignore` (a window of 2 moves) needed 313 LP solves (3.3 s) where CP-SAT
proved it in 0.9 s, so solvers/flow.py tries it only in the staged solve, on windows of at most
`BRANCH_WINDOW` values, and stops it after `MAX_LPS` solves.

Owns: the branching proof. Must not: decide statuses, search for placements, or trust GLOP's claims.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from solvers.glop import Lp, LpAnswer
from solvers.linear import LinearModel
from solvers.relax import SCALE_BITS, certify

MAX_DEPTH = 3  # branching levels below the root (strong branching's tightenings do most of the work)
MAX_LPS = 100  # LP solves: the staged solve's proofs took 11-37 at 100k nodes (then CP-SAT proves the window)
PENALTY = 64  # the Lagrangian's P, per objective value of the window (a child empty by 1/64 of a unit closes)
TOLERANCE = 1e-6  # an LP value this close to an integer is not branched on


@dataclass(frozen=True)
class BranchProof:
    """The outcome: `proven` only when every region below the target was closed by an exact certificate."""

    proven: bool
    lps: int
    seconds: float


class _Lp(Lp):
    """The search's GLOP instance: the current region `lbs..ubs`, a deadline, the solves counted, and the exact
    certificate of a region's duals."""

    def __init__(self, model: LinearModel, lbs: list[int], ubs: list[int], basis: Any, deadline: float) -> None:
        super().__init__(model, lbs, ubs, basis)
        self.deadline, self.solves = deadline, 0

    def penalize(self, j: int, penalty: int) -> None:
        """x_j's objective coefficient becomes c_j + penalty (0: back to c_j)."""
        self.coefficient(j, self.model.objective.get(j, 0) + penalty)

    def answer(self, primal: bool = False) -> LpAnswer | None:
        """GLOP's optimum of the region (dual simplex unless `primal`), or None when it reports none."""
        self.solves += 1
        return self.solve(time_limit=self.deadline - time.perf_counter(), primal=primal)

    def certified(self, duals: list[float], j: int = 0, penalty: int = 0, shift: int = 0) -> int:
        """The least integer objective of the region the certificate of `duals` allows (exact): for the objective
        `c + penalty·e_j`, that certificate's bound minus `penalty·shift` (see the module docstring)."""
        objective = self.model.objective
        if penalty:
            objective = {**objective, j: objective.get(j, 0) + penalty}
        certificate = certify(replace(self.model, lbs=self.lbs, ubs=self.ubs, objective=objective), duals)
        return replace(certificate, lagrange=certificate.lagrange - ((penalty * shift) << SCALE_BITS)).bound


def split_window(model: LinearModel, lb: int, target: int, high: dict[int, int], weight: int,
                 low: dict[int, int]) -> tuple[LinearModel, int, int] | None:
    """The same claim on a model with small objective values, for an objective `weight·H + L` (H = Σ high,
    L = Σ low, both integer and >= 0 on every integer solution, L < weight): (model, target, lb) of the claim
    "with H <= h, L >= target - weight·h", or None when `lb` and `target - 1` differ in h = lb // weight.

    Every solution with objective in [lb, target - 1] has H = h: weight·H + L >= lb >= weight·h with L < weight
    gives H > h - 1, and weight·H <= target - 1 < weight·(h + 1) gives H < h + 1. So it has L <= target - 1 -
    weight·h, and the row H <= h holds on it: no such L under that row proves the original claim. Measured:
    hard 100k s2's (D, B) window on `W1·D + B` (values near 10^9) was not closed in 400 LP solves, on B alone
    in 37 (benchmarks/RESULTS.md)."""
    h = lb // weight
    if (target - 1) // weight != h:
        return None
    narrow = replace(model, rows=list(model.rows))
    narrow.row(high, None, h, "split_high")
    narrow.minimize(low)
    return narrow, target - weight * h, lb - weight * h


def prove_window(model: LinearModel, target: int, lb: int, lbs: list[int], ubs: list[int],
                 time_limit: float, basis: Any = None) -> BranchProof:
    """Whether every integer solution of `model` within `lbs..ubs` has objective >= `target`, proven exactly
    (see the module docstring); `lb` is a proven lower bound (it sizes the Lagrangian's penalty); `basis`, one
    for `model`'s rows to start the first LP from (solvers/glop.py)."""
    start = time.perf_counter()
    deadline = start + time_limit
    search = _Search(_Lp(model, lbs, ubs, basis, deadline), target, PENALTY * max(1, target - lb), deadline)
    proven = search.node(0, search.lp.answer(primal=True))
    return BranchProof(proven, search.lp.solves, time.perf_counter() - start)


class _Search:
    """The depth-first search of `prove_window`; `node` is True only for a region closed exactly."""

    def __init__(self, lp: _Lp, target: int, penalty: int, deadline: float) -> None:
        self.lp, self.target, self.penalty, self.deadline = lp, target, penalty, deadline

    def closes(self, answer: LpAnswer | None) -> bool:
        """The region's own certificate reaches the target (checked exactly when GLOP's value says it may)."""
        return answer is not None and self.promising(answer.objective) and \
            self.lp.certified(answer.duals) >= self.target

    def spent(self) -> bool:
        return time.perf_counter() > self.deadline or self.lp.solves >= MAX_LPS

    def promising(self, objective: float) -> bool:
        return objective > self.target - 1 + 1e-9 * max(1.0, abs(objective))

    def node(self, depth: int, answer: LpAnswer | None) -> bool:
        """Close the current region (its LP `answer`): by its certificate, tightenings, then branching."""
        if answer is None or self.spent():
            return False
        if self.closes(answer):
            return True
        tried: set[int] = set()
        while True:
            outcome = self.strong_branching(answer, tried)
            if isinstance(outcome, bool):
                return outcome
            if isinstance(outcome, LpAnswer):
                answer = outcome  # a bound tightened, the region's LP solved again
                continue
            break
        if outcome is None or depth >= MAX_DEPTH:
            return False
        j, f = outcome
        return self.branch(depth, j, self.lp.lbs[j], f) and self.branch(depth, j, f + 1, self.lp.ubs[j])

    def branch(self, depth: int, j: int, lo: int, hi: int) -> bool:
        """Close the child `lo <= x_j <= hi` of the current region; the region's bounds are restored after."""
        saved = list(self.lp.lbs), list(self.lp.ubs)
        self.lp.bound(j, lo, hi)
        closed = self.node(depth + 1, self.lp.answer())
        for k, (a, b) in enumerate(zip(*saved, strict=True)):
            if (self.lp.lbs[k], self.lp.ubs[k]) != (a, b):
                self.lp.bound(k, a, b)
        return closed

    def strong_branching(self, answer: LpAnswer, tried: set[int]) -> bool | LpAnswer | tuple[int, int] | None:
        """The children of the region's fractional variables, each variable once: True when the region is closed,
        False at the time limit or when a tightened region has no LP answer, the region's new LP answer after a
        tightening, else the variable to branch on and its floor (None: no fractional variable left).

        The child a variable's objective coefficient makes dearer (up for a positive one) comes first: when it
        closes, the region is tightened to the other child at once, whose LP is then the region's (closed by
        its certificate if it reaches the target), one LP solve fewer than solving both children first."""
        best: tuple[float, int, int] | None = None
        for j, v in enumerate(answer.values):
            if j in tried or abs(v - round(v)) <= TOLERANCE:
                continue
            if self.spent():
                return False
            tried.add(j)
            f, bounds = math.floor(v), (self.lp.lbs[j], self.lp.ubs[j])
            up_first = self.lp.model.objective.get(j, 0) > 0
            first = self.child(j, not up_first, f)
            if first >= self.target:
                tightened = self.tighten(j, f, down_closed=not up_first)
                if tightened is not None:
                    return True if self.closes(tightened) else tightened
                self.lp.bound(j, *bounds)  # no LP answer there: the other child's own bound (a Lagrangian) decides
                return self.child(j, up_first, f) >= self.target
            second = self.child(j, up_first, f)
            if second >= self.target:
                tightened = self.tighten(j, f, down_closed=up_first)
                return False if tightened is None else (True if self.closes(tightened) else tightened)
            if best is None or min(first, second) > best[0]:
                best = (min(first, second), j, f)
        return None if best is None else (best[1], best[2])

    def tighten(self, j: int, f: int, down_closed: bool) -> LpAnswer | None:
        """The region tightened to the child of x_j that is not closed, and its LP answer."""
        if down_closed:
            self.lp.bound(j, f + 1, self.lp.ubs[j])
        else:
            self.lp.bound(j, self.lp.lbs[j], f)
        return self.lp.answer()

    def child(self, j: int, down: bool, f: int) -> float:
        """A lower bound on the objective in the child x_j <= f (`down`) or x_j >= f + 1 of the current region:
        exact when it reaches the target, else GLOP's estimate (for choosing a branch), or -inf."""
        lo, hi = self.lp.lbs[j], self.lp.ubs[j]
        new = (lo, f) if down else (f + 1, hi)
        if new[0] > new[1]:
            return math.inf  # no value of x_j in this child at all
        self.lp.bound(j, *new)
        answer = self.lp.answer()
        if answer is not None:  # certified on the child's region, before the node's bounds come back
            bound = self.lp.certified(answer.duals) if self.promising(answer.objective) else answer.objective
        self.lp.bound(j, lo, hi)
        if answer is not None:
            return bound
        penalty = self.penalty if down else -self.penalty  # GLOP found no LP point: bound the child by a Lagrangian
        self.lp.penalize(j, penalty)
        relaxed = self.lp.answer()
        self.lp.penalize(j, 0)
        self.lp.answer(primal=True)  # back to the region's optimum: the objective changed, the bounds did not
        if relaxed is None:
            return -math.inf
        return self.lp.certified(relaxed.duals, j, penalty, f if down else f + 1)
