"""The step state machine's timeout transitions, and `Session.move` (check, journal, then move); no API involved."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from planner.apply import ApplyOptions
from planner.apply.journal import Journal, read_journal
from planner.apply.session import Session
from planner.apply.steps import IllegalTransition, Phase, StepRun, new_runs, replay, track_timed_out
from planner.errors import InputError
from planner.planfile import parse_plan
from tests.apply.conftest import make_apply_plan
from tests.apply.test_journal import STEP


def _timed_out() -> StepRun:
    run = StepRun(STEP)
    run.to(Phase.SUBMITTING)
    run.to(Phase.SUBMITTED, job_id="j1")
    run.to(Phase.TIMED_OUT, reason="job j1 has not ended")
    return run


def test_a_timed_out_step_is_tracked_again_with_the_same_job() -> None:
    run = _timed_out()
    assert (run.phase, run.job_id, run.reason) == (Phase.TIMED_OUT, "j1", "job j1 has not ended")
    assert track_timed_out([run]) == [run]
    assert (run.phase, run.job_id, run.reason) == (Phase.SUBMITTED, "j1", "")
    run.to(Phase.TIMED_OUT)
    run.to(Phase.SUBMITTED)
    run.to(Phase.SUCCEEDED)
    assert run.attempts == 1 and run.past_jobs == {"j1"}


@pytest.mark.parametrize("bad", [Phase.SUCCEEDED, Phase.FAILED, Phase.PENDING, Phase.SUBMITTING, Phase.TIMED_OUT])
def test_a_timed_out_step_only_goes_back_to_submitted(bad: Phase) -> None:
    with pytest.raises(IllegalTransition, match="timed_out -> "):
        _timed_out().to(bad)


def test_only_a_submitted_step_can_time_out() -> None:
    for path in ([], [Phase.SUBMITTING]):
        run = StepRun(STEP)
        for phase in path:
            run.to(phase)
        with pytest.raises(IllegalTransition):
            run.to(Phase.TIMED_OUT)


def _records(*events: tuple[str, int | None, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"event": event, "step": step, "_line": i, **fields} for i, (event, step, fields) in
            enumerate(events, start=1)]


def test_a_journal_that_ends_in_a_timeout_replays_to_timed_out_and_the_next_start_tracks_it() -> None:
    records = _records(("start", None, {}), ("submitting", 1, {"ts": "t"}), ("submitted", 1, {"job_id": "j1"}),
                       ("timeout", 1, {"job_id": "j1", "seconds": 1.0, "reason": "late"}),
                       ("finished", None, {}))
    runs = new_runs([STEP])
    replay(runs, records, source="j")
    assert (runs[1].phase, runs[1].job_id, runs[1].reason) == (Phase.TIMED_OUT, "j1", "late")
    runs = new_runs([STEP])
    replay(runs, [*records, *_records(("start", None, {"resume": True}))], source="j")
    assert (runs[1].phase, runs[1].job_id) == (Phase.SUBMITTED, "j1")


def test_a_journal_written_before_timed_out_existed_still_replays() -> None:
    """Old runs wrote `timeout` (no reason) and, after the resumed run's `start`, the outcome of the same job."""
    old = _records(("start", None, {}), ("submitting", 1, {"ts": "t"}), ("submitted", 1, {"job_id": "j1"}),
                   ("timeout", 1, {"job_id": "j1", "seconds": 0.2}), ("finished", None, {}),
                   ("start", None, {"resume": True}), ("timeout", 1, {"job_id": "j1", "seconds": 0.2}),
                   ("stopped", None, {}), ("start", None, {"resume": True}), ("succeeded", 1, {"job_id": "j1"}))
    runs = new_runs([STEP])
    replay(runs, old, source="j")
    assert runs[1].phase is Phase.SUCCEEDED and runs[1].attempts == 1


def test_an_outcome_right_after_a_timeout_in_the_same_run_is_refused() -> None:
    records = _records(("start", None, {}), ("submitting", 1, {}), ("submitted", 1, {"job_id": "j1"}),
                       ("timeout", 1, {"job_id": "j1"}), ("succeeded", 1, {"job_id": "j1"}))
    with pytest.raises(InputError, match="line 5: inconsistent journal: step 1: timed_out -> succeeded"):
        replay(new_runs([STEP]), records, source="j")


def test_move_checks_the_transition_before_it_journals_and_moves_as_a_replay_would(tmp_path: Path) -> None:
    plan = parse_plan(make_apply_plan(), source="test plan")
    session = Session(plan, tmp_path / "plan.json", ApplyOptions(execute=True), None, threading.Event())
    run = session.runs[1]
    with Journal(session.journal_path) as journal:
        session.journal = journal
        with pytest.raises(IllegalTransition):
            session.move(run, "succeeded", job_id="j0")
        assert read_journal(session.journal_path) == [] and run.phase is Phase.PENDING
        record = session.move(run, "submitting", attempt=1)
        assert run.phase is Phase.SUBMITTING and run.submitting_ts == record["ts"] and run.attempts == 1
        session.move(run, "submitted", job_id="j1")
        session.move(run, "timeout", job_id="j1", seconds=1.0, reason="late")
    written = read_journal(session.journal_path)
    assert [r["event"] for r in written] == ["submitting", "submitted", "timeout"]
    replayed = new_runs(plan.steps)
    replay(replayed, written, source="j")
    assert (replayed[1].phase, replayed[1].job_id, replayed[1].reason, replayed[1].submitting_ts) == \
        (run.phase, run.job_id, run.reason, run.submitting_ts)


def test_apply_failed_error_is_one_class_in_the_error_tree() -> None:
    import planner.apply
    import planner.errors

    assert planner.apply.ApplyFailedError is planner.errors.ApplyFailedError
    assert issubclass(planner.errors.ApplyFailedError, planner.errors.ExecutionError)
    assert planner.errors.ApplyFailedError.exit_code == 6
    assert all(getattr(planner.apply, name, None) is not None for name in planner.apply.__all__)


@pytest.mark.emulator
def test_timed_out_steps_count_as_moved_when_a_resumed_run_keeps_going(plan_file: Path) -> None:
    """A resumed run re-tracks the timed-out jobs; with --keep-going the staleness check of the other steps
    counts their nodes as moved (they travel when the job is accepted), so the plan is not called stale."""
    from planner.apply import ApplyFailedError, apply_plan
    from planner.planfile import read_plan
    from tests.apply.conftest import apply_snapshot
    from tests.apply.helpers import accepted_per_step, factory, fast, journal_events
    from tests.emulator_server import run_emulator

    plan = read_plan(plan_file)
    journal = plan_file.with_name(plan_file.name + ".journal.jsonl")
    with run_emulator(apply_snapshot(), job_seconds=30) as emu:
        with pytest.raises(ApplyFailedError, match="step 1 timed out"):
            apply_plan(plan, plan_file, factory(emu), fast(job_timeout=0.2))
        with pytest.raises(ApplyFailedError, match="timed out") as caught:
            apply_plan(plan, plan_file, factory(emu), fast(job_timeout=0.2, keep_going=True, resume=True))
        assert caught.value.result.steps_failed == list(range(1, 9))
        emu.advance(60)
        emu.machine.job_seconds = 0.0
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    assert [e for s, e in journal_events(journal) if s == 1] == ["submitting", "submitted", "timeout", "timeout",
                                                                  "succeeded"]
