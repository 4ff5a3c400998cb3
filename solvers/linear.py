"""A small backend-neutral integer linear model: bounded integer variables, ranged rows, a linear objective.

The flow model is built once in this form and handed to a backend (CP-SAT or an OR-Tools MIP solver), so
the formulation is written in one place and backends stay thin.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    """lb <= Σ coef·var <= ub (None: unbounded on that side)."""

    vars: list[int]
    coefs: list[int]
    lb: int | None
    ub: int | None
    name: str
    group: str | None = None


@dataclass
class LinearModel:
    """Integer variables with bounds, rows and a minimisation objective."""

    lbs: list[int] = field(default_factory=list)
    ubs: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    objective: dict[int, int] = field(default_factory=dict)

    def var(self, lb: int, ub: int, name: str) -> int:
        """Add an integer variable and return its index."""
        self.lbs.append(lb)
        self.ubs.append(ub)
        self.names.append(name)
        return len(self.lbs) - 1

    def row(self, terms: dict[int, int], lb: int | None, ub: int | None, name: str,
            group: str | None = None) -> None:
        """Add lb <= Σ terms <= ub; `group` tags a hard rule that an infeasibility core may name.

        A row with no variables must already hold; otherwise ValueError names it (its group, if tagged).
        """
        terms = {v: c for v, c in terms.items() if c}
        if not terms:
            if (lb is not None and lb > 0) or (ub is not None and ub < 0):
                raise ValueError(group or name)
            return
        vs = sorted(terms)
        self.rows.append(Row(vs, [terms[v] for v in vs], lb, ub, name, group))

    def minimize(self, terms: dict[int, int]) -> None:
        """Set the objective to minimise Σ terms."""
        self.objective = {v: c for v, c in terms.items() if c}
