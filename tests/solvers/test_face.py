"""The search on the LP's optimal face: the restricted model keeps every placement at the LP bound, maps its
answers back to placements of the full model, and the pipeline keeps only what reaches the bound."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from solvers import flow, stage
from solvers.backends import cpsat
from solvers.cuts import add_lattice_cuts
from solvers.face import restrict
from solvers.flow import solve_flow
from solvers.linear import LinearModel
from solvers.model import Weights, build_model
from solvers.params import SolveParams
from solvers.problem import (
    Arrival,
    Commodity,
    FlavorCell,
    FlowProblem,
    PoolData,
    SubnetData,
    UnitClass,
    feasibility_errors,
)
from solvers.relax import relax
from solvers.result import Status
from tests.solvers.problems import brute_force, flow_problems, key_of, solves_as_brute_force, without_busy

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _violations(m: LinearModel, values: list[int]) -> list[str]:
    """Rows and bounds of `m` that `values` breaks (computed here, not by any solver)."""
    broken = [m.names[x] for x, v in enumerate(values) if not m.lbs[x] <= v <= m.ubs[x]]
    for row in m.rows:
        total = sum(c * values[x] for x, c in zip(row.vars, row.coefs, strict=True))
        if (row.lb is not None and total < row.lb) or (row.ub is not None and total > row.ub):
            broken.append(row.name)
    return broken


@SETTINGS
@given(flow_problems())
def test_the_face_holds_every_optimum_at_the_lp_bound_and_nothing_outside_the_model(p: FlowProblem) -> None:
    try:
        m, v, _ = build_model(p)
    except ValueError:
        return  # a constant row that cannot hold: no model to restrict
    add_lattice_cuts(m, p, v)
    lp = relax(m, 10.0)
    full = cpsat.solve(m, SolveParams())
    if lp is None or full.status != "OPTIMAL":
        assert full.status != "OPTIMAL" or lp is not None  # an integer optimum has an LP optimum
        return
    assert full.objective is not None
    optimum = round(full.objective)
    try:
        face = restrict(m, *lp.certificate.tightened(m, lp.bound))
    except ValueError:
        assert optimum > lp.bound  # an empty face proves no placement reaches the bound
        return
    on_face = cpsat.solve(face.model, SolveParams())
    if optimum == lp.bound:
        assert on_face.status == "OPTIMAL" and on_face.objective is not None
        assert round(on_face.objective) + face.offset == optimum
    if on_face.values is None:
        return
    values = face.expand(on_face.values)
    assert _violations(m, values) == []
    assert on_face.objective is not None and m.value(values) == round(on_face.objective) + face.offset
    assert m.value(values) >= optimum


def test_restrict_substitutes_fixed_variables_and_names_a_row_that_cannot_hold() -> None:
    m = LinearModel()
    x, y, z = m.var(0, 5, "x"), m.var(0, 5, "y"), m.var(0, 5, "z")
    m.row({x: 1, y: 2, z: 1}, 4, 9, "sum")
    m.row({x: 1, y: -1}, None, 0, "order", "order")
    m.minimize({x: 3, y: 1, z: 1})
    face = restrict(m, [1, 2, 0], [1, 2, 5])  # x = 1 and y = 2 fixed, z free
    assert face.free == [2] and face.model.names == ["z"]
    assert [(r.vars, r.coefs, r.lb, r.ub, r.name) for r in face.model.rows] == [([0], [1], -1, 4, "sum")]
    assert face.model.objective == {0: 1} and face.offset == 5
    assert face.expand([3]) == [1, 2, 3] and m.value(face.expand([3])) == face.offset + 3
    with pytest.raises(ValueError, match="order"):
        restrict(m, [3, 2, 0], [3, 2, 5])  # x - y = 1 > 0: the constant row "order" cannot hold


def _lattice_problem() -> FlowProblem:
    """Super nodes of 4 against targets between lattice points: a fractional LP at the integer optimum."""
    comm = (Commodity(0, 4, -1), Commodity(0, 1, -1))
    classes = (UnitClass(0, 0, 0, 4, 0, 3), UnitClass(0, 1, 0, 1, 0, 3), UnitClass(1, 0, 0, 4, 0, 2),
               UnitClass(2, 1, 0, 1, 0, 2))
    pools = (PoolData(15, 0, None, (6, 6), 0, 0), PoolData(8, 0, None, (13, 13), 0, 0),
             PoolData(2, 0, None, (6, 6), 0, 0))
    arrivals = tuple(Arrival(k, pool, 0) for k in (0, 1) for pool in (0, 1, 2))
    return FlowProblem(pools, comm, classes, arrivals, (), (SubnetData(100, 0),))


def test_the_scip_search_tries_the_face_and_matches_the_brute_force() -> None:
    p = _lattice_problem()
    best = brute_force(p)
    with_face = solve_flow(p, SolveParams(search="scip"))
    without = solve_flow(p, SolveParams(search="scip", face=False))
    for result in (with_face, without):
        assert result.status == Status.OPTIMAL
        assert (result.deviation, result.busy_moves, result.moves) == best
        assert not feasibility_errors(p, result.out, result.into)
    # the LP is fractional at the bound: the face's placement reaches it, and the full model is never searched
    assert with_face.detail.startswith("lp ") and "scip on the lp face" in with_face.detail
    assert "; scip optimal" not in with_face.detail
    assert "lp face" not in without.detail and "; scip optimal" in without.detail


@SETTINGS
@given(flow_problems())
def test_only_the_staged_solve_s_second_stage_searches_the_face(p: FlowProblem) -> None:
    result = solve_flow(p, SolveParams(staged=True, search="scip"))
    best = brute_force(p)
    if best is None:
        assert result.status == Status.INFEASIBLE
        return
    assert result.status == Status.OPTIMAL and key_of(p, result.out, result.into) == best
    if p.busy_nodes:
        assert "lp face" not in result.detail.partition("stage M")[0]
    single = solve_flow(without_busy(p), SolveParams(search="scip"))
    assert single.status == Status.OPTIMAL


def test_an_empty_face_raises_the_bound_by_one_and_the_search_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    p = _lattice_problem()
    raised: list[int] = []
    real_raise = stage.Stage.raise_lb

    def no_face(*_: object) -> object:
        raise ValueError("pool_lo[0]")

    def spy(s: stage.Stage, bound: float | None) -> None:
        raised.append(-1 if bound is None else int(bound))
        real_raise(s, bound)

    lb = relax(_cut_model(p), 10.0)
    assert lb is not None
    monkeypatch.setattr(flow, "restrict", no_face)
    monkeypatch.setattr(stage.Stage, "raise_lb", spy)
    result = solve_flow(p, SolveParams(search="scip"))
    assert "lp face empty" in result.detail and "; scip optimal" in result.detail
    assert next(b for b in raised if b > lb.bound) == lb.bound + 1  # (the cuts' LP raised nothing before it here)
    assert result.status == Status.OPTIMAL and (result.deviation, result.busy_moves, result.moves) == brute_force(p)


def _cut_model(p: FlowProblem) -> LinearModel:
    m, v, _ = build_model(p)
    add_lattice_cuts(m, p, v)
    return m


@SETTINGS
@given(flow_problems(sizes=(1, 4, 8, 2)))
def test_the_exact_face_search_keeps_the_one_stage_solve_exact(p: FlowProblem) -> None:
    """The one-stage solve searches the LP face with CP-SAT, objective held at `lb` (its "infeasible" proves
    `lb + 1`): the answer is the brute force's with it and with SCIP's search of the face instead."""
    results = solves_as_brute_force(p, SolveParams(staged=False, search="scip"),
                                    SolveParams(staged=False, search="scip", exact_face=False))
    assert all("cpsat on the lp face (" not in without.detail for without in results[1:])


def test_cp_sat_s_empty_face_raises_the_bound_by_one_and_a_placement_there_is_proven(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell that wants 3 nodes of a pool, and one super node of 4 elsewhere: the LP's bound is one short of the
    optimum (D = 3, nothing moved). CP-SAT finds no placement at the bound within the LP face, which proves
    `lb + 1`; the window's vicinity holds a placement there, optimal by that bound: no full search, no proof."""
    p = FlowProblem((PoolData(0, 0, None, None, 0, 0), PoolData(4, 0, None, None, 0, 0),
                     PoolData(0, 0, None, None, 0, 0)),
                    (Commodity(0, 1, -1), Commodity(1, 4, -1)), (UnitClass(1, 1, 1, 4, 0, 1),), (Arrival(1, 0, 1),),
                    (FlavorCell(0, 1, 0, (3, 3), 1), FlavorCell(1, 0, 0, None, None), FlavorCell(1, 1, 4, None, None)),
                    (SubnetData(0, 0),), ips_per_node=1, max_moves=None, n_flavors=2)
    raised: list[int] = []
    real_raise = stage.Stage.raise_lb

    def spy(s: stage.Stage, bound: float | None) -> None:
        raised.append(-1 if bound is None else int(bound))
        real_raise(s, bound)

    lp = relax(_cut_model(p), 10.0)
    assert lp is not None
    monkeypatch.setattr(stage.Stage, "raise_lb", spy)
    result = solve_flow(p, SolveParams(staged=False, search="scip"))
    steps = result.detail.split("; ")
    assert any(step.startswith("cpsat on the lp face (") and " infeasible " in step for step in steps), result.detail
    assert steps[-1].startswith("cpsat on the lp window's vicinity"), result.detail
    weights = Weights.of(p)
    assert result.deviation is not None and result.moves is not None
    value = weights.deviation * result.deviation + weights.busy * result.busy_moves + result.moves
    assert raised == [lp.bound + 1] and value == lp.bound + 1
    assert result.status == Status.OPTIMAL and (result.deviation, result.busy_moves, result.moves) == brute_force(p)
    without = solve_flow(p, SolveParams(staged=False, search="scip", exact_face=False))
    assert "scip on the lp face (" in without.detail and without.detail.rsplit("; ", 1)[1].startswith("cpsat")
