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
    """Integer variables with bounds, rows and a minimisation objective.

    `objective_lb`/`objective_ub` restrict the objective to a range (a proven lower bound, or "better than
    this known solution"); `hint` is a full assignment a backend may start from.
    """

    lbs: list[int] = field(default_factory=list)
    ubs: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    objective: dict[int, int] = field(default_factory=dict)
    # Search guidance a backend may use: the objective's known range and a (feasible) starting solution.
    objective_lb: int | None = None
    objective_ub: int | None = None
    hint: list[int] | None = None

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

    def value(self, values: list[int]) -> int:
        """The objective of a full assignment."""
        return sum(c * values[v] for v, c in self.objective.items())
