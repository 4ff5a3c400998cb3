"""apply and busy nodes (PRODUCT §9) against the emulator: the re-check before each step, drain and wait,
the dry-run's drains, the drain timeout, and resuming after each of them.

The emulator's own records are the evidence: `drains` (every batch-drain it took), `jobs` (every migration,
with its nodes and start time) and `disrupted` (every workload a migration ended).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from planner.apply import ApplyFailedError, apply_plan
from planner.modelarts.emulator.api import EmuRequest, EmuResponse
from planner.modelarts.emulator.faults import StartWorkload
from planner.planfile import read_plan
from tests.apply.busy_fixtures import busy_apply_snapshot, busy_plan, drain_problems
from tests.apply.conftest import write_plan_data
from tests.apply.helpers import accepted_per_step, factory, fast, journal_events, last_event, placement_problems
from tests.apply.test_cli import invoke
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = pytest.mark.emulator


def _plan_file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "plan.json"
    write_plan_data(path, data)
    return path


def _start_after_first_migrate(emu: EmulatorHandle, node: str, name: str = "surprise-job") -> None:
    """Once the emulator accepted the first batch-migrate, a Running workload starts on `node` (the emulator's
    `start_workloads` fault, due at the next request)."""
    inner = emu.api.handle
    armed = []

    def handle(request: EmuRequest) -> EmuResponse:
        response = inner(request)
        if request.method == "POST" and request.raw_path.endswith("/batch-migrate") and not armed:
            armed.append(True)
            emu.api.state.faults.start_workloads = [StartWorkload(node=node, at_request=1, name=name,
                                                                  type="train", priority="3")]
        return response

    emu.api.handle = handle  # type: ignore[method-assign]


def _apply(emu: EmulatorHandle, plan_file: Path, *args: str) -> Result:
    return invoke(emu, plan_file, "--poll-interval", "0.01", *args)


# ------------------------------------------------------------------------------------------------- drain


def test_drain_sends_each_drain_before_its_migrate_and_kills_nothing(tmp_path: Path) -> None:
    plan_file = _plan_file(tmp_path, busy_plan("drain"))
    plan = read_plan(plan_file)
    busy = {d.node for s in plan.steps for d in s.disrupts}
    assert plan.summary.busy_moves == len(busy) >= 5
    with run_emulator(busy_apply_snapshot(), job_seconds=0.05, drain_seconds=0.1) as emu:
        result = apply_plan(plan, plan_file, factory(emu), fast())
        state = emu.state()
    assert result.steps_done == 8 and result.steps_failed == []
    assert placement_problems(state, plan) == []
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    assert drain_problems(state, plan) == []
    assert state["disrupted"] == []
    drained = {n for d in state["drains"] for n in d["nodes"]}
    assert "a-00" in drained and drained <= busy          # only nodes that ran something, each once
    assert [d["body"]["nodeNames"] for d in result.drains] == [d["nodes"] for d in state["drains"]]
    events = journal_events(plan_file.with_name("plan.json.journal.jsonl"))
    for step in {d["step"] for d in result.drains}:
        mine = [e for s, e in events if s == step]
        assert mine.index("draining") < mine.index("drained") < mine.index("submitting"), mine




def test_dry_run_lists_the_drains_before_the_migrates_and_sends_nothing(tmp_path: Path) -> None:
    plan_file = _plan_file(tmp_path, busy_plan("drain"))
    with run_emulator(busy_apply_snapshot()) as emu:
        result = _apply(emu, plan_file)
        state = emu.state()
    assert result.exit_code == 0, result.stderr
    assert state["drains"] == [] and state["migrate_requests"] == []
    lines = result.stdout.splitlines()
    assert lines[0].startswith("dry-run: would send ") and "batch-drain and 8 request(s)" in lines[0]
    first_drain = next(i for i, line in enumerate(lines) if "/pools/pool-a/nodes/batch-drain" in line)
    assert lines[first_drain].startswith("  step 1: POST ")
    assert "(ends train-x (train, priority 3) on a-00)" in lines[first_drain]
    assert json.loads(lines[first_drain + 1]) == {"nodeNames": ["a-00"]}
    assert "step 1: POST" in lines[first_drain + 2] and "batch-migrate" in lines[first_drain + 2]


def test_drain_timeout_fails_the_step_with_exit_6_and_resume_does_not_drain_again(tmp_path: Path) -> None:
    plan_file = _plan_file(tmp_path, busy_plan("drain", drain_timeout=1))
    plan = read_plan(plan_file)
    offset = [0.0]
    with run_emulator(busy_apply_snapshot(), job_seconds=0.05, drain_seconds=3600,
                      clock=lambda: time.time() + offset[0]) as emu:
        failed = _apply(emu, plan_file, "--execute")
        assert failed.exit_code == 6, failed.stderr
        error = failed.stderr.strip().splitlines()[-1]
        assert "after it was drained (workloads.drain_timeout 1 s); its migrate was not sent" in error
        assert "--resume" in failed.stderr
        before = emu.state()
        assert before["drains"] and before["disrupted"] == []
        done_before = [s for s, e in last_event(plan_file.with_name("plan.json.journal.jsonl")).items()
                       if e == "succeeded"]
        offset[0] = 7200.0        # the drained workloads end; later drains take 0.1 s
        emu.api.state.drain_seconds = 0.1
        resumed = _apply(emu, plan_file, "--execute", "--resume")
        assert resumed.exit_code == 0, resumed.stderr
        state = emu.state()
    sent_now = len(state["drains"]) - len(before["drains"])
    assert sent_now > 0 and f"and {sent_now} batch-drain call(s) sent by this run" in resumed.stdout
    assert drain_problems(state, plan) == []              # no node drained twice, nothing killed
    assert placement_problems(state, plan) == []
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    last = last_event(plan_file.with_name("plan.json.journal.jsonl"))
    assert all(last[s] == "succeeded" for s in done_before)


# -------------------------------------------------------------------------------------------------- keep


def test_a_workload_started_after_planning_stops_the_run_before_its_step_with_exit_4(tmp_path: Path) -> None:
    snap = busy_apply_snapshot(with_workloads=False)
    plan_file = _plan_file(tmp_path, busy_plan(None, snapshot=snap))    # no workloads section: keep
    plan = read_plan(plan_file)
    last_step = plan.steps[-1]
    victim = last_step.nodes[0]
    journal = plan_file.with_name("plan.json.journal.jsonl")
    with run_emulator(snap, job_seconds=0.05) as emu:
        _start_after_first_migrate(emu, victim)
        stopped = _apply(emu, plan_file, "--execute")
        assert stopped.exit_code == 4, stopped.stderr
        error = [line for line in stopped.stderr.splitlines() if line.startswith("poolshift: ")]
        assert len(error) == 2 and error[0].startswith("poolshift: plan ")       # the digest line, then the error
        assert f"node {victim} runs surprise-job (train, priority 3)" in error[1]
        assert "workloads.busy_nodes is keep" in error[1] and "--resume" in error[1]
        state = emu.state()
        assert state["disrupted"] == [] and state["drains"] == []
        assert victim not in {n for r in state["migrate_requests"] for n in r["body"]["migrateNodeNames"]}
        last = last_event(journal)
        assert last_step.id not in last or last[last_step.id] != "submitting"
        done = sorted(s for s, e in last.items() if e == "succeeded")
        assert done and ("refused" in [e for _, e in journal_events(journal)])

        still = _apply(emu, plan_file, "--execute", "--resume")    # the workload still runs: refused again
        assert still.exit_code == 4, still.stderr
        [refusal] = [line for line in still.stderr.splitlines() if line.startswith("poolshift: error")]
        assert f"node {victim} runs surprise-job (train, priority 3) (step {last_step.id})" in refusal
        assert "no further step was sent" in refusal and "--execute --resume" in refusal
        assert "the plan is stale" not in still.stderr
        with emu.client() as client:                               # the operator ends it (drain_seconds 0)
            client.drain_nodes("pool-a", [victim])
        resumed = _apply(emu, plan_file, "--execute", "--resume")
        assert resumed.exit_code == 0, resumed.stderr
        state = emu.state()
    assert placement_problems(state, plan) == []
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    assert state["disrupted"] == []
    assert all(last_event(journal)[s] == "succeeded" for s in done)


def test_keep_refuses_at_the_start_when_a_planned_node_is_busy_and_sends_nothing(tmp_path: Path) -> None:
    snap = busy_apply_snapshot(with_workloads=False)
    plan_file = _plan_file(tmp_path, busy_plan("keep", snapshot=snap))
    victim = read_plan(plan_file).steps[0].nodes[0]
    with run_emulator(snap, faults={"start_workloads": [{"node": victim, "at_request": 1, "name": "nb-1",
                                                         "type": "notebook"}]}) as emu:
        result = _apply(emu, plan_file, "--execute")
        state = emu.state()
    assert result.exit_code == 4, result.stderr
    [refusal] = [line for line in result.stderr.splitlines() if line.startswith("poolshift: error")]
    assert f"node {victim} runs nb-1 (notebook, priority 1) (step 1)" in refusal
    assert "wait for the workload to end" in refusal and "run the same command again" in refusal
    assert state["migrate_requests"] == [] and state["drains"] == []


def test_ignore_notes_the_workloads_a_step_ends_and_sends_it(tmp_path: Path) -> None:
    snap = busy_apply_snapshot(with_workloads=False)
    plan_file = _plan_file(tmp_path, busy_plan("ignore", snapshot=snap))
    plan = read_plan(plan_file)
    victim = plan.steps[-1].nodes[0]
    with run_emulator(snap, job_seconds=0.05) as emu:
        _start_after_first_migrate(emu, victim)
        result = apply_plan(plan, plan_file, factory(emu), fast())
        state = emu.state()
    assert result.steps_done == 8
    assert any(f"moves busy node(s) {victim}, which ends surprise-job (train, priority 3)" in m
               for m in result.messages)
    assert [(d["node"], d["workload"]) for d in state["disrupted"]] == [(victim, "surprise-job")]
    assert state["drains"] == []


def test_drain_drains_a_node_that_became_busy_after_planning(tmp_path: Path) -> None:
    snap = busy_apply_snapshot(with_workloads=False)
    plan_file = _plan_file(tmp_path, busy_plan("drain", snapshot=snap))
    plan = read_plan(plan_file)
    assert plan.summary.busy_moves == 0
    victim = plan.steps[-1].nodes[0]
    with run_emulator(snap, job_seconds=0.05, drain_seconds=0.1) as emu:
        _start_after_first_migrate(emu, victim)
        result = apply_plan(plan, plan_file, factory(emu), fast())
        state = emu.state()
    assert result.steps_done == 8
    assert [d["nodes"] for d in state["drains"]] == [[victim]]
    assert drain_problems(state, plan) == [] and state["disrupted"] == []


def test_a_refused_drain_fails_the_step_and_sends_no_migrate(tmp_path: Path) -> None:
    plan_file = _plan_file(tmp_path, busy_plan("drain"))
    plan = read_plan(plan_file)
    with run_emulator(busy_apply_snapshot(), job_seconds=0.05, drain_seconds=0.1) as emu:
        inner = emu.api.handle

        def handle(request: EmuRequest) -> EmuResponse:
            if request.raw_path.endswith("/batch-drain"):
                return EmuResponse(400, {"error_code": "ModelArts.4001", "error_msg": "node cannot be drained"})
            return inner(request)

        emu.api.handle = handle  # type: ignore[method-assign]
        with pytest.raises(ApplyFailedError, match="the API refused to drain a-00"):
            apply_plan(plan, plan_file, factory(emu), fast())
        state = emu.state()
    assert state["disrupted"] == []
    assert "a-00" not in {n for r in state["migrate_requests"] for n in r["body"]["migrateNodeNames"]}


def test_a_drain_without_an_answer_is_never_resent_and_the_timeout_says_so(tmp_path: Path) -> None:
    """batch-drain answers 500 (the client's retries too): the call may have been taken, so it is not sent again;
    the node stays busy, the step fails after drain_timeout naming the unanswered drain; drained by hand, the
    resumed run migrates it without draining."""
    plan_file = _plan_file(tmp_path, busy_plan("drain", drain_timeout=1))
    plan = read_plan(plan_file)
    answered: list[str] = []
    with run_emulator(busy_apply_snapshot(), job_seconds=0.05, drain_seconds=0.05) as emu:
        inner = emu.api.handle

        def handle(request: EmuRequest) -> EmuResponse:
            if request.raw_path.endswith("/batch-drain"):
                answered.append(request.raw_path)
                return EmuResponse(500, {"error_code": "ModelArts.50005000", "error_msg": "internal error"})
            return inner(request)

        emu.api.handle = handle  # type: ignore[method-assign]
        with pytest.raises(ApplyFailedError, match=r"the drain call for a-00 got no answer") as failed:
            apply_plan(plan, plan_file, factory(emu), fast())
        calls = len(answered)
        assert calls >= 1 and emu.state()["drains"] == []
        assert failed.value.result.steps_done == 0
        journal = plan_file.with_name("plan.json.journal.jsonl")
        assert ("1", "drain_unanswered") in {(str(s), e) for s, e in journal_events(journal)}
        emu.api.handle = inner  # type: ignore[method-assign]
        with emu.client() as client:           # the operator drains the nodes whose drain got no answer
            client.drain_nodes("pool-a", ["a-00", "a-01"])
        time.sleep(0.1)
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8
    drained_by_run = [n for d in result.drains for n in d["body"]["nodeNames"]]
    assert "a-00" not in drained_by_run and "a-01" not in drained_by_run
    assert drain_problems(state, plan) == [] and placement_problems(state, plan) == []
