"""The drain phases of the step state machine (PRODUCT §9): what a journal's drain records replay to, which
nodes a step may never drain again, and the transitions a journal may not make. No API involved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from planner.apply.busy import BusyNode, busy_among, ends_of
from planner.apply.drain import DRAIN_BATCH, planned_drains
from planner.apply.steps import NOT_SENT, IllegalTransition, Phase, StepRun, new_runs, replay
from planner.errors import InputError
from planner.modelarts.objects import Workload
from planner.planfile import PlanStep
from tests.apply.busy_fixtures import busy_apply_snapshot, ip_of
from tests.apply.test_steps import _records
from tests.core.builders import workload

STEP = PlanStep.model_validate({
    "id": 1, "wave": 1, "staging": False, "pool_name": "pool-a",
    "body": {"migrateNodeNames": ["a-00", "a-01"], "toPoolName": "pool-b", "fromClusterName": "pool-a",
             "toClusterName": "pool-b", "resourceSpec": {"flavor": "f"}}})
TS = "2026-11-29T10:00:00.000Z"


def _epoch(*parts: int) -> float:
    year, month, day, hour = parts
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def _replayed(*events: tuple[str, int | None, dict[str, Any]]) -> StepRun:
    runs = new_runs([STEP])
    replay(runs, _records(*events), source="j")
    return runs[1]


def test_a_drain_and_its_answer_replay_to_drained_and_the_nodes_are_never_drained_again() -> None:
    run = _replayed(("start", None, {}), ("draining", 1, {"nodes": ["a-00"], "ts": TS}),
                    ("drained", 1, {"nodes": ["a-00"]}))
    assert run.phase is Phase.DRAINED and run.drained == {"a-00"} and run.unanswered == set()
    assert run.drain_since == _epoch(2026, 11, 29, 10)
    assert run.phase in NOT_SENT


def test_a_drain_cut_by_a_crash_replays_to_draining_and_is_settled_as_unanswered() -> None:
    run = _replayed(("start", None, {}), ("draining", 1, {"nodes": ["a-00", "a-01"], "ts": TS}))
    assert run.phase is Phase.DRAINING and run.in_drain == ("a-00", "a-01")
    run = _replayed(("start", None, {}), ("draining", 1, {"nodes": ["a-00", "a-01"], "ts": TS}),
                    ("start", None, {"resume": True}), ("drain_unanswered", 1, {"nodes": ["a-00", "a-01"]}))
    assert run.phase is Phase.DRAINED and run.drained == run.unanswered == {"a-00", "a-01"}


def test_a_drain_the_api_refused_gives_its_nodes_back() -> None:
    run = _replayed(("start", None, {}), ("draining", 1, {"nodes": ["a-00"], "ts": TS}),
                    ("drain_not_accepted", 1, {"nodes": ["a-00"], "reason": "429"}))
    assert run.phase is Phase.PENDING and run.drained == set()


def test_a_failed_drained_step_retries_without_draining_and_waits_its_full_timeout_again() -> None:
    run = _replayed(("start", None, {}), ("draining", 1, {"nodes": ["a-00"], "ts": TS}),
                    ("drained", 1, {"nodes": ["a-00"]}), ("failed", 1, {"reason": "drain timeout"}),
                    ("start", None, {"resume": True}), ("retry", 1, {}),
                    ("drain_wait", 1, {"nodes": ["a-00"], "ts": "2026-11-29T11:00:00.000Z"}),
                    ("submitting", 1, {"ts": "t"}), ("submitted", 1, {"job_id": "j"}), ("succeeded", 1, {}))
    assert run.phase is Phase.SUCCEEDED and run.drained == {"a-00"} and run.attempts == 1
    assert run.drain_since == _epoch(2026, 11, 29, 11)      # the retry's wait, not the first one


@pytest.mark.parametrize(("events", "bad"), [
    ((("submitting", 1, {}), ("draining", 1, {"nodes": ["a-00"]})), "submitting -> draining"),
    ((("draining", 1, {"nodes": ["a-00"]}), ("submitting", 1, {})), "draining -> submitting"),
    ((("draining", 1, {"nodes": ["a-00"]}), ("drained", 1, {}), ("succeeded", 1, {})), "drained -> succeeded"),
])
def test_a_journal_whose_drain_records_break_the_diagram_is_refused(events: Any, bad: str) -> None:
    with pytest.raises(InputError, match=f"inconsistent journal: step 1: {bad}"):
        _replayed(("start", None, {}), *events)


def test_drained_is_left_only_for_a_migrate_more_drains_or_a_failure() -> None:
    run = StepRun(STEP)
    run.to(Phase.DRAINING)
    run.to(Phase.DRAINED)
    for bad in (Phase.SUBMITTED, Phase.SUCCEEDED, Phase.PENDING, Phase.TIMED_OUT):
        with pytest.raises(IllegalTransition):
            run.to(bad)
    run.to(Phase.DRAINING)
    run.to(Phase.DRAINED)
    run.to(Phase.SUBMITTING)


def test_busy_nodes_are_told_by_running_workloads_or_by_accelerators_nobody_explains() -> None:
    nodes = {name: {"metadata": {"name": name}, "status": {"privateIp": ip_of(name)}}
             for name in ("a-00", "a-01", "a-02", "a-03")}
    nodes["a-03"]["status"].update(resources={"cpu": "8", "nvidia.com/gpu": "8"},
                                   availableResources={"cpu": "8", "nvidia.com/gpu": "2"})
    items = [workload("x", [ip_of("a-00"), ip_of("a-01")], priority="3"),
             workload("nb", [ip_of("a-02")], status="Pending", kind="notebook"),
             workload("svc", ["10.0.0.99"], kind="infer")]
    busy = busy_among(nodes, items)
    assert sorted(busy) == ["a-00", "a-01", "a-03"]
    assert busy["a-00"] == BusyNode("a-00", (Workload("x", "train", "3"),))
    assert busy["a-00"].describe() == "node a-00 runs x (train, priority 3)"
    assert busy["a-03"].describe() == ("node a-03 has accelerators in use (nvidia.com/gpu) that no listed workload "
                                       "explains")
    assert ends_of([busy["a-03"]]) == [{"node": "a-03", "workload": "(unlisted: accelerators in use)",
                                        "type": "unknown", "priority": None}]


def test_planned_drains_take_at_most_ten_nodes_a_call_and_skip_what_an_earlier_step_ended() -> None:
    snap = busy_apply_snapshot()
    names = [f"a-{i:02d}" for i in range(12)]
    wide = PlanStep.model_validate({**STEP.model_dump(mode="json"), "id": 1,
                                    "body": {**STEP.body_json(), "migrateNodeNames": names}})
    later = PlanStep.model_validate({**STEP.model_dump(mode="json"), "id": 2})
    runs = new_runs([wide, later])
    drains = planned_drains(snap, runs.values())
    assert [len(d["body"]["nodeNames"]) for d in drains] == [DRAIN_BATCH, 1]     # a-11 is idle
    assert all(d["step"] == 1 for d in drains)
    assert drains[0]["ends"][0] == {"node": "a-00", "workload": "train-x", "type": "train", "priority": "3"}
