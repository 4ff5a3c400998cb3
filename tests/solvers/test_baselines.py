"""The baselines against the class-level model on random small instances: same optimum, valid greedy answers."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from planner.inventory import build_inventory
from planner.planning.problem import build_problem
from planner.spec import parse_spec
from solvers.flow import solve_flow
from solvers.greedy import solve_greedy
from solvers.pernode import solve_pernode
from solvers.problem import deviation_of, feasibility_errors, final_counts
from solvers.result import Status
from tests.core.test_properties import instances


@settings(max_examples=80)
@given(instances())
def test_pernode_and_greedy_against_the_flow_model(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snap, raw_spec = case
    problem, _ = build_problem(build_inventory(snap), parse_spec(raw_spec))
    flow = solve_flow(problem)
    pernode = solve_pernode(problem)
    assert flow.status == pernode.status or Status.INFEASIBLE not in (flow.status, pernode.status)
    if flow.status == Status.OPTIMAL and pernode.status == Status.OPTIMAL:
        assert (pernode.deviation, pernode.moves) == (flow.deviation, flow.moves)
    greedy = solve_greedy(problem)
    if greedy.has_solution:
        assert feasibility_errors(problem, greedy.out, greedy.into) == []
        assert greedy.deviation == deviation_of(problem, final_counts(problem, greedy.out, greedy.into))
        assert flow.deviation is not None and (flow.deviation, flow.moves) <= (greedy.deviation, greedy.moves)
