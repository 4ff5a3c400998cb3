"""`poolshift auto` end to end through the CLI, against the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from planner.auto import AUDIT_FILE, LOCK_FILE, cycle_lock, read_audit
from planner.cli import main
from tests.auto.conftest import write_spec
from tests.emulator_server import TEST_AK, TEST_SK, EmulatorHandle, run_emulator, sample_snapshot

pytestmark = pytest.mark.emulator

NOON = "2026-01-07T12:00:00Z"


def auto(emu: EmulatorHandle, spec: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    command = ["auto", "--spec", str(spec), *emu.cli_args(), "--state-dir", str(spec.parent / "state"),
               "--now", NOON, "--poll-interval", "0.01", *args]
    result = CliRunner().invoke(main, command, env=env if env is not None else emu.env())
    for stream in (result.stdout, result.stderr):
        assert TEST_SK not in stream and TEST_AK not in stream
    return result


def as_json(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_json_output_of_a_dry_run(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = auto(emulator, write_spec(tmp_path), "--output", "json")
    assert result.exit_code == 0, result.stderr
    data = as_json(result)
    assert {k: data[k] for k in ("action", "deviation_before", "deviation_after", "moves", "outcome")} == {
        "action": "planned", "deviation_before": 8, "deviation_after": 0, "moves": 4, "outcome": "planned"}
    assert "dry-run" in data["reason"] and data["execute"] is False
    assert data == read_audit(tmp_path / "state" / AUDIT_FILE)[0]
    assert not emulator.machine.migrate_requests


def test_execute_then_nothing_to_do(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    first = auto(emulator, spec, "--execute", "--output", "json")
    assert first.exit_code == 0, first.stderr
    data = as_json(first)
    assert data["action"] == "executed" and data["steps_done"] == 1 and data["requests_sent"] == 1
    assert data["journal"] == data["plan"] + ".journal.jsonl"
    second = auto(emulator, spec, "--execute")
    assert second.exit_code == 0
    assert second.stdout.startswith("auto: none: nothing to do")
    assert len(emulator.machine.migrate_requests) == 1


def test_text_output_names_the_plan_and_audit(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = auto(emulator, write_spec(tmp_path))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("auto: planned: dry-run: would apply 4 moves in 1 request, deviation 8 -> 0")
    assert f"  plan: {tmp_path / 'state' / 'plans' / '20260107T120000Z.json'}" in lines
    assert lines[-1] == f"  audit: {tmp_path / 'state' / AUDIT_FILE}"


def test_gate_flags(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    assert as_json(auto(emulator, spec, "--min-improvement", "9", "--output", "json"))["action"] == "none"
    assert as_json(auto(emulator, spec, "--max-moves", "2", "--output", "json"))["moves"] == 2
    outside = as_json(auto(emulator, spec, "--execute", "--window", "sat,sun 00:00-24:00 UTC", "--output", "json"))
    assert outside["action"] == "planned" and outside["in_window"] is False
    frozen = as_json(auto(emulator, spec, "--execute", "--freeze", "--output", "json"))
    assert frozen["action"] == "none" and frozen["frozen_by"] == ["--freeze"]
    (tmp_path / "STOP").touch()
    stopped = as_json(auto(emulator, spec, "--execute", "--freeze-file", str(tmp_path / "STOP"), "--output", "json"))
    assert stopped["action"] == "none" and "frozen" in stopped["reason"]
    assert not emulator.machine.migrate_requests


def test_locked_cycle_exits_zero_quickly(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    (tmp_path / "state").mkdir()
    with cycle_lock(tmp_path / "state" / LOCK_FILE):
        t0 = time.perf_counter()
        result = auto(emulator, spec, "--execute", "--output", "json")
        assert time.perf_counter() - t0 < 2.0
    assert result.exit_code == 0
    data = as_json(result)
    assert data["action"] == "none" and data["locked"] is True
    assert data["reason"].startswith("another cycle is running")
    with cycle_lock(tmp_path / "state" / LOCK_FILE):
        plain = auto(emulator, spec, "--execute")
    assert plain.exit_code == 0 and plain.stdout.startswith("auto: none: another cycle is running")


def test_failed_pull_exits_5_with_json_and_one_error_line(emulator: EmulatorHandle, tmp_path: Path) -> None:
    emulator.set_faults(next_errors=[403])  # not retried: the test stays fast
    result = auto(emulator, write_spec(tmp_path), "--execute", "--output", "json")
    assert result.exit_code == 5
    data = as_json(result)
    assert (data["outcome"], data["stage"], data["action"]) == ("failed", "pull", "none")
    assert result.stderr.startswith("poolshift: error: ModelArts API GET")
    assert read_audit(tmp_path / "state" / AUDIT_FILE)[-1]["outcome"] == "failed"


def test_bad_auto_section_exits_2_naming_file_and_key(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, auto={"windows": [{"start": "22:00", "end": "06:00", "tz": "Berlin"}]})
    result = auto(emulator, spec)
    assert result.exit_code == 2
    assert f"poolshift: error: {spec}: auto.windows[0].tz: unknown time zone 'Berlin'" in result.stderr


def test_missing_credentials_are_audited(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = auto(emulator, write_spec(tmp_path), env={"HUAWEICLOUD_SDK_PROJECT_ID": emulator.project_id})
    assert result.exit_code == 2 and "no credentials" in result.stderr
    record = read_audit(tmp_path / "state" / AUDIT_FILE)[-1]
    assert (record["outcome"], record["stage"]) == ("failed", "pull")


@pytest.mark.parametrize(("args", "fragment"), [
    (["--window", "mon 22:00-06:00", "--any-time"], "--window or --any-time"),
    (["--window", "someday 22:00-06:00"], "--window"),
    (["--now", "yesterday"], "--now"),
])
def test_argument_errors(emulator: EmulatorHandle, tmp_path: Path, args: list[str], fragment: str) -> None:
    result = auto(emulator, write_spec(tmp_path), *args)
    assert result.exit_code == 2 and fragment in result.stderr


def test_failed_step_exits_6_and_is_audited(emulator: EmulatorHandle, tmp_path: Path) -> None:
    emulator.set_faults(fail_jobs=1)
    result = auto(emulator, write_spec(tmp_path), "--execute")
    assert result.exit_code == 6
    assert result.stderr.splitlines()[0].startswith("auto: failed: failed at apply: ")
    assert result.stderr.splitlines()[-1].startswith("poolshift: error: ")
    record = read_audit(tmp_path / "state" / AUDIT_FILE)[-1]
    assert (record["outcome"], record["stage"], record["steps_failed"]) == ("failed", "apply", [1])


def test_two_processes_started_together_never_both_act(tmp_path: Path) -> None:
    # jobs take 600 emulator seconds: the process that wins the lock waits for its job until time is advanced
    with run_emulator(sample_snapshot(), job_seconds=600) as emu:
        spec = write_spec(tmp_path)
        command = [sys.executable, "-c", "from planner.cli import main; main()", "auto", "--spec", str(spec),
                   *emu.cli_args(), "--state-dir", str(tmp_path / "state"), "--execute", "--poll-interval", "0.05",
                   "--output", "json"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "POOLSHIFT_"))}
        env.update(emu.env(), POOLSHIFT_LOCK_DIR=os.environ["POOLSHIFT_LOCK_DIR"])
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                     for _ in range(2)]
        try:
            deadline = time.monotonic() + 60
            while all(p.poll() is None for p in processes) and time.monotonic() < deadline:
                time.sleep(0.05)
            [loser] = [p for p in processes if p.poll() is not None]
            [winner] = [p for p in processes if p is not loser]
            out, err = loser.communicate(timeout=5)
            assert loser.returncode == 0, err
            data = json.loads(out)
            assert (data["action"], data["locked"]) == ("none", True)
            assert "another cycle is running" in data["reason"] and f"pid {winner.pid}" in data["reason"]
            while not emu.machine.migrate_requests and time.monotonic() < deadline:
                time.sleep(0.05)
            emu.advance(600)
            out, err = winner.communicate(timeout=60)
        finally:
            for p in processes:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        assert winner.returncode == 0, err
        assert json.loads(out)["action"] == "executed"
        assert len(emu.machine.migrate_requests) == 1
        assert sorted(r["action"] for r in read_audit(tmp_path / "state" / AUDIT_FILE)) == ["executed", "none"]


def test_sigterm_lets_the_step_in_flight_finish_and_starts_no_other(tmp_path: Path) -> None:
    with run_emulator(sample_snapshot(), job_seconds=600) as emu:
        spec = write_spec(tmp_path, limits={"max_batch_size": 2})  # 4 moves in 2 requests
        command = [sys.executable, "-c", "from planner.cli import main; main()", "auto", "--spec", str(spec),
                   *emu.cli_args(), "--state-dir", str(tmp_path / "state"), "--execute", "--max-parallel", "1",
                   "--poll-interval", "0.05", "--output", "json"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "POOLSHIFT_"))}
        env.update(emu.env(), POOLSHIFT_LOCK_DIR=os.environ["POOLSHIFT_LOCK_DIR"])
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            deadline = time.monotonic() + 60
            while not emu.machine.migrate_requests and time.monotonic() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            emu.advance(600)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 128 + signal.SIGTERM, err
    data = json.loads(out)
    assert (data["action"], data["outcome"]) == ("executed", "executed")
    assert (data["steps_done"], data["steps_total"], data["requests_sent"]) == (1, 2, 1)
    assert data["reason"].startswith("stopped by a signal after 1 of 2 steps")
    assert len(emu.machine.migrate_requests) == 1
    assert read_audit(tmp_path / "state" / AUDIT_FILE)[-1] == data


@pytest.mark.parametrize("execute", [False, True], ids=["dry-run", "execute"])
def test_a_wrong_secret_key_exits_5_at_once_after_one_request(emulator: EmulatorHandle, tmp_path: Path,
                                                             execute: bool) -> None:
    # issue 13.3: five failed AK/SK signatures lock the key for everyone using it; auto asks once and stops
    env = {**emulator.env(), "HUAWEICLOUD_SDK_SK": "sk-wrong-0000000000000000000000000000"}
    started = time.monotonic()
    result = auto(emulator, write_spec(tmp_path), *(["--execute"] if execute else []), env=env)
    elapsed = time.monotonic() - started
    assert result.exit_code == 5, result.output
    assert elapsed < 1.0, elapsed
    requests = emulator.requests()
    assert len(requests) == 1 and requests[0]["status"] == 401
    assert "HTTP 401" in result.stderr and "sk-wrong" not in result.stderr + result.stdout
    [record] = read_audit(tmp_path / "state" / AUDIT_FILE)
    assert (record["outcome"], record["stage"], record["error"]["exit_code"]) == ("failed", "pull", 5)


def test_an_apply_holding_the_project_lock_fails_an_executing_cycle_with_exit_7(emulator: EmulatorHandle,
                                                                                tmp_path: Path) -> None:
    from planner.locks import project_lock

    with project_lock(emulator.project_id, emulator.region, "0", note="apply /plans/manual.json"):
        result = auto(emulator, write_spec(tmp_path), "--execute", "--output", "json")
        dry = auto(emulator, write_spec(tmp_path), "--output", "json")   # a dry-run takes no project lock
    assert result.exit_code == 7, result.stderr
    data = as_json(result)
    assert (data["outcome"], data["stage"]) == ("failed", "project lock")
    assert "apply /plans/manual.json" in data["error"]["message"]
    assert emulator.state()["migrate_requests"] == []
    assert dry.exit_code == 0 and as_json(dry)["action"] == "planned"
