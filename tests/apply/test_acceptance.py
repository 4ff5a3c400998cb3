"""Whether a batch-migrate whose answer was lost was accepted: the one rule (planner.apply.acceptance).

The emulator tests run apply_plan over a real socket; issue 17.3 is the first one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from planner.apply import ApplyFailedError, apply_plan, read_journal
from planner.apply.acceptance import LOOKBACK_MS, Acceptance, Verdict, ask_api, judge, since_ms
from planner.apply.steps import StepRun
from planner.errors import ExecutionError
from planner.modelarts.client import ModelArtsClient
from planner.planfile import PlanStep, read_plan
from tests.apply.conftest import apply_snapshot
from tests.apply.helpers import accepted_per_step, factory, fast, placement_problems, refuse_next_posts
from tests.emulator_server import run_emulator


def journal_of(plan_file: Path) -> Path:
    return plan_file.with_name(plan_file.name + ".journal.jsonl")


@pytest.mark.emulator
def test_a_retried_step_never_adopts_its_own_earlier_failed_job(plan_file: Path) -> None:
    """Issue 17.3. Step 4's job fails; on --resume its retry's POST answers 500 before the API took it. The
    failed job names the same nodes and target pool, but the journal recorded it for this step: it is not the
    retry's job. The retry is found not accepted, sent again, and succeeds."""
    plan = read_plan(plan_file)
    journal = journal_of(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.02, faults={"fail_nodes": ["a-03"]}) as emu:
        with pytest.raises(ApplyFailedError):
            apply_plan(plan, plan_file, factory(emu), fast())
        old_job = next(r["job_id"] for r in read_journal(journal) if r["event"] == "failed")
        assert old_job
        emu.set_faults(fail_nodes=[])
        refused = refuse_next_posts(emu, 1, status=500)
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert refused == ["/v2/" + plan.project_id + "/pools/pool-a/nodes/batch-migrate"]
    assert result.steps_done == 8 and result.steps_failed == []
    assert placement_problems(state, plan) == []
    counts = accepted_per_step(state, plan)
    assert counts[4] == 2 and all(counts[i] == 1 for i in (1, 2, 3, 5, 6, 7, 8))
    step4 = [r for r in read_journal(journal) if r.get("step") == 4]
    retry = [r["event"] for r in step4][[r["event"] for r in step4].index("retry"):]
    assert retry == ["retry", "submitting", "not_accepted", "submitting", "submitted", "succeeded"]
    after_retry = step4[[r["event"] for r in step4].index("retry"):]
    assert old_job not in {r.get("job_id") for r in after_retry}


@pytest.mark.emulator
def test_a_5xx_before_acceptance_is_found_not_accepted_and_sent_again(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.0) as emu:
        refuse_next_posts(emu, 1, status=503)
        result = apply_plan(plan, plan_file, factory(emu), fast())
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    step1 = [r for r in read_journal(journal_of(plan_file)) if r.get("step") == 1]
    assert [r["event"] for r in step1] == ["submitting", "not_accepted", "submitting", "submitted", "succeeded"]
    assert "HTTP 503" in step1[1]["reason"] and "still in pool pool-a" in step1[1]["reason"]
    assert [r["attempt"] for r in step1 if r["event"] == "submitting"] == [1, 2]


@pytest.mark.emulator
def test_a_lost_answer_the_api_cannot_account_for_stops_the_run_and_is_never_resent(tmp_path: Path) -> None:
    """The POST answers 500 after half of the step's nodes moved with no job to show for it (the API's clock is
    two hours behind, so its job is older than the window searched): the run stops (exit 6), nothing is resent."""
    from planner.modelarts.emulator.api import EmuRequest, EmuResponse
    from tests.apply.conftest import apply_spec, make_apply_plan, write_plan_data

    spec = apply_spec()
    spec["limits"]["max_batch_size"] = 2
    plan_data = make_apply_plan(spec=spec)
    first = plan_data["steps"][0]
    plan_file = tmp_path / "plan.json"
    write_plan_data(plan_file, plan_data)
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.0, clock=lambda: time.time() - 7200) as emu:
        inner = emu.api.handle

        def half_then_500(request: EmuRequest) -> EmuResponse:
            if request.method == "POST" and request.raw_path.endswith("/batch-migrate"):
                body = json.loads(request.body)
                body["migrateNodeNames"] = body["migrateNodeNames"][:1]
                with emu.machine.lock:
                    emu.machine.batch_migrate(first["pool_name"], body)
                return EmuResponse(500, {"error_code": "ModelArts.50005000", "error_msg": "internal error"})
            return inner(request)

        emu.api.handle = half_then_500  # type: ignore[method-assign]
        with pytest.raises(ExecutionError, match="step 1: cannot tell whether its request was accepted") as caught:
            apply_plan(plan, plan_file, factory(emu), fast())
        assert len(emu.state()["migrate_requests"]) == 1
    assert caught.value.exit_code == 6 and caught.value.step_id == 1
    assert not isinstance(caught.value, ApplyFailedError)
    events = [(r.get("step"), r["event"]) for r in read_journal(journal_of(plan_file))]
    assert events[-2:] == [(1, "submitting"), (None, "stopped")]


# -- the rule itself, on what the API says ---------------------------------------------------------------------


def _run(past_jobs: set[str] | None = None, ts: str | None = "2026-11-28T00:10:00.000Z") -> StepRun:
    run = StepRun(PlanStep.model_validate({
        "id": 3, "wave": 1, "staging": False, "pool_name": "pool-a",
        "body": {"migrateNodeNames": ["a-01", "a-02"], "fromClusterName": "lite-a", "toClusterName": "lite-a",
                 "toPoolName": "pool-b", "resourceSpec": {"flavor": "f.a"}}}))
    run.past_jobs = set(past_jobs or ())
    run.submitting_ts = ts
    return run


def _job(job_id: str, names: list[str], target: str | None = "pool-b", start: int = 0, text: bool = False,
         ) -> dict[str, Any]:
    inputs: dict[str, Any] = {"migrateNodeNames": names, **({"toPoolName": target} if target else {})}
    return {"jobId": job_id, "startTimestamp": start, "inputs": json.dumps(inputs) if text else inputs}


IN_SOURCE = {"a-01": "pool-a", "a-02": "pool-a"}
IN_TARGET = {"a-01": "pool-b", "a-02": "pool-b"}


def test_the_newest_matching_job_is_the_step_s_and_a_recorded_job_never_is() -> None:
    jobs = [_job("old", ["a-02", "a-01"], start=1), _job("new", ["a-01", "a-02"], start=2, text=True),
            _job("other-nodes", ["a-01"], start=3), _job("other-target", ["a-01", "a-02"], "pool-c", start=4)]
    assert judge(_run(), jobs, IN_SOURCE) == Acceptance(Verdict.ACCEPTED, "new", "the API has its job new")
    assert judge(_run({"new"}), jobs, IN_SOURCE).job_id == "old"
    verdict = judge(_run({"new", "old"}), jobs, IN_SOURCE)
    assert verdict.verdict is Verdict.NOT_ACCEPTED and verdict.job_id is None
    assert verdict.note == "no job for it and its nodes are still in pool pool-a"


def test_a_job_that_names_no_target_matches_and_unreadable_inputs_do_not() -> None:
    assert judge(_run(), [_job("j", ["a-01", "a-02"], target=None)], IN_SOURCE).job_id == "j"
    broken = [{"jobId": "x", "inputs": "{not json"}, {"jobId": "y", "inputs": None}, {"inputs": {}}]
    assert judge(_run(), broken, IN_SOURCE).verdict is Verdict.NOT_ACCEPTED


def test_without_a_job_the_nodes_decide() -> None:
    assert judge(_run(), [], IN_TARGET) == Acceptance(Verdict.ACCEPTED, None,
                                                      "no job found, but its nodes are in pool pool-b")
    split = judge(_run(), [], {"a-01": "pool-b", "a-02": "pool-a"})
    assert split.verdict is Verdict.UNACCOUNTED and not split.accepted
    assert split.note == "no job found; nodes: a-01 in pool-b, a-02 in pool-a"
    gone = judge(_run(), [], {"a-01": None, "a-02": "pool-a"})
    assert gone.verdict is Verdict.UNACCOUNTED and "a-01 in no pool" in gone.note


def test_jobs_are_searched_from_ten_minutes_before_the_submitting_record() -> None:
    assert since_ms("2026-11-28T00:10:00.000Z") == 1795824000000 - LOOKBACK_MS + 600000
    assert since_ms(None) is None and since_ms("yesterday") is None


def test_ask_api_reads_the_jobs_since_the_record_then_the_nodes_only_when_no_job_matches() -> None:
    seen: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.path}?{request.url.query.decode()}")
        if request.url.path.endswith("/jobs"):
            return httpx.Response(200, json={"count": 1, "items": [_job("j1", ["a-01", "a-02"])]})
        pool = request.url.path.split("/")[-2]
        names = ["a-01"] if pool == "pool-a" else ["a-02"]
        return httpx.Response(200, json={"items": [{"metadata": {"name": n}, "status": {"phase": "Available"}}
                                                   for n in names]})

    client = ModelArtsClient(httpx.Client(transport=httpx.MockTransport(serve), base_url="https://m.test"), "p")
    assert ask_api(client, _run()).job_id == "j1"
    assert seen == [f"/v2/p/jobs?resource=pools&name=pool-a&since={1795824000000 - LOOKBACK_MS + 600000}"
                    f"&limit=100"]
    seen.clear()
    verdict = ask_api(client, _run({"j1"}))
    assert verdict.verdict is Verdict.UNACCOUNTED and verdict.note.endswith("a-01 in pool-a, a-02 in pool-b")
    assert seen[0].startswith("/v2/p/jobs?") and sorted(s.split("?")[0] for s in seen[1:]) == [
        "/v2/p/pools/pool-a", "/v2/p/pools/pool-a/nodes", "/v2/p/pools/pool-b", "/v2/p/pools/pool-b/nodes"]
