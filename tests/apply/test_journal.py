"""The journal, the run lock and the per-step state machine (no API involved)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.apply.journal import Journal, lock_path, plan_fingerprint, read_journal, run_lock
from planner.apply.steps import IllegalTransition, Phase, StepRun, new_runs, replay
from planner.errors import InputError, LockedError
from planner.planfile import PlanStep, read_plan

STEP = PlanStep.model_validate({
    "id": 1, "wave": 1, "staging": False, "pool_name": "pool-a",
    "body": {"migrateNodeNames": ["a-00"], "toPoolName": "pool-b", "fromClusterName": "pool-a",
             "toClusterName": "pool-b", "resourceSpec": {"flavor": "f"}}})


def test_records_are_appended_one_json_line_each(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        journal.write("start", plan="sha256:x")
        journal.write("submitting", 1, attempt=1)
    with Journal(path) as journal:
        journal.write("submitted", 1, job_id="job-1")
    lines = path.read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["start", "submitting", "submitted"]
    first = json.loads(lines[0])
    assert set(first) == {"ts", "event", "step", "plan"} and first["step"] is None
    assert first["ts"].endswith("Z")
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_a_torn_last_line_is_ignored_and_the_next_record_starts_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        journal.write("start", plan="p")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"event": "submitting", "st')  # a crash mid-write
    assert [r["event"] for r in read_journal(path)] == ["start"]
    with Journal(path) as journal:  # the next run starts with its own start record
        journal.write("start", plan="p")
        journal.write("submitting", 1)
    assert path.read_text().splitlines()[1] == '{"event": "submitting", "st'
    assert [r["event"] for r in read_journal(path)] == ["start", "start", "submitting"]


def test_a_bad_line_in_the_middle_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"event": "start"}\nnot json\n{"event": "finished"}\n')
    with pytest.raises(InputError, match="line 2"):
        read_journal(path)


def test_a_missing_journal_reads_as_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "none.jsonl") == []


def test_plan_fingerprint_ignores_the_creation_time() -> None:
    plan = read_plan(Path(__file__).resolve().parents[2] / "examples" / "plan.json")
    assert plan_fingerprint(plan) == plan_fingerprint(plan.model_copy(update={"created_at": "2030-01-01T00:00:00Z"}))
    assert plan_fingerprint(plan) != plan_fingerprint(plan.model_copy(update={"steps": plan.steps[:1]}))


def test_the_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    with run_lock(journal, owner="project p plan x"):
        started = time.monotonic()
        with pytest.raises(LockedError, match=f"pid {os.getpid()} project p plan x"), \
                run_lock(journal, owner="other"):
            pass  # pragma: no cover
        assert time.monotonic() - started < 1.0
    with run_lock(journal, owner="again"):  # released when the block ended
        assert lock_path(journal).read_text().startswith(f"pid {os.getpid()} again")


def test_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    code = ("import sys, time; from pathlib import Path; from planner.apply.journal import run_lock\n"
            "with run_lock(Path(sys.argv[1]), owner='child'):\n"
            "    print('locked', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(journal)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).parents[2])
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError, match=f"pid {child.pid} child"), run_lock(journal, owner="me"):
            pass  # pragma: no cover
        child.kill()
        child.wait(10)
        with run_lock(journal, owner="me"):
            pass
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()


def test_legal_transitions_follow_the_diagram() -> None:
    run = StepRun(STEP)
    run.to(Phase.SUBMITTING)
    run.to(Phase.SUBMITTED, job_id="j1")
    run.to(Phase.FAILED, reason="job failed")
    assert run.past_jobs == {"j1"} and run.reason == "job failed"
    run.to(Phase.PENDING)
    run.to(Phase.SUBMITTING)
    assert run.attempts == 2
    run.to(Phase.PENDING)  # not accepted
    run.to(Phase.SUBMITTING)
    run.to(Phase.SUBMITTED, job_id="j2")
    run.to(Phase.SUCCEEDED)


@pytest.mark.parametrize(("path", "bad"), [
    ([], Phase.SUBMITTED),                                  # a job without a submission
    ([], Phase.SUCCEEDED),
    ([Phase.SUBMITTING], Phase.SUCCEEDED),                  # done without a job
    ([Phase.SUBMITTING, Phase.SUBMITTED], Phase.PENDING),   # an accepted request cannot be taken back
    ([Phase.SUBMITTING, Phase.SUBMITTED], Phase.SUBMITTING),
    ([Phase.SUBMITTING, Phase.SUBMITTED, Phase.SUCCEEDED], Phase.FAILED),
    ([Phase.SUBMITTING, Phase.SUBMITTED, Phase.SUCCEEDED], Phase.PENDING),
])
def test_illegal_transitions_raise(path: list[Phase], bad: Phase) -> None:
    run = StepRun(STEP)
    for phase in path:
        run.to(phase, job_id="j")
    with pytest.raises(IllegalTransition):
        run.to(bad)


def test_replay_rebuilds_the_state_and_rejects_an_inconsistent_journal() -> None:
    runs = new_runs([STEP])
    replay(runs, [{"event": "start", "step": None}, {"event": "submitting", "step": 1, "ts": "t1"},
                  {"event": "submitted", "step": 1, "job_id": "j"}], source="j")
    assert runs[1].phase is Phase.SUBMITTED and runs[1].job_id == "j" and runs[1].submitting_ts == "t1"
    with pytest.raises(InputError, match="line 7: inconsistent journal"):
        replay(new_runs([STEP]), [{"event": "succeeded", "step": 1, "_line": 7}], source="j")
    with pytest.raises(InputError, match="step 9"):
        replay(new_runs([STEP]), [{"event": "submitting", "step": 9, "_line": 1}], source="j")


def test_a_torn_line_followed_by_a_new_run_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"event": "start"}\n{"event": "subm\n{"event": "start"}\n{"event": "finished"}\n')
    assert [r["event"] for r in read_journal(path)] == ["start", "start", "finished"]
