"""Busy nodes in the solver (PRODUCT §9, `drain`): the objective is (D, B, M), exactly, against a brute force."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from solvers import flow, stage
from solvers.flow import solve_flow
from solvers.greedy import solve_greedy
from solvers.model import Weights
from solvers.params import SolveParams
from solvers.pernode import solve_pernode
from solvers.problem import (
    Arrival,
    Commodity,
    FlowProblem,
    PoolData,
    SubnetData,
    UnitClass,
    feasibility_errors,
    final_counts,
)
from solvers.result import Status
from tests.solvers.problems import brute_force, flow_problems, key_of, without_busy

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(flow_problems())
def test_flow_is_lexicographically_optimal_in_deviation_busy_moves_and_moves(p: FlowProblem) -> None:
    best = brute_force(p)
    result = solve_flow(p)
    if best is None:
        assert result.status == Status.INFEASIBLE
        return
    assert result.status == Status.OPTIMAL
    assert (result.deviation, result.busy_moves, result.moves) == best
    assert key_of(p, result.out, result.into) == best and not feasibility_errors(p, result.out, result.into)
    assert result.bound == result.deviation


@SETTINGS
@given(flow_problems())
def test_busy_aware_never_moves_more_busy_nodes_for_the_same_deviation(p: FlowProblem) -> None:
    aware = solve_flow(p)
    ignoring = solve_flow(without_busy(p))
    if not aware.has_solution:
        assert not ignoring.has_solution
        return
    assert aware.deviation == ignoring.deviation  # B never costs deviation
    busy_when_ignored = final_counts(p, ignoring.out, ignoring.into).busy_moves
    assert aware.busy_moves is not None and aware.busy_moves <= busy_when_ignored


@SETTINGS
@given(flow_problems())
def test_every_engine_finds_the_same_optimum(p: FlowProblem) -> None:
    expected = solve_flow(p)
    for params in (SolveParams(search="cpsat"), SolveParams(search="scip"), SolveParams(cuts=False, lp_bound=False),
                   SolveParams(backend="scip")):
        got = solve_flow(p, params)
        assert got.status == expected.status, params
        assert (got.deviation, got.busy_moves, got.moves) == (expected.deviation, expected.busy_moves,
                                                               expected.moves), params


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_problems())
def test_baselines_count_busy_moves_consistently(p: FlowProblem) -> None:
    flow = solve_flow(p)
    pernode = solve_pernode(p)
    if flow.status == Status.OPTIMAL and pernode.status == Status.OPTIMAL:
        assert (pernode.deviation, pernode.busy_moves, pernode.moves) == (flow.deviation, flow.busy_moves, flow.moves)
    greedy = solve_greedy(p)
    if greedy.has_solution:
        assert greedy.busy_moves == final_counts(p, greedy.out, greedy.into).busy_moves
        assert flow.deviation is not None
        assert (flow.deviation, flow.busy_moves, flow.moves) <= (greedy.deviation, greedy.busy_moves, greedy.moves)


def _two_pools(idle: int, busy: int) -> FlowProblem:
    """Pool 0 holds `idle` idle and `busy` busy nodes of one flavor; pool 1 wants 2 of them."""
    comm = Commodity(flavor=0, size=1, cluster=-1)
    classes = (UnitClass(0, 0, 0, 1, 0, idle, False), UnitClass(0, 0, 0, 1, 0, busy, True))
    pools = (PoolData(idle + busy, 0, None, None, 0, 0), PoolData(0, 0, None, (2, 2), 0, 0))
    return FlowProblem(pools, (comm,), classes, (Arrival(0, 1, 0),), (), (SubnetData(10, 0),))


def test_idle_nodes_move_first_and_busy_ones_only_when_needed() -> None:
    some_idle = solve_flow(_two_pools(idle=3, busy=5))
    assert (some_idle.deviation, some_idle.busy_moves, some_idle.moves) == (0, 0, 2)
    assert some_idle.out == (2, 0)
    one_idle = solve_flow(_two_pools(idle=1, busy=5))
    assert (one_idle.deviation, one_idle.busy_moves, one_idle.moves) == (0, 1, 2)  # D first: a busy node moves
    greedy = solve_greedy(_two_pools(idle=3, busy=5))
    assert greedy.out == (2, 0) and greedy.busy_moves == 0


def test_weights_encode_the_levels_exactly() -> None:
    p = _two_pools(idle=3, busy=5)
    w = Weights.of(p)
    movable = p.movable_nodes
    assert w.busy == movable + 1 and w.deviation == w.busy * (5 + 1)
    # any B and M below their maxima never outweigh one unit of the level above
    assert w.busy * 5 + movable < w.deviation and movable < w.busy
    assert w.split(3 * w.deviation + 2 * w.busy + 7) == (3, 2, 7)
    assert Weights.of(without_busy(p)).deviation == movable + 1  # no busy class: today's W·D + M


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_problems())
def test_the_staged_solve_is_lexicographically_optimal_with_either_engine(p: FlowProblem) -> None:
    best = brute_force(p)
    for params in (SolveParams(staged=True, search="cpsat"), SolveParams(staged=True, search="scip"),
                   SolveParams(staged=True, backend="scip"), SolveParams(staged=False, search="scip")):
        result = solve_flow(p, params)
        if best is None:
            assert result.status == Status.INFEASIBLE, params
            continue
        assert result.status == Status.OPTIMAL, params
        assert (result.deviation, result.busy_moves, result.moves) == best, params
        assert key_of(p, result.out, result.into) == best and not feasibility_errors(p, result.out, result.into)
        assert result.bound == result.deviation, params
        staged = params.staged and p.busy_nodes > 0
        assert ("stage M" in result.detail) == bool(staged), (params, result.detail)


def test_a_floating_point_engine_solves_busy_classes_in_stages_by_default() -> None:
    p = _two_pools(idle=1, busy=5)
    scip = solve_flow(p, SolveParams(search="scip"))
    assert "stage (D, B)" in scip.detail and "stage M" in scip.detail
    assert (scip.status, scip.deviation, scip.busy_moves, scip.moves) == (Status.OPTIMAL, 0, 1, 2)
    cpsat = solve_flow(p, SolveParams(search="cpsat"))
    assert "stage" not in cpsat.detail and (cpsat.deviation, cpsat.busy_moves, cpsat.moves) == (0, 1, 2)
    assert "stage" not in solve_flow(without_busy(p), SolveParams(search="scip")).detail


def test_an_unproven_first_stage_gives_a_feasible_result_that_keeps_its_deviation_and_busy_moves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = flow._solve
    calls: list[str] = []

    def first_stage_unproven(s: stage.Stage, start_from: stage.Found | None = None,
                             **steps: bool) -> stage.Stage:
        out = real(s, start_from, **steps)
        if not calls:
            out.proven = False  # as at a time limit: (D*, B*) found but not proven
        calls.append(s.m.rows[-1].name)
        return out

    monkeypatch.setattr(flow, "_solve", first_stage_unproven)
    p = _two_pools(idle=1, busy=5)
    result = solve_flow(p, SolveParams(staged=True))
    assert calls[1] == "keep_deviation_and_busy"  # the one combined row when (D*, B*) is not proven
    assert result.status == Status.FEASIBLE
    assert (result.deviation, result.busy_moves, result.moves) == (0, 1, 2) and result.bound is not None
    assert result.bound <= result.deviation
