"""The LP optimum's vicinity: a small model around the variables the LP leaves fractional.

On the class models the LP optimum is integral in all but a few dozen of 7-14k variables (the fractional
ones are super-node classes, 4 or 8 nodes a unit, and their commodities' arrivals). `vicinity` keeps free
those variables and every variable that shares a short row with them, twice over (`HOPS` rows of at most
`MAX_ROW` variables: a pool's bounds and deviation, a cell, a commodity's own-pool rule; not the subnet or
conservation rows of hundreds of variables), and fixes every other one at its LP value. What is left is a
model of 700-1,700 variables at 100k nodes that SCIP solves in 0.1-1 s (solvers/face.py
`restrict` builds it). Its placements are placements of the full model (the bounds only narrowed); they are
only candidates, whose objective the caller checks exactly against the proven bound.

`agreement` is the same idea around a placement already found (RINS, relaxation-induced neighbourhood
search): the variables on which the LP optimum and the placement agree are fixed, except the LP optimum's
vicinity (above), the others free. Without that vicinity, hard 100k s3 drain's stage M found M = 26584 + 4 there
and CP-SAT did not close the window in 20 s; with it (2,379 of 14,016 variables free) SCIP found 26584 in 1 s. The
staged solve's stage M uses it around the (D, B) stage's placement, whose moves the (D, B) objective did not
count: fixing what the M stage's LP agrees with leaves 1,000-2,500 variables, and the search there finds the
optimal M or close to it in 0.1-1 s at 100k nodes (SCIP on the full model: 2-15 s).

Owns: choosing the free variables and the fixed values. Must not: solve, or decide statuses.
"""

from __future__ import annotations

from solvers.linear import LinearModel

HOPS = 2  # rows crossed from a fractional variable: one reaches its pool's rows, two the pools it trades with
MAX_ROW = 100  # longer rows (subnets, conservation) are not crossed: they would free most of the model
TOLERANCE = 1e-6  # an LP value this close to an integer counts as integral


def fractional(values: list[float]) -> list[int]:
    """The variables whose LP value is not integral."""
    return [x for x, value in enumerate(values) if abs(value - round(value)) > TOLERANCE]


def vicinity(model: LinearModel, values: list[float], lbs: list[int], ubs: list[int]) -> tuple[list[int], list[int]]:
    """Bounds that leave the fractional variables of `values` and their neighbours within `lbs..ubs`, and fix
    every other variable at its LP value (rounded, and moved into `lbs..ubs` if the LP's tolerances left it out).
    """
    free = set(fractional(values))
    rows_of: list[list[int]] = [[] for _ in model.lbs]
    for r, row in enumerate(model.rows):
        if len(row.vars) <= MAX_ROW:
            for x in row.vars:
                rows_of[x].append(r)
    for _ in range(HOPS):
        reached = {r for x in free for r in rows_of[x]}
        free.update(x for r in reached for x in model.rows[r].vars)
    low, high = list(lbs), list(ubs)
    for x, value in enumerate(values):
        if x not in free:
            low[x] = high[x] = min(max(round(value), lbs[x]), ubs[x])
    return low, high


def agreement(model: LinearModel, values: list[float], placement: list[int]) -> tuple[list[int], list[int]]:
    """Bounds that fix every variable whose LP value equals its value in `placement` (a full assignment that
    meets the model), except the LP optimum's vicinity (`vicinity`: the fractional variables and their
    neighbours), and leave the others within the model's bounds; `placement` meets them."""
    near_low, near_high = vicinity(model, values, model.lbs, model.ubs)
    low, high = list(model.lbs), list(model.ubs)
    for x, (value, fixed) in enumerate(zip(values, placement, strict=True)):
        if abs(value - fixed) <= TOLERANCE and near_low[x] == near_high[x]:
            low[x] = high[x] = fixed
    return low, high
