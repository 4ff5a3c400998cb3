"""401/403 are final: `apply` never asks again (five failed AK/SK signatures lock the access key for five minutes)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.apply import apply_plan, read_journal
from planner.cli import main
from planner.errors import ApiError, ApiStatusError
from planner.planfile import read_plan
from tests.apply.conftest import apply_snapshot
from tests.apply.helpers import accepted_per_step, factory, fast, record_requests, refuse_next_posts
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = pytest.mark.emulator

WRONG_SK = "sk-wrong-0000000000000000000000000000"


@pytest.mark.parametrize("execute", [False, True], ids=["dry-run", "execute"])
def test_a_wrong_secret_key_exits_5_at_once_after_one_request(emulator: EmulatorHandle, plan_file: Path,
                                                             execute: bool) -> None:
    seen = record_requests(emulator)
    env = {**emulator.env(), "HUAWEICLOUD_SDK_SK": WRONG_SK}
    args = ["apply", str(plan_file), *emulator.cli_args(), *(["--execute"] if execute else [])]
    started = time.monotonic()
    result = CliRunner().invoke(main, args, env=env)
    elapsed = time.monotonic() - started
    assert result.exit_code == 5, result.output
    assert elapsed < 1.0
    assert len(seen) == 1 and seen[0][0] == "GET"
    assert "HTTP 401" in result.stderr and WRONG_SK not in result.output + result.stderr
    assert emulator.state()["migrate_requests"] == []
    assert not plan_file.with_name(plan_file.name + ".journal.jsonl").exists()


def test_a_401_while_polling_stops_the_run_at_once_and_resume_finishes(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.05) as emu:
        seen = record_requests(emu)
        mark: list[int] = []

        def rotate_the_key(text: str, done: int, total: int) -> None:
            if text.startswith("step 2: submitted") and not mark:
                mark.append(len(seen))
                emu.set_faults(next_errors=[401])

        with pytest.raises(ApiError, match="HTTP 401") as caught:
            apply_plan(plan, plan_file, factory(emu), fast(), progress=rotate_the_key)
        assert caught.value.exit_code == 5
        assert len(seen) == mark[0] + 1                 # the 401 answer, and nothing after it
        records = read_journal(plan_file.with_name(plan_file.name + ".journal.jsonl"))
        assert records[-1]["event"] == "stopped" and 2 in records[-1]["in_flight"]
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]


def test_a_403_on_the_post_is_not_accepted_and_stops_the_run(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.0) as emu:
        refused = refuse_next_posts(emu, 1, status=403)
        seen = record_requests(emu)
        with pytest.raises(ApiError, match="HTTP 403") as caught:
            apply_plan(plan, plan_file, factory(emu), fast())
        cause = caught.value.__cause__
        assert caught.value.exit_code == 5 and isinstance(cause, ApiStatusError) and cause.status == 403
        assert len(refused) == 1 and seen[-1][0] == "POST"   # nothing was asked after the 403
        journal = plan_file.with_name(plan_file.name + ".journal.jsonl")
        events = [(r.get("step"), r["event"]) for r in read_journal(journal)]
        assert events[-3:] == [(1, "submitting"), (1, "not_accepted"), (None, "stopped")]
        result = apply_plan(plan, plan_file, factory(emu), fast(resume=True))
        state = emu.state()
    assert result.steps_done == 8
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
