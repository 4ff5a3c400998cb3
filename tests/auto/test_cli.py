"""`poolshift auto` end to end through the CLI, against the emulator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from planner.auto import AUDIT_FILE, LOCK_FILE, cycle_lock, read_audit
from planner.cli import main
from tests.auto.conftest import StubApplier, write_spec
from tests.emulator_server import TEST_AK, TEST_SK, EmulatorHandle

pytestmark = pytest.mark.emulator

NOON = "2026-01-07T12:00:00Z"


@pytest.fixture(autouse=True)
def _stub_apply(monkeypatch: pytest.MonkeyPatch, stub_applier: StubApplier) -> None:
    monkeypatch.setattr("planner.auto.library_apply", stub_applier)


def auto(emu: EmulatorHandle, spec: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    command = ["auto", "--spec", str(spec), *emu.cli_args(), "--state-dir", str(spec.parent / "state"),
               "--now", NOON, *args]
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
    assert first.exit_code == 0 and as_json(first)["action"] == "executed"
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
    emulator.set_faults(next_errors=[500] * 10)
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
