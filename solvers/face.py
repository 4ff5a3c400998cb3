"""The LP's optimal face as a smaller model: the variables an LP certificate fixes, substituted out.

Exact reduced-cost fixing (solvers/relax.py `Certificate.tightened`) at `ub = lb`, the LP's proven bound,
gives bounds that every placement with objective `<= lb` keeps; on the class models about half the
variables end up fixed. `restrict` drops them from the model, moving their constant contribution into
the rows' bounds and the objective's offset, so that a search engine works on the other half only. Any
placement of the restricted model, once `expand`ed, is a placement of the full model (the bounds only
narrowed); whether it reaches `lb` is for the caller to check exactly.

Owns: building the restricted model and mapping its answers back. Must not: solve, or decide statuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from solvers.linear import LinearModel


@dataclass(frozen=True)
class Face:
    """`model` over the free variables `free` of a full model; `fixed` holds every variable's fixed value
    (the free ones' entries unused); a full objective is `offset` + the restricted one."""

    model: LinearModel
    free: list[int]
    fixed: list[int]
    offset: int

    def expand(self, values: list[int]) -> list[int]:
        """A full assignment from an assignment of the restricted model."""
        full = list(self.fixed)
        for i, x in enumerate(self.free):
            full[x] = values[i]
        return full


def restrict(model: LinearModel, lbs: list[int], ubs: list[int]) -> Face:
    """`model` with the bounds `lbs`/`ubs` and every variable whose bounds meet substituted by its value.

    Raises ValueError (naming the row) when a row left without free variables cannot hold: then no
    assignment within these bounds meets the rows.
    """
    free = [x for x, (lb, ub) in enumerate(zip(lbs, ubs, strict=True)) if lb != ub]
    index = {x: i for i, x in enumerate(free)}
    face = LinearModel(lbs=[lbs[x] for x in free], ubs=[ubs[x] for x in free], names=[model.names[x] for x in free])
    for row in model.rows:
        constant = 0
        terms: dict[int, int] = {}
        for x, c in zip(row.vars, row.coefs, strict=True):
            i = index.get(x)
            if i is None:
                constant += c * lbs[x]
            else:
                terms[i] = c
        face.row(terms, None if row.lb is None else row.lb - constant,
                 None if row.ub is None else row.ub - constant, row.name, row.group)
    face.objective = {index[x]: c for x, c in model.objective.items() if x in index}
    offset = sum(c * lbs[x] for x, c in model.objective.items() if x not in index)
    return Face(face, free, list(lbs), offset)
