from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest
import yaml

from planner.errors import ApiError, InputError, PoolshiftError
from planner.inventory import fingerprint_snapshot
from planner.planfile import parse_plan
from planner.planning import make_plan
from planner.review.report import render_markdown
from planner.review.scenarios import ScenarioFile, parse_scenarios
from planner.review.whatif import ScenarioOutcome, binding_rules, longest_first, prepare_jobs, run_jobs, run_whatif
from planner.review.whatif_output import comparison_document, render_comparison
from tests.review import fake_planner
from tests.review.conftest import DATA, GPU, parse, read_plan_data

FAKE = fake_planner.make_plan


@pytest.fixture
def snapshot() -> dict[str, Any]:
    return json.loads((DATA / "snapshot.json").read_text())


@pytest.fixture
def spec() -> dict[str, Any]:
    return yaml.safe_load((DATA / "spec.yaml").read_text())


def _file(*scenarios: dict[str, Any]) -> ScenarioFile:
    return parse_scenarios({"format": "poolshift.scenarios/v1", "scenarios": list(scenarios)}, source="sc.yaml")


def _run(sf: ScenarioFile, snapshot: dict[str, Any], spec: dict[str, Any], **kw: Any) -> list[ScenarioOutcome]:
    return run_whatif(sf, snapshot, spec, scenarios_source="sc.yaml", snapshot_source="snap.json",
                      spec_source="spec.yaml", **kw)


# ---------------------------------------------------------------------------------- with a fake planner


def test_outcomes_keep_file_order_and_run_in_two_workers(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "base"},
               {"name": "plus-two", "inventory": {"add_nodes": [{"pool": "train", "flavor": GPU, "count": 2}]}},
               {"name": "minus-one", "inventory": {"remove_nodes": ["os-node-created-d1c"]}},
               {"name": "worse", "spec": {"fake": {"deviation": 3}}})
    outcomes = _run(sf, snapshot, spec, planner=FAKE, max_workers=2)
    assert [o.name for o in outcomes] == ["base", "plus-two", "minus-one", "worse"]
    assert [o.moves for o in outcomes] == [23, 25, 22, 23]  # the fake planner's moves = node count
    assert [o.deviation_after for o in outcomes] == [0, 0, 0, 3]
    assert [o.baseline for o in outcomes] == [True, False, False, False]
    made_by = [fake_planner.made_by(o.plan) for o in outcomes if o.plan]
    parent = (os.getpid(), threading.current_thread().name)
    workers = {(pid, thread) for pid, thread, _ in made_by}
    # the parent plans too, and one forked worker: it gets the first scenario that edits the inventory (the longest
    # first), the parent the last one in the file that shares the caller's inventory
    assert workers - {parent} and len(workers) <= 2 and all(thread == "MainThread" for _, thread in workers)
    assert made_by[1][0] != os.getpid() and made_by[3][:2] == parent
    # one inventory for the scenarios without inventory overrides (the parent's, alive in every worker, so no other
    # inventory can have its address there); each scenario with overrides derives its own where it is planned
    inventories = [inventory for _, _, inventory in made_by]
    assert inventories[0] == inventories[3] and inventories[0] not in (inventories[1], inventories[2])


def test_without_fork_two_threads_plan_the_scenarios(snapshot: dict[str, Any], spec: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    sf = _file({"name": "base"}, {"name": "minus-one", "inventory": {"remove_nodes": ["os-node-created-d1c"]}},
               {"name": "worse", "spec": {"fake": {"deviation": 3}}})
    outcomes = _run(sf, snapshot, spec, planner=FAKE, max_workers=2)
    assert [(o.name, o.moves, o.deviation_after) for o in outcomes] == [
        ("base", 23, 0), ("minus-one", 22, 0), ("worse", 23, 3)]
    made_by = [fake_planner.made_by(o.plan) for o in outcomes if o.plan]
    assert {pid for pid, _, _ in made_by} == {os.getpid()}
    assert all(thread.startswith("whatif") for _, thread, _ in made_by)


def test_jobs_that_derive_their_inventory_go_first(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "a"}, {"name": "b", "inventory": {"lock_nodes": ["os-node-created-t1g"]}},
               {"name": "c", "spec": {"fake": {"deviation": 1}}},
               {"name": "d", "inventory": {"set_free_ips": {"subnet-5d2c8e71": 3}}})
    jobs = prepare_jobs(sf, snapshot, spec, scenarios_source="sc.yaml", snapshot_source="snap.json",
                        spec_source="spec.yaml", planner=FAKE)
    assert longest_first(jobs) == [1, 3, 0, 2]


def test_the_queue_hands_out_each_job_once_from_either_end() -> None:
    import multiprocessing

    from planner.review.whatif import _Queue

    queue = _Queue([4, 1, 3, 0, 2], multiprocessing.get_context())
    assert [queue.take(front=True), queue.take(front=False), queue.take(front=False)] == [4, 2, 0]
    assert queue.take(front=True) == 1
    queue.clear()
    assert queue.take(front=True) is None and queue.take(front=False) is None


def test_without_keep_plans_the_outcomes_are_the_same_but_carry_no_plan(
        snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "base"}, {"name": "targets", "spec": {"pools": {"train": {"target": 11}}}},
               {"name": "more", "inventory": {"add_nodes": [{"pool": "train", "flavor": GPU, "count": 2}]}})
    kept = _run(sf, snapshot, spec, max_workers=2)
    bare = _run(sf, snapshot, spec, max_workers=2, keep_plans=False)
    assert all(o.plan is not None for o in kept) and all(o.plan is None for o in bare)
    # a kept plan records its scenario's own inventory fingerprint, the caller's or the edited snapshot's
    edited = prepare_jobs(sf, snapshot, spec, scenarios_source="sc.yaml", snapshot_source="snap.json",
                          spec_source="spec.yaml")[2].inventory
    assert isinstance(edited, dict)
    assert [o.plan.inventory_fingerprint for o in kept if o.plan] == [
        fingerprint_snapshot(snapshot), fingerprint_snapshot(snapshot), fingerprint_snapshot(edited)]
    assert [o.to_dict() | {"seconds": 0} for o in bare] == [o.to_dict() | {"seconds": 0} for o in kept]
    assert all(o.feasible for o in bare) and bare[2].deviation_before != bare[0].deviation_before
    jobs = prepare_jobs(sf, snapshot, spec, scenarios_source="sc.yaml", snapshot_source="snap.json",
                        spec_source="spec.yaml", keep_plans=False)
    assert [o.to_dict() | {"seconds": 0} for o in run_jobs(jobs, max_workers=1)] == [
        o.to_dict() | {"seconds": 0} for o in kept]
    assert "fingerprint" not in vars(jobs[0].inventory)  # a fingerprint only a kept plan records is not computed


@pytest.mark.parametrize("crashes", ["b", "c"])
def test_a_crash_in_the_worker_or_in_the_parent_is_raised(snapshot: dict[str, Any], spec: dict[str, Any],
                                                          crashes: str) -> None:
    # the worker plans b, the scenario that edits the inventory (longest first); the parent c, the last that shares it
    def scenario(name: str, **rest: Any) -> dict[str, Any]:
        return {"name": name, **rest, **({"spec": {"fake": {"crash": True}}} if name == crashes else {})}

    sf = _file(scenario("a"), scenario("b", inventory={"lock_nodes": ["os-node-created-t1g"]}), scenario("c"))
    with pytest.raises(RuntimeError, match="fake planner crashed"):
        _run(sf, snapshot, spec, planner=FAKE, max_workers=2)


def test_single_scenario_runs_inline(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    [outcome] = _run(_file({"name": "only"}), snapshot, spec, planner=FAKE)
    assert outcome.plan is not None
    assert fake_planner.made_by(outcome.plan)[:2] == (os.getpid(), threading.current_thread().name)


def test_infeasible_scenario_does_not_stop_the_others(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "a"}, {"name": "stuck", "spec": {"fake": {"infeasible": True}}}, {"name": "c"})
    outcomes = _run(sf, snapshot, spec, planner=FAKE, max_workers=2)
    assert [o.feasible for o in outcomes] == [True, False, True]
    stuck = outcomes[1]
    assert stuck.error_kind == "infeasible" and stuck.error_exit == 3
    assert stuck.binding == ("pool p must end with at least 9 nodes",)
    assert stuck.moves is None


def test_planner_input_error_names_the_scenario(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "a"}, {"name": "typo", "spec": {"fake": {"bad_input": True}}})
    with pytest.raises(InputError) as info:
        _run(sf, snapshot, spec, planner=FAKE, max_workers=1)
    assert "spec.yaml + sc.yaml:scenarios[1] (typo): pools.ghost: unknown pool 'ghost'" in str(info.value)


def refuse_api(*args: Any, **kwargs: Any) -> Any:
    """A planner that fails with a poolshift error other than an input or planning error (an API error)."""
    raise ApiError("ModelArts API GET /v2/p/pools: HTTP 503")


def test_another_planner_error_keeps_its_class_and_exit_code(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "a"}, {"name": "b"})
    with pytest.raises(ApiError) as info:
        _run(sf, snapshot, spec, planner=refuse_api, max_workers=1)
    assert type(info.value) is ApiError and info.value.exit_code == 5
    assert str(info.value) == "scenario a: ModelArts API GET /v2/p/pools: HTTP 503"
    assert ApiError.exit_code == 5 and PoolshiftError.exit_code == 1   # no class attribute was changed


def test_bad_override_fails_before_any_planning(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "a"}, {"name": "b", "inventory": {"lock_nodes": ["ghost"]}})
    with pytest.raises(InputError) as info:
        _run(sf, snapshot, spec, planner=fake_planner.fail_if_called)
    assert info.value.path == "scenarios[1] (b).inventory.lock_nodes[0]"


def test_a_bad_snapshot_fails_before_any_planning_even_when_every_scenario_edits_it(
        snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    # the scenarios with overrides derive their inventories where they are planned, but the caller's snapshot is
    # checked first, once
    broken = {**snapshot, "nodes": {**snapshot["nodes"], "pool-dev-91b0": "not a list"}}
    sf = _file({"name": "a", "inventory": {"lock_nodes": ["os-node-created-t1g"]}},
               {"name": "b", "inventory": {"set_free_ips": {"subnet-5d2c8e71": 3}}})
    with pytest.raises(InputError) as info:
        _run(sf, broken, spec, planner=fake_planner.fail_if_called, max_workers=2)
    assert info.value.path == '$.nodes["pool-dev-91b0"]'


def test_only_selects_scenarios(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "a"}, {"name": "b"}, {"name": "c"})
    assert [o.name for o in _run(sf, snapshot, spec, planner=FAKE, only=["c", "a"])] == ["a", "c"]
    with pytest.raises(InputError, match="no scenario named 'z'"):
        _run(sf, snapshot, spec, planner=FAKE, only=["z"])


def test_comparison_table_markdown_and_json(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "base", "description": "as is"}, {"name": "stuck", "spec": {"fake": {"infeasible": True}}})
    outcomes = _run(sf, snapshot, spec, planner=FAKE, max_workers=1)
    text = render_comparison(outcomes)
    header, rule, base_row, stuck_row = text.splitlines()[:4]
    assert header.split()[:3] == ["scenario", "feasible", "status"]
    assert base_row.split()[:4] == ["base", "(baseline)", "yes", "OPTIMAL"]
    assert stuck_row.split()[:2] == ["stuck", "NO"]
    assert "stuck: no placement meets the hard rules" in text
    md = render_comparison(outcomes, markdown=True)
    assert "| base (baseline) | yes | OPTIMAL | 9 | 0 | 23 | 0 | 3 | 2 | 0 | - |" in md  # busy, requests, waves
    assert "- **base**: as is" in md
    doc = json.loads(json.dumps(comparison_document(outcomes)))
    assert doc["baseline"] == "base"
    first = doc["scenarios"][0]
    assert {"name", "feasible", "deviation_before", "deviation_after", "moves", "busy_moves", "requests", "waves",
            "staging_moves", "binding"} <= set(first)
    assert "plan" not in first


def test_markdown_descriptions_and_errors_are_text_not_html(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "a", "description": "<img src=x onerror=alert(1)> | *not bold*"},
               {"name": "stuck", "spec": {"fake": {"infeasible": True}}})
    md = render_comparison(_run(sf, snapshot, spec, planner=FAKE, max_workers=1), markdown=True)
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)" in md
    assert "\\| *not bold*" in md  # a pipe would end a table cell elsewhere; escaped everywhere alike


def test_binding_rules_are_the_reasons_show_gives() -> None:
    """whatif names what keeps a plan's deviation up with the words of `show`'s "Targets not reached" section:
    what blocked a better placement first, then each pool's limits (planner-made, with the pool's name)."""
    from click.testing import CliRunner

    from planner.cli import main

    plan = parse(read_plan_data("blocked"))
    blocked = list(plan.summary.blocked_by)
    assert binding_rules(plan) == [*blocked, "dev: at its max 3", "dev: at its floor 3"]
    shown = CliRunner().invoke(main, ["show", str(DATA / "plan_blocked.json")]).stdout
    for reason in ("at its max 3", "at its floor 3", *blocked):
        assert reason in shown


def test_binding_rules_of_a_plan_that_meets_its_targets(plan_b_data: dict[str, Any]) -> None:
    assert binding_rules(parse(plan_b_data)) == []


# ---------------------------------------------------------------------------------- with the real planner


def test_baseline_equals_a_plain_plan(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    plain = make_plan(snapshot, spec).document.summary
    sf = _file({"name": "baseline"}, {"name": "targets", "spec": {"pools": {"train": {"target": 11}}}})
    base, targets = _run(sf, snapshot, spec, max_workers=2)
    assert base.baseline and base.feasible
    assert (base.deviation_before, base.deviation_after, base.moves) == (
        plain.deviation_before, plain.deviation_after, plain.moves) == (4, 0, 2)
    assert (base.requests, base.waves, base.status) == (plain.requests, plain.waves, plain.status) == (
        1, 1, "OPTIMAL")
    assert targets.feasible and targets.deviation_before == 5  # |8 - 11| + |10 - 8|


def test_real_infeasible_scenario_beside_feasible_ones(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "baseline"},
               {"name": "too-big-floor", "spec": {"pools": {"infer": {"min": 40, "target": 40}}}},
               {"name": "more-v100", "inventory": {"add_nodes": [{"pool": "train", "flavor": GPU, "count": 4}]},
                "spec": {"pools": {"train": {"target": 14}}}})
    outcomes = _run(sf, snapshot, spec, max_workers=2)
    assert [o.feasible for o in outcomes] == [True, False, True]
    stuck = outcomes[1]
    assert stuck.error_kind == "infeasible" and stuck.binding
    assert "pool-infer-2c9e" in stuck.blocking_pools
    more = outcomes[2]
    assert more.deviation_before == 4 and more.deviation_after == 0  # train 12 of 14, infer 10 of 8


def test_busy_column_compares_keep_drain_and_ignore() -> None:
    """The `busy` column is B (PRODUCT §9): what each `workloads.busy_nodes` policy would end, side by side."""
    from tests.core.test_workloads import WISHES, busy_snapshot

    base_spec = {"format": "poolshift.spec/v1", "pools": WISHES}
    sf = _file({"name": "keep"}, {"name": "drain", "spec": {"workloads": {"busy_nodes": "drain"}}},
               {"name": "ignore", "spec": {"workloads": {"busy_nodes": "ignore"}}})
    keep, drain, ignore = _run(sf, busy_snapshot(), base_spec, max_workers=1)
    assert [(o.deviation_after, o.busy_moves, o.moves) for o in (keep, drain, ignore)] == [
        (2, 0, 3), (0, 1, 4), (0, 1, 4)]
    header, _, *rows = render_comparison([keep, drain, ignore], markdown=True).splitlines()[2:]
    column = [c.strip() for c in header.split("|")].index("busy")
    assert [row.split("|")[column].strip() for row in rows[:3]] == ["0", "1", "1"]


def test_a_pinned_node_the_scenario_removed_is_refused_naming_the_scenario(
        snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    """The spec is the caller's, unedited, so its own words name only the spec: the refusal says which scenario
    removed the node it pins."""
    pinned = {**spec, "pin": ["os-node-created-d1c"]}
    sf = _file({"name": "base"}, {"name": "minus-one", "inventory": {"remove_nodes": ["os-node-created-d1c"]}})
    with pytest.raises(InputError) as info:
        _run(sf, snapshot, pinned, max_workers=1)
    assert str(info.value).startswith("scenario minus-one: spec.yaml: pin[0]: unknown node 'os-node-created-d1c'")


def test_real_planner_rejects_an_overlay_naming_an_unknown_pool(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "typo", "spec": {"pools": {"trian": {"target": 3}}}})
    with pytest.raises(InputError, match=r"scenarios\[0\] \(typo\)"):
        _run(sf, snapshot, spec)


def test_saved_plan_of_a_scenario_reports(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    [outcome] = _run(_file({"name": "baseline"}), snapshot, spec)
    assert outcome.plan is not None
    saved = parse_plan(json.loads(outcome.plan.to_json()), source="baseline.plan.json")  # as --save-plans writes it
    assert saved == outcome.plan
    md = render_markdown(saved)
    assert "| train (pool-train-7f3a) | 8 | 10 | +2 | 10 |" in md
