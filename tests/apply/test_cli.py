"""`poolshift apply` on the command line (click's runner, the emulator over a real socket)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from planner.apply.journal import run_lock
from planner.cli import main
from tests.apply.conftest import apply_snapshot
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = pytest.mark.emulator


def invoke(emu: EmulatorHandle, plan_file: Path, *args: str, region: bool = True) -> Result:
    conn = emu.cli_args() if region else [a for a in emu.cli_args() if a not in ("--region", emu.region)]
    result = CliRunner().invoke(main, ["apply", str(plan_file), *conn, *args], env=emu.env())
    assert emu.ak is not None and emu.sk is not None
    assert emu.sk not in result.output + result.stderr and emu.ak not in result.output + result.stderr
    return result


def test_dry_run_prints_each_request_and_sends_none(emulator: EmulatorHandle, plan_file: Path) -> None:
    result = invoke(emulator, plan_file, region=False)   # the region comes from the plan
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "dry-run: would send 8 request(s); nothing was sent"
    posts = [line for line in lines if "POST " in line]
    assert len(posts) == 8
    assert posts[0] == f"  step 1: POST /v2/{emulator.project_id}/pools/pool-a/nodes/batch-migrate"
    assert sum(1 for line in lines if line.startswith("wave ")) == 4
    assert '"migrateNodeNames": ["a-00"]' in result.stdout
    assert "the one the plan was made from" in result.stderr
    assert emulator.state()["migrate_requests"] == []


def test_dry_run_json(emulator: EmulatorHandle, plan_file: Path) -> None:
    result = invoke(emulator, plan_file, "--output", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "dry-run" and doc["executed"] is False and doc["steps_total"] == 8
    assert [r["step"] for r in doc["requests"]] == list(range(1, 9))
    assert emulator.state()["migrate_requests"] == []


def test_execute_json(plan_file: Path) -> None:
    with run_emulator(apply_snapshot(), job_seconds=0.01) as emu:
        result = invoke(emu, plan_file, "--execute", "--poll-interval", "0.01", "--output", "json")
        assert result.exit_code == 0, result.stderr
        assert len(emu.state()["migrate_requests"]) == 8
    doc = json.loads(result.stdout)
    assert doc["status"] == "done" and doc["steps_done"] == 8 and len(doc["requests"]) == 8
    assert all(r["job_id"] for r in doc["requests"])
    assert doc["journal"] == str(plan_file) + ".journal.jsonl"
    assert "[8/8] step" in result.stderr   # one progress line per event when stderr is not a terminal


def test_a_stale_plan_exits_4_and_lists_the_changes(plan_file: Path) -> None:
    live = apply_snapshot()
    live["nodes"]["pool-a"][0]["metadata"]["annotations"]["os.modelarts.node/lock.action"] = "delete"
    with run_emulator(live) as emu:
        result = invoke(emu, plan_file, "--execute")
        assert result.exit_code == 4
        assert "the plan is stale; 1 change(s) matter to it:" in result.stderr
        assert "  - node a-00 (step 1) may not move: locked (delete)" in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("poolshift: error: the plan is stale: node a-00")
        as_json = invoke(emu, plan_file, "--output", "json")
        assert as_json.exit_code == 4
        assert json.loads(as_json.stdout)["changes"][0].startswith("node a-00 (step 1) may not move")
        assert emu.state()["migrate_requests"] == []


def test_a_failed_step_exits_6_naming_the_step_and_why(plan_file: Path) -> None:
    with run_emulator(apply_snapshot(), job_seconds=0.01, faults={"fail_nodes": ["a-02"]}) as emu:
        result = invoke(emu, plan_file, "--execute", "--poll-interval", "0.01")
        assert result.exit_code == 6
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith("poolshift: error: step 3 failed: job ")
        assert "ended Failed: node migration failed (injected fault)" in error
        assert "--execute --resume" in error and ".journal.jsonl" in error
        assert result.stdout.startswith("failed: 3/8 steps done, 1 failed")  # step 4 shared its wave
        again = invoke(emu, plan_file, "--execute", "--poll-interval", "0.01")
        assert again.exit_code == 2 and "pass --resume" in again.stderr
        emu.set_faults(fail_nodes=[])
        resumed = invoke(emu, plan_file, "--execute", "--resume", "--poll-interval", "0.01")
        assert resumed.exit_code == 0, resumed.stderr
        assert resumed.stdout.startswith("done: 8/8 steps done")


def test_a_held_lock_exits_7(emulator: EmulatorHandle, plan_file: Path) -> None:
    with run_lock(Path(str(plan_file) + ".journal.jsonl"), owner="cron job"):
        started = time.monotonic()
        result = invoke(emulator, plan_file, "--execute")
    assert result.exit_code == 7 and "cron job" in result.stderr
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(("args", "fragment"), [
    (["--max-parallel", "0"], "--max-parallel"),
    (["--poll-interval", "0"], "--poll-interval"),
    (["--job-timeout", "-1"], "--job-timeout"),
])
def test_bad_options_exit_2(emulator: EmulatorHandle, plan_file: Path, args: list[str], fragment: str) -> None:
    result = invoke(emulator, plan_file, *args)
    assert result.exit_code == 2 and fragment in result.stderr


def test_a_missing_plan_exits_2(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = invoke(emulator, tmp_path / "nope.json")
    assert result.exit_code == 2 and "file not found" in result.stderr


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(main, ["apply", "--help"])
    assert result.exit_code == 0
    for option in ("--execute", "--journal", "--resume", "--max-parallel", "--poll-interval", "--job-timeout",
                   "--keep-going", "--allow-drift", "--output", "--endpoint", "--region", "--project-id"):
        assert option in result.stdout


def test_a_held_project_lock_exits_7_naming_the_holder(emulator: EmulatorHandle, plan_file: Path,
                                                        private_lock_dir: Path) -> None:
    from planner.locks import project_lock

    with project_lock(emulator.project_id, emulator.region, "0", note="auto /var/lib/poolshift"):
        result = invoke(emulator, plan_file, "--execute")
        assert result.exit_code == 7, result.stderr
        assert f"pid {os.getpid()} auto /var/lib/poolshift" in result.stderr
        assert f"lock {private_lock_dir}" in result.stderr
        assert [r for r in emulator.requests() if r["method"] == "POST"] == []
        other = invoke(emulator, plan_file, "--execute", "--lock-dir", str(private_lock_dir / "elsewhere"),
                       "--poll-interval", "0.01")
        assert other.exit_code == 0, other.stderr   # another lock folder: another "host"


def test_lock_timeout_waits_for_the_holder_then_runs(emulator: EmulatorHandle, plan_file: Path) -> None:
    from planner.locks import project_lock

    holder = project_lock(emulator.project_id, emulator.region, "0", note="manual apply")
    holder.__enter__()
    timer = threading.Timer(0.5, lambda: holder.__exit__(None, None, None))
    timer.start()
    started = time.monotonic()
    result = invoke(emulator, plan_file, "--execute", "--lock-timeout", "30", "--poll-interval", "0.01")
    timer.join()
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started > 0.4
    assert len(emulator.state()["migrate_requests"]) == 8
