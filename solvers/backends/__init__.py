"""Solver backends behind one function signature: `solve(model, params) -> BackendAnswer`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from solvers.linear import LinearModel
from solvers.params import SolveParams


@dataclass(frozen=True)
class BackendAnswer:
    """Raw answer of a backend: status name, variable values, objective and proven bound."""

    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | UNKNOWN
    values: list[int] | None
    objective: float | None
    bound: float | None
    seconds: float
    detail: str = ""


Backend = Callable[[LinearModel, SolveParams], BackendAnswer]


def get_backend(name: str) -> Backend:
    """The backend called `name` ("cpsat", "scip", "cbc" or "highs")."""
    if name == "cpsat":
        from solvers.backends.cpsat import solve as solve_cpsat

        return solve_cpsat
    if name in ("scip", "cbc", "highs"):
        from solvers.backends.mip import make_mip_backend

        return make_mip_backend(name.upper())
    raise ValueError(f"unknown backend {name!r} (expected cpsat, scip, cbc or highs)")
