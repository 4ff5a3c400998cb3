"""The planner's facts kept on an inventory for its next plan (`Inventory.derived`, planner/planning/problem.py
`_units_of`): whatever spec the inventory was planned with before (another busy policy, other pins, other pools
that may not give, another batch size, other targets or limits), the problem built for a spec is the one a fresh
inventory gives."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.inventory import build_inventory
from planner.planning.problem import build_problem
from planner.spec import parse_spec
from tests.core.test_busy_properties import busy_instances


@st.composite
def _specs(draw: st.DrawFn, snap: dict[str, Any], raw_spec: dict[str, Any]) -> dict[str, Any]:
    """A variant of `raw_spec`: the busy policy, pins, a pool that may not give, the batch size, cross-cluster."""
    names = sorted(n["metadata"]["name"] for items in snap["nodes"].values() for n in items)
    pools = sorted(snap["nodes"])
    spec = {**raw_spec, "workloads": {"busy_nodes": draw(st.sampled_from(["keep", "drain", "ignore"]))}}
    spec["pin"] = draw(st.lists(st.sampled_from(names), max_size=2, unique=True)) if names else []
    if pools and draw(st.booleans()):
        spec["pools"] = {**raw_spec.get("pools", {}), draw(st.sampled_from(pools)): {"give": False}}
    spec["limits"] = {**raw_spec.get("limits", {}), "max_batch_size": draw(st.sampled_from([1, 2, 20])),
                      "allow_cross_cluster": draw(st.booleans())}
    return spec


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(busy_instances(), st.data())
def test_a_problem_built_after_another_spec_is_the_one_a_fresh_inventory_gives(
        case: tuple[dict[str, Any], dict[str, Any]], data: st.DataObject) -> None:
    snap, raw_spec = case
    shared = build_inventory(snap)
    for _ in range(3):
        raw = data.draw(_specs(snap, raw_spec))
        try:
            spec = parse_spec(raw)
            expected = build_problem(build_inventory(snap), spec)
        except InputError:
            continue  # (a spec this variant made invalid for the instance)
        assert build_problem(shared, spec) == expected
