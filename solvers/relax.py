"""The LP relaxation of a LinearModel (GLOP), with a lower bound proven in integer arithmetic.

GLOP solves in floating point, so its objective value is not a proof. The bound used is instead computed
from GLOP's dual values `y` by weak duality, exactly: for ANY vector y (no matter how GLOP's tolerances
made it), with reduced costs d = c - Aᵀy,

    c·x  >=  Σ_rows (y_i > 0 ? y_i·lb_i : y_i·ub_i)  +  Σ_vars (d_j > 0 ? d_j·lb_j : d_j·ub_j)

holds for every x within the variable bounds that satisfies the rows (a row with y_i of the sign whose
bound is infinite gets y_i = 0 first, which keeps the inequality valid). y is rounded to multiples of
2^-40 and everything above is evaluated with Python integers, so the right-hand side is exact; the bound
is its ceiling, valid for every integer solution. GLOP's tolerances can only make the bound weaker
(a less exact y gives a smaller right-hand side), never wrong; when it is weaker than the optimum, the
solve falls back to CP-SAT for the proof (solvers/flow.py).

Owns: the relaxation (GLOP through solvers/glop.py) and its certified bound. Must not: decide statuses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from solvers.glop import Lp, with_rows
from solvers.linear import LinearModel

SCALE_BITS = 40


@dataclass(frozen=True)
class Certificate:
    """Weak duality, exactly: for every x within the bounds that meets the rows,
    `c·x >= (lagrange + Σ_j reduced[j]·(x_j - at_j)) / 2^SCALE_BITS`, where `at_j` is the bound the
    certificate holds x_j at (lb when reduced[j] > 0, ub when < 0) and every term of the sum is >= 0."""

    lagrange: int
    reduced: list[int]

    @property
    def bound(self) -> int:
        """The least integer objective the certificate allows."""
        return -((-self.lagrange) >> SCALE_BITS)

    def tightened(self, model: LinearModel, ub: int) -> tuple[list[int], list[int]]:
        """Variable bounds every solution with objective <= ub keeps (exact reduced-cost fixing).

        x_j may move away from its certificate bound by at most (ub·2^S - lagrange) / |reduced[j]|.
        """
        slack = (ub << SCALE_BITS) - self.lagrange
        lbs, ubs = list(model.lbs), list(model.ubs)
        if slack < 0:
            return lbs, ubs  # no solution at all below ub: nothing to tighten (the caller's search says so)
        for j, d in enumerate(self.reduced):
            if d > 0:
                ubs[j] = min(ubs[j], lbs[j] + slack // d)
            elif d < 0:
                lbs[j] = max(lbs[j], ubs[j] - slack // -d)
        return lbs, ubs


@dataclass(frozen=True)
class Relaxation:
    """The LP optimum (floats), and `bound`, a proven lower bound on every integer solution's objective."""

    values: list[float]
    objective: float
    certificate: Certificate
    seconds: float
    basis: Any  # GLOP's optimal basis (solvers/glop.py): another LP over the same rows starts from it

    @property
    def bound(self) -> int:
        return self.certificate.bound


def relax(model: LinearModel, time_limit: float) -> Relaxation | None:
    """Solve the LP relaxation; None when GLOP does not report an optimum (infeasible, limit, error)."""
    return _relaxation(model, None, time_limit, presolve=True)


def resolve(model: LinearModel, basis: Any, first: int, time_limit: float) -> Relaxation | None:
    """The LP relaxation again after rows `first..` were added to `model` (cuts the last optimum violates), by dual
    simplex from that optimum's basis (None: from scratch) with the new rows' slacks basic; None as for `relax`."""
    return _relaxation(model, None if basis is None else with_rows(basis, first, len(model.rows) - first),
                       time_limit, primal=False)


def _relaxation(model: LinearModel, basis: Any, time_limit: float, *, presolve: bool = False,
                primal: bool = True) -> Relaxation | None:
    """GLOP on `model` from `basis` (None: from scratch), its optimum certified exactly; None without one."""
    start = time.perf_counter()
    answer = Lp(model, model.lbs, model.ubs, basis).solve(time_limit=time_limit, presolve=presolve, primal=primal)
    if answer is None:
        return None
    return Relaxation(answer.values, answer.objective, certify(model, answer.duals), time.perf_counter() - start,
                      answer.basis)


def certified_bound(model: LinearModel, duals: list[float]) -> int:
    """ceil of the weak-duality bound of `duals`, evaluated exactly (see the module docstring)."""
    return certify(model, duals).bound


def certify(model: LinearModel, duals: list[float]) -> Certificate:
    """The exact weak-duality certificate of `duals` (rounded to multiples of 2^-SCALE_BITS)."""
    scale = 1 << SCALE_BITS
    reduced = [c * scale for c in _dense_objective(model)]
    total = 0
    for row, y in zip(model.rows, duals, strict=True):
        yi = round(y * scale)
        if (yi > 0 and row.lb is None) or (yi < 0 and row.ub is None) or yi == 0:
            continue
        assert row.lb is not None or row.ub is not None
        total += yi * (row.lb if yi > 0 else row.ub)  # type: ignore[operator]
        for v, c in zip(row.vars, row.coefs, strict=True):
            reduced[v] -= c * yi
    for d, lb, ub in zip(reduced, model.lbs, model.ubs, strict=True):
        total += d * (lb if d > 0 else ub)
    return Certificate(total, reduced)


def _dense_objective(model: LinearModel) -> list[int]:
    dense = [0] * len(model.lbs)
    for j, c in model.objective.items():
        dense[j] = c
    return dense
