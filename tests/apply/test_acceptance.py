"""Whether a batch-migrate whose answer was lost was accepted: the one rule (planner.apply.acceptance).

The emulator tests run apply_plan over a real socket; issue 17.3 is the first one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.apply import ApplyFailedError, apply_plan, read_journal
from planner.planfile import read_plan
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
    assert refused == ["/v2/" + plan["project_id"] + "/pools/pool-a/nodes/batch-migrate"]
    assert result.steps_done == 8 and result.steps_failed == []
    assert placement_problems(state, plan) == []
    counts = accepted_per_step(state, plan)
    assert counts[4] == 2 and all(counts[i] == 1 for i in (1, 2, 3, 5, 6, 7, 8))
    step4 = [r for r in read_journal(journal) if r.get("step") == 4]
    retry = [r["event"] for r in step4][[r["event"] for r in step4].index("retry"):]
    assert retry == ["retry", "submitting", "not_accepted", "submitting", "submitted", "succeeded"]
    after_retry = step4[[r["event"] for r in step4].index("retry"):]
    assert old_job not in {r.get("job_id") for r in after_retry}
