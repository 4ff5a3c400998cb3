"""Solver outcomes as values: status, per-class departures, per-arrival counts, objective, bound, timings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Outcome of a solve. OPTIMAL is only ever reported with the solver's proof."""

    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class FlowResult:
    """A solution of a FlowProblem (or the lack of one).

    `out[i]` units of class i leave their pool; `into[j]` units arrive through arrival j. `bound` is a proven
    lower bound on the deviation (equal to `deviation` when OPTIMAL). `busy_moves` is B, the busy nodes
    moved (PRODUCT §9), None without a solution.
    """

    status: Status
    out: tuple[int, ...]
    into: tuple[int, ...]
    deviation: int | None
    moves: int | None
    bound: int | None
    seconds: float
    backend: str
    detail: str = ""
    busy_moves: int | None = None

    @property
    def has_solution(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)
