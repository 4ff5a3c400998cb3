"""apply_plan against the emulator over a real socket: dry-run, execute, faults, failures, resume, lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from planner.apply import ApplyFailedError, ApplyOptions, apply_plan, read_journal
from planner.apply.journal import Journal, plan_fingerprint, run_lock
from planner.errors import ApiError, ExecutionError, InputError, LockedError, StalePlanError
from planner.planfile import PlanDocument, read_plan
from tests.apply.conftest import apply_snapshot
from tests.apply.helpers import (
    accepted_per_step,
    edited,
    factory,
    fast,
    journal_events,
    last_event,
    placement_problems,
    record_requests,
)
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = pytest.mark.emulator


def journal_of(plan_file: Path) -> Path:
    return plan_file.with_name(plan_file.name + ".journal.jsonl")


def test_dry_run_sends_no_mutating_request(emulator: EmulatorHandle, plan_file: Path) -> None:
    seen = record_requests(emulator)
    calls: list[bool] = []
    plan = read_plan(plan_file)
    result = apply_plan(plan, plan_file, factory(emulator, calls), ApplyOptions())
    assert calls == [True]                                       # only a read-only client was asked for
    assert emulator.state()["migrate_requests"] == []
    assert seen and {method for method, _ in seen} == {"GET"}
    assert not result.executed and result.steps_done == 0 and result.journal is None
    assert [(r["step"], r["pool_name"], r["body"]) for r in result.requests] == \
        [(s.id, s.source, s.body_json()) for s in plan.steps]
    assert not journal_of(plan_file).exists()
    assert any("the one the plan was made from" in m for m in result.messages)


def test_execute_runs_every_step_once_in_wave_order(emulator: EmulatorHandle, plan_file: Path) -> None:
    plan = read_plan(plan_file)
    progress: list[tuple[str, int, int]] = []
    result = apply_plan(plan, plan_file, factory(emulator), fast(max_parallel=2),
                        progress=lambda *a: progress.append(a))
    state = emulator.state()
    assert result.executed and result.steps_done == 8 and result.steps_failed == []
    assert placement_problems(state, plan) == []
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    # Requests went out wave by wave.
    waves = {s.id: s.wave for s in plan.steps}
    sent = [waves[r["step"]] for r in result.requests]
    assert sent == sorted(sent)
    events = journal_events(journal_of(plan_file))
    assert events[0] == (None, "start") and events[-1] == (None, "finished")
    for step in range(1, 9):
        assert [e for s, e in events if s == step] == ["submitting", "submitted", "succeeded"]
    assert progress[-1][1:] == (8, 8)


def test_max_parallel_bounds_the_steps_in_flight(plan_file: Path) -> None:
    def one_wave(data: dict[str, Any]) -> None:  # one wave: only --max-parallel limits what is in flight
        data["steps"] = [{**s, "wave": 1} for s in data["steps"] if s["body"]["toPoolName"] in ("pool-b", "pool-d")]

    plan = edited(read_plan(plan_file), one_wave)
    with run_emulator(apply_snapshot(), job_seconds=0.1) as emu:
        apply_plan(plan, plan_file, factory(emu), fast(max_parallel=2))
    in_flight = peak = 0
    for _, event in journal_events(journal_of(plan_file)):
        if event == "submitted":
            in_flight += 1
            peak = max(peak, in_flight)
        elif event in ("succeeded", "failed"):
            in_flight -= 1
    assert peak == 2


def test_429_bursts_and_5xx_do_not_stop_a_run(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    faults = {"rate_429": 0.15, "rate_5xx": 0.1, "next_errors": [429, 429, 429, 503, 500]}
    with run_emulator(apply_snapshot(), job_seconds=0.02, seed=7, faults=faults) as emu:
        seen = record_requests(emu)
        result = apply_plan(plan, plan_file, factory(emu), fast())
        state = emu.state()
    assert result.steps_done == 8
    assert placement_problems(state, plan) == []
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    assert len(seen) > 100


def test_a_failed_job_stops_the_run_with_exit_6_and_a_correct_journal(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.02, faults={"fail_nodes": ["a-03"]}) as emu:
        with pytest.raises(ApplyFailedError) as caught:
            apply_plan(plan, plan_file, factory(emu), fast())
        err = caught.value
        assert err.exit_code == 6 and err.step_id == 4 and err.journal == str(journal_of(plan_file))
        assert "step 4 failed: job" in str(err) and "Failed" in str(err) and "--resume" in str(err)
        assert err.result.steps_done == 3 and err.result.steps_failed == [4]
        assert err.result.steps_pending == [5, 6, 7, 8]
        assert len(emu.state()["migrate_requests"]) == 4     # nothing after the failure was sent
        last = last_event(journal_of(plan_file))
        assert last == {1: "succeeded", 2: "succeeded", 3: "succeeded", 4: "failed"}
        records = read_journal(journal_of(plan_file))
        assert records[-1]["event"] == "finished" and records[-1]["failed"] == [4]
        failed = [r for r in records if r["event"] == "failed"][0]
        assert failed["job_id"] and "injected fault" in failed["reason"]

        # Fixed: --resume tries step 4 again and finishes; steps 1-3 are not sent again.
        emu.set_faults(fail_nodes=[])
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8 and result.steps_failed == []
    assert placement_problems(state, plan) == []
    counts = accepted_per_step(state, plan)
    assert counts[4] == 2 and all(counts[i] == 1 for i in (1, 2, 3, 5, 6, 7, 8))
    assert "retry" in [e for s, e in journal_events(journal_of(plan_file)) if s == 4]


def test_keep_going_runs_the_other_steps_then_exits_6(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.02, faults={"fail_nodes": ["a-03"]}) as emu:
        with pytest.raises(ApplyFailedError) as caught:
            apply_plan(plan, plan_file, factory(emu), fast(keep_going=True))
        state = emu.state()
    assert caught.value.result.steps_done == 7 and caught.value.result.steps_failed == [4]
    assert placement_problems(state, plan) == ["a-03: ('pool-a', 'Available') instead of (pool-c, Available)",
                                               "pool-a: 5 nodes instead of 4", "pool-c: 3 nodes instead of 4"]


def test_a_connection_dropped_after_acceptance_is_not_submitted_twice(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.02, faults={"drop_after_accept": 3}) as emu:
        result = apply_plan(plan, plan_file, factory(emu), fast())
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    assert placement_problems(state, plan) == []


def _crashed_journal(plan: PlanDocument, plan_file: Path, step: int) -> Path:
    """A journal as a run leaves it when killed right after writing `submitting` for `step`."""
    path = journal_of(plan_file)
    with Journal(path) as journal:
        journal.write("start", plan=plan_fingerprint(plan), plan_path=str(plan_file), resume=False)
        journal.write("submitting", step, attempt=1)
    return path


@pytest.mark.parametrize("accepted", [True, False])
def test_resume_asks_the_api_about_a_step_without_outcome(plan_file: Path, accepted: bool) -> None:
    plan = read_plan(plan_file)
    path = _crashed_journal(plan, plan_file, 1)
    with run_emulator(apply_snapshot(), job_seconds=0.02) as emu:
        if accepted:  # the POST reached the API before the crash
            with emu.client() as client:
                job = client.migrate_nodes(plan.steps[0].source, plan.steps[0].body_json())
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    records = [r for r in read_journal(path) if r.get("step") == 1]
    if accepted:
        assert [r["event"] for r in records] == ["submitting", "submitted", "succeeded"]
        assert records[1]["job_id"] == job and records[1]["recovered"] is True
    else:
        assert [r["event"] for r in records] == ["submitting", "not_accepted", "submitting", "submitted",
                                                 "succeeded"]


def test_resume_finds_a_step_done_without_its_job(plan_file: Path) -> None:
    """The API lost the job (or never lists it) but the nodes arrived: the step counts as done."""
    plan = read_plan(plan_file)
    _crashed_journal(plan, plan_file, 1)
    # The API's clock is two hours behind: its job looks older than the window the resume searches.
    with run_emulator(apply_snapshot(), job_seconds=0.0, clock=lambda: time.time() - 7200) as emu:
        with emu.client() as client:
            client.migrate_nodes(plan.steps[0].source, plan.steps[0].body_json())
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    assert any("its nodes are in pool pool-b" in m for m in result.messages)


def test_a_stop_request_tracks_the_steps_in_flight_and_resume_finishes(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    stop = threading.Event()

    def progress(text: str, done: int, total: int) -> None:
        if "submitted" in text:
            stop.set()

    with run_emulator(apply_snapshot(), job_seconds=0.05) as emu:
        result = apply_plan(plan, plan_file, factory(emu), fast(), progress=progress, stop=stop)
        assert result.interrupted and result.steps_done == 1 and result.steps_pending == [2, 3, 4, 5, 6, 7, 8]
        assert last_event(journal_of(plan_file)) == {1: "succeeded"}   # the step in flight was tracked to its end
        assert read_journal(journal_of(plan_file))[-1]["event"] == "stopped"
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8 and not result.interrupted
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]


def test_a_job_timeout_stops_the_run_and_resume_keeps_tracking_the_job(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=30) as emu:
        started = time.monotonic()
        with pytest.raises(ApplyFailedError, match="step 1 timed out") as caught:
            apply_plan(plan, plan_file, factory(emu), fast(job_timeout=0.2))
        assert time.monotonic() - started < 5
        assert caught.value.result.steps_failed == [1, 2]
        emu.advance(60)               # the two jobs end while nobody watches
        emu.machine.job_seconds = 0.02
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]


def test_a_held_lock_refuses_quickly_and_names_the_holder(emulator: EmulatorHandle, plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_lock(journal_of(plan_file), owner="the other run"):
        started = time.monotonic()
        with pytest.raises(LockedError, match="the other run") as caught:
            apply_plan(plan, plan_file, factory(emulator), fast())
        assert time.monotonic() - started < 1.0 and caught.value.exit_code == 7
    assert emulator.state()["migrate_requests"] == []


def test_an_existing_journal_needs_resume(emulator: EmulatorHandle, plan_file: Path) -> None:
    plan = read_plan(plan_file)
    _crashed_journal(plan, plan_file, 1)
    with pytest.raises(InputError, match="--resume"):
        apply_plan(plan, plan_file, factory(emulator), fast())
    other = edited(plan, lambda data: data.update(steps=data["steps"][:2]))
    with pytest.raises(InputError, match="another plan"):
        apply_plan(other, plan_file, factory(emulator), fast(resume=True))
    assert emulator.state()["migrate_requests"] == []


def test_a_plan_for_another_project_is_refused(emulator: EmulatorHandle, plan_file: Path) -> None:
    plan = edited(read_plan(plan_file), lambda data: data.update(project_id="0" * 32))
    with pytest.raises(InputError, match="project"):
        apply_plan(plan, plan_file, factory(emulator), ApplyOptions())


def test_the_journal_holds_no_secret(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.0, faults={"fail_nodes": ["a-07"]}) as emu:
        with pytest.raises(ApplyFailedError):
            apply_plan(plan, plan_file, factory(emu), fast())
        text = journal_of(plan_file).read_text()
        assert emu.ak is not None and emu.sk is not None
        assert emu.ak not in text and emu.sk not in text


def test_a_step_whose_preconditions_broke_mid_run_fails_before_it_is_sent(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.02) as emu:
        def someone_else_moves_a_07(text: str, done: int, total: int) -> None:
            if text.startswith("step 1: submitted"):
                with emu.client() as client:
                    client.migrate_nodes("pool-a", {**plan.steps[7].body_json(), "toClusterName": "pool-b",
                                                    "toPoolName": "pool-b",
                                                    "resourceSpec": {"flavor": "modelarts.vm.cpu.8u"}})

        with pytest.raises(ApplyFailedError) as caught:
            apply_plan(plan, plan_file, factory(emu), fast(), progress=someone_else_moves_a_07)
        assert len(emu.state()["migrate_requests"]) == 8      # 7 steps and the other party's request
    err = caught.value
    assert err.step_id == 8 and err.result.steps_done == 7
    assert "step 8 failed: its preconditions do not hold on the live inventory: node a-07 (step 8) is no longer " \
           "in pool pool-a" in str(err)
    assert [e for s, e in journal_events(journal_of(plan_file)) if s == 8] == ["failed"]


def test_an_api_outage_mid_run_stops_with_exit_5_and_resume_finishes(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.02) as emu:
        def outage(text: str, done: int, total: int) -> None:
            if text.startswith("step 3: submitted"):
                emu.set_faults(rate_5xx=1.0)

        with pytest.raises(ApiError, match="--resume") as caught:
            apply_plan(plan, plan_file, factory(emu), fast(), progress=outage)
        assert caught.value.exit_code == 5
        records = read_journal(journal_of(plan_file))
        assert records[-1]["event"] == "stopped" and "API error" in records[-1]["reason"]
        emu.set_faults(rate_5xx=0.0)
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]


def test_dry_run_with_resume_shows_what_a_resumed_run_would_send(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.0) as emu:
        stop = threading.Event()
        apply_plan(plan, plan_file, factory(emu), fast(max_parallel=1), stop=stop,
                   progress=lambda text, *_: stop.set() if text.startswith("step 2: done") else None)
        assert last_event(journal_of(plan_file)) == {1: "succeeded", 2: "succeeded"}
        with pytest.raises(StalePlanError, match="add --resume"):   # without it the steps done look like drift
            apply_plan(plan, plan_file, factory(emu), ApplyOptions())
        result = apply_plan(plan, plan_file, factory(emu), ApplyOptions(resume=True))
        assert len(emu.state()["migrate_requests"]) == 2
    assert not result.executed and result.steps_done == 2
    assert [r["step"] for r in result.requests] == [3, 4, 5, 6, 7, 8]
    assert any("2 step(s) already done" in m for m in result.messages)


def test_a_plan_without_steps(emulator: EmulatorHandle, plan_file: Path) -> None:
    plan = edited(read_plan(plan_file), lambda data: data.update(steps=[]))
    assert apply_plan(plan, plan_file, factory(emulator), ApplyOptions()).requests == []
    result = apply_plan(plan, plan_file, factory(emulator), fast())
    assert result.executed and result.steps_total == 0 and result.steps_failed == []
    assert [e for _, e in journal_events(journal_of(plan_file))] == ["start", "finished"]


def test_resume_refuses_to_guess_when_the_api_cannot_account_for_a_lost_request(tmp_path: Path) -> None:
    from tests.apply.conftest import apply_spec, make_apply_plan, write_plan_data

    spec = apply_spec()
    spec["limits"]["max_batch_size"] = 2
    plan_data = make_apply_plan(spec=spec)
    step = plan_data["steps"][0]
    assert len(step["body"]["migrateNodeNames"]) == 2
    plan_file = tmp_path / "plan.json"
    write_plan_data(plan_file, plan_data)
    plan = read_plan(plan_file)
    _crashed_journal(plan, plan_file, 1)
    with run_emulator(apply_snapshot(), job_seconds=0.0, clock=lambda: time.time() - 7200) as emu:
        with emu.client() as client:  # half of the step's nodes moved, by someone, with no job to show for it
            client.migrate_nodes(step["pool_name"], {**step["body"],
                                                     "migrateNodeNames": step["body"]["migrateNodeNames"][:1]})
        with pytest.raises(ExecutionError, match="step 1: cannot tell whether its request was accepted") as caught:
            apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        assert len(emu.state()["migrate_requests"]) == 1
    assert caught.value.exit_code == 6 and caught.value.step_id == 1
    assert read_journal(journal_of(plan_file))[-1]["event"] == "stopped"
