from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.errors import ApiError, InputError, PoolshiftError
from planner.review.scenarios import ScenarioFile, parse_scenarios
from planner.review.whatif import binding_rules, comparison_document, render_comparison, run_whatif
from tests.review.conftest import DATA

FAKE = "tests.review.fake_planner:make_plan"
GPU = "modelarts.vm.gpu.8xv100"


@pytest.fixture
def snapshot() -> dict[str, Any]:
    return json.loads((DATA / "snapshot.json").read_text())


@pytest.fixture
def spec() -> dict[str, Any]:
    return yaml.safe_load((DATA / "spec.yaml").read_text())


def _file(*scenarios: dict[str, Any]) -> ScenarioFile:
    return parse_scenarios({"format": "poolshift.scenarios/v1", "scenarios": list(scenarios)}, source="sc.yaml")


def _run(sf: ScenarioFile, snapshot: dict[str, Any], spec: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
    return run_whatif(sf, snapshot, spec, scenarios_source="sc.yaml", snapshot_source="snap.json",
                      spec_source="spec.yaml", **kw)


# ---------------------------------------------------------------------------------- with a fake planner


def test_outcomes_keep_file_order_and_run_in_two_processes(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "base"},
               {"name": "plus-two", "inventory": {"add_nodes": [{"pool": "train", "flavor": GPU, "count": 2}]}},
               {"name": "minus-one", "inventory": {"remove_nodes": ["os-node-created-d1c"]}},
               {"name": "worse", "spec": {"fake": {"deviation": 3}}})
    outcomes = _run(sf, snapshot, spec, planner=FAKE, max_workers=2)
    assert [o.name for o in outcomes] == ["base", "plus-two", "minus-one", "worse"]
    assert [o.moves for o in outcomes] == [23, 25, 22, 23]  # the fake planner's moves = node count
    assert [o.deviation_after for o in outcomes] == [0, 0, 0, 3]
    assert [o.baseline for o in outcomes] == [True, False, False, False]
    pids = {o.plan["summary"]["pid"] for o in outcomes if o.plan}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_single_scenario_runs_inline(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    [outcome] = _run(_file({"name": "only"}), snapshot, spec, planner=FAKE)
    assert outcome.plan is not None and outcome.plan["summary"]["pid"] == os.getpid()


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
        _run(sf, snapshot, spec, planner="tests.review.test_whatif:refuse_api", max_workers=1)
    assert type(info.value) is ApiError and info.value.exit_code == 5
    assert str(info.value) == "scenario a: ModelArts API GET /v2/p/pools: HTTP 503"
    assert ApiError.exit_code == 5 and PoolshiftError.exit_code == 1   # no class attribute was changed


def test_bad_override_fails_before_any_planning(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    sf = _file({"name": "a"}, {"name": "b", "inventory": {"lock_nodes": ["ghost"]}})
    with pytest.raises(InputError) as info:
        _run(sf, snapshot, spec, planner="tests.review.fake_planner:fail_if_called")
    assert info.value.path == "scenarios[1] (b).inventory.lock_nodes[0]"


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
    assert "| base (baseline) | yes | OPTIMAL | 9 | 0 | 23 | 1 | 1 | 0 | - |" in md
    assert "- **base**: as is" in md
    doc = json.loads(json.dumps(comparison_document(outcomes)))
    assert doc["baseline"] == "base"
    first = doc["scenarios"][0]
    assert {"name", "feasible", "deviation_before", "deviation_after", "moves", "requests", "waves",
            "staging_moves", "binding"} <= set(first)
    assert "plan" not in first


def test_binding_rules_name_limits_where_targets_are_missed() -> None:
    document = {
        "summary": {"moves": 3, "deviation_after": 5, "blocked_by": ["subnet s1 reserve (pool b)"]},
        "pools": {
            "a": {"target": 10, "after": 8, "max": 8, "subnet": "s1"},
            "b": {"target": 2, "after": 4, "floor": 4, "display_name": "bee"},
            "e": {"target": 1, "after": 3, "floor": 2},
            "c": {"target": 5, "after": 5, "max": 5},  # target met: nothing binding
            "d": {"target": 6, "after": 3, "subnet": "s2"},
        },
        "subnets": {"s1": {"free_after": 9, "reserve": 0}, "s2": {"free_after": 2, "reserve": 2}},
        "excluded": [{"node": "n1", "pool": "e", "reason": "locked"}, {"node": "n2", "pool": "e", "reason": "x"}],
    }
    spec = {"pools": {"bee": {"give": False}}, "limits": {"max_moves": 3, "allow_cross_cluster": False}}
    assert binding_rules(document, spec) == [
        "subnet s1 reserve (pool b)",
        "a at its max (8)",
        "bee at its floor (4)",
        "bee has give: false",
        "no spare address in s2 for d",
        "2 node(s) of e may not move",
        "limits.max_moves (3) used up",
        "limits.allow_cross_cluster: false",
    ]
    document["summary"]["deviation_after"] = 0
    assert "limits.max_moves (3) used up" not in binding_rules(document, spec)


# ---------------------------------------------------------------------------------- with the real planner


def test_baseline_equals_a_plain_plan(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    pipeline = pytest.importorskip("planner.planning.pipeline")
    plain = pipeline.make_plan(snapshot, spec).document["summary"]
    sf = _file({"name": "baseline"}, {"name": "targets", "spec": {"pools": {"train": {"target": 11}}}})
    base, targets = _run(sf, snapshot, spec, max_workers=2)
    assert base.baseline and base.feasible
    assert (base.deviation_before, base.deviation_after, base.moves) == (
        plain["deviation_before"], plain["deviation_after"], plain["moves"])
    assert (base.requests, base.waves, base.status) == (plain["requests"], plain["waves"], plain["status"])
    assert targets.feasible and targets.deviation_before == 5  # |8 - 11| + |10 - 8|


def test_real_infeasible_scenario_beside_feasible_ones(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    pytest.importorskip("planner.planning.pipeline")
    sf = _file({"name": "baseline"},
               {"name": "too-big-floor", "spec": {"pools": {"infer": {"min": 40}}}},
               {"name": "more-v100", "inventory": {"add_nodes": [{"pool": "train", "flavor": GPU, "count": 4}]},
                "spec": {"pools": {"train": {"target": 14}}}})
    outcomes = _run(sf, snapshot, spec, max_workers=2)
    assert [o.feasible for o in outcomes] == [True, False, True]
    stuck = outcomes[1]
    assert stuck.error_kind == "infeasible" and stuck.binding
    assert "pool-infer-2c9e" in stuck.blocking_pools
    more = outcomes[2]
    assert more.deviation_before == 4 and more.deviation_after == 0  # train 12 of 14, infer 10 of 8


def test_real_planner_rejects_an_overlay_naming_an_unknown_pool(snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    pytest.importorskip("planner.planning.pipeline")
    sf = _file({"name": "typo", "spec": {"pools": {"trian": {"target": 3}}}})
    with pytest.raises(InputError, match=r"scenarios\[0\] \(typo\)"):
        _run(sf, snapshot, spec)


def test_saved_plan_of_a_scenario_reports(tmp_path: Path, snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
    pytest.importorskip("planner.planning.pipeline")
    from planner.review.plandoc import parse_plan

    from planner.review.report import render_markdown

    [outcome] = _run(_file({"name": "baseline"}), snapshot, spec)
    assert outcome.plan is not None
    md = render_markdown(parse_plan(outcome.plan, source="baseline"))
    assert "| train (pool-train-7f3a) | 8 | 10 | +2 | 10 |" in md
