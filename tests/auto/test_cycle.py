"""One `auto` cycle against the emulator, through the library (`planner.auto.run_cycle`).

These tests inject a stand-in for `planner.apply` (see conftest.StubApplier); the CLI tests run the real one.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from planner.auto import (
    AUDIT_FILE,
    LOCK_FILE,
    METRICS_FILE,
    AutoOptions,
    CycleResult,
    cycle_lock,
    read_audit,
    run_cycle,
)
from planner.errors import ApiError, ExecutionError, InputError, PlanningError
from planner.pipeline import make_plan
from tests.auto.conftest import BASE_SPEC, StubApplier, write_spec
from tests.emulator_server import TEST_AK, TEST_SK, EmulatorHandle, sample_snapshot

pytestmark = pytest.mark.emulator

# A Wednesday, 12:00 UTC
NOON = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def cycle(emu: EmulatorHandle, spec: Path, applier: StubApplier, **options: Any) -> CycleResult:
    options.setdefault("state_dir", spec.parent / "state")
    options.setdefault("now", NOON)
    return run_cycle(spec, lambda read_only: emu.client(read_only=read_only), region=emu.region,
                     options=AutoOptions(**options), applier=applier)


def sent(emu: EmulatorHandle) -> int:
    return len(emu.machine.migrate_requests)


def test_dry_run_plans_and_sends_nothing(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    result = cycle(emulator, write_spec(tmp_path), stub_applier)
    assert result.error is None
    assert (result.action, result.outcome) == ("planned", "planned")
    assert "dry-run" in result.reason and "--execute" in result.reason
    assert stub_applier.calls[0]["execute"] is False
    assert sent(emulator) == 0
    record = result.record()
    assert (record["deviation_before"], record["deviation_after"], record["moves"]) == (8, 0, 4)
    assert result.plan_path is not None and result.plan_path.parent == tmp_path / "state" / "plans"
    assert result.plan_path.name == "20260107T120000Z.json"
    assert result.plan_path.is_file()
    [audit] = read_audit(tmp_path / "state" / AUDIT_FILE)
    assert audit == record
    assert audit["time"] == "2026-01-07T12:00:00Z"
    assert audit["inventory_fingerprint"].startswith("sha256:") and audit["spec_fingerprint"].startswith("sha256:")
    assert audit["plan_summary"]["status"] == "OPTIMAL"
    assert (tmp_path / "state" / METRICS_FILE).is_file()
    assert (tmp_path / "state" / LOCK_FILE).is_file()


def test_repeated_cycles_converge_then_act_no_more(emulator: EmulatorHandle, tmp_path: Path,
                                                   stub_applier: StubApplier) -> None:
    spec = write_spec(tmp_path, auto={"max_moves_per_cycle": 1})
    optimum = make_plan(sample_snapshot(), BASE_SPEC).document["summary"]["deviation_after"]
    deviations = []
    for _ in range(8):
        result = cycle(emulator, spec, stub_applier, execute=True)
        assert result.error is None, result.reason
        if result.action == "none":
            break
        assert result.action == "executed" and result.record()["moves"] == 1
        deviations.append(result.record()["deviation_after"])
    assert deviations == [6, 4, 2, 0] and deviations[-1] == optimum
    assert result.action == "none" and "nothing to do" in result.reason
    before = sent(emulator)
    assert before == 4
    again = cycle(emulator, spec, stub_applier, execute=True)
    assert again.action == "none" and sent(emulator) == before
    assert len(stub_applier.calls) == 4  # the converged cycles never called apply
    actions = [r["action"] for r in read_audit(tmp_path / "state" / AUDIT_FILE)]
    assert actions == ["executed"] * 4 + ["none", "none"]


def test_threshold_stops_action(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    spec = write_spec(tmp_path, auto={"min_improvement": 9})
    result = cycle(emulator, spec, stub_applier, execute=True)
    assert result.action == "none" and result.error is None
    assert "lowers the deviation by 8" in result.reason and "threshold 9" in result.reason
    assert result.plan_path is None and not stub_applier.calls and sent(emulator) == 0
    # the flag overrides the spec
    assert cycle(emulator, spec, stub_applier, execute=True, min_improvement=8).action == "executed"


def test_cap_limits_moves_per_cycle(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    spec = write_spec(tmp_path, limits={"max_moves": 10})
    result = cycle(emulator, spec, stub_applier, execute=True, max_moves=3)
    assert result.action == "executed"
    assert result.record()["moves"] == 3 and result.record()["deviation_after"] == 2
    moved = sum(len(r["body"]["migrateNodeNames"]) for r in emulator.machine.migrate_requests)
    assert moved == 3
    assert result.gates is not None and result.gates.max_moves == 3
    assert "max_moves: 10" in spec.read_text()  # the spec file is never changed


def test_windows_stop_action_outside(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    spec = write_spec(tmp_path, auto={"windows": [
        {"days": ["mon-fri"], "start": "22:00", "end": "06:00", "tz": "Europe/Berlin"}]})
    result = cycle(emulator, spec, stub_applier, execute=True)  # Wednesday 13:00 in Berlin
    assert (result.action, result.in_window, result.error) == ("planned", False, None)
    assert "outside the time windows" in result.reason and "mon,tue,wed,thu,fri 22:00-06:00" in result.reason
    assert result.plan_path is not None and result.plan_path.is_file()  # it still plans
    assert not stub_applier.calls and sent(emulator) == 0
    # Saturday 04:30 in Berlin is inside Friday night's window
    night = datetime(2026, 1, 10, 3, 30, tzinfo=UTC)
    result = cycle(emulator, spec, stub_applier, execute=True, now=night)
    assert (result.action, result.in_window) == ("executed", True)
    assert sent(emulator) == 1


def test_window_flags(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    from planner.auto import parse_window_option

    spec = write_spec(tmp_path, auto={"windows": [{"start": "00:00", "end": "01:00"}]})
    result = cycle(emulator, spec, stub_applier, windows=(parse_window_option("wed 11:00-13:00 UTC"),))
    assert result.action == "planned" and result.in_window and stub_applier.calls
    assert cycle(emulator, spec, stub_applier, windows=()).in_window  # --any-time


def test_freeze_file_stops_everything(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    spec = write_spec(tmp_path, auto={"freeze_file": "FREEZE"})
    (tmp_path / "FREEZE").write_text("incident 42\n")
    result = cycle(emulator, spec, stub_applier, execute=True)
    assert (result.action, result.error) == ("none", None)
    assert result.frozen_by == [f"file {tmp_path / 'FREEZE'}"] and "frozen" in result.reason
    assert result.summary is None and result.plan_path is None and not stub_applier.calls and sent(emulator) == 0
    (tmp_path / "FREEZE").unlink()
    assert cycle(emulator, spec, stub_applier, execute=True).action == "executed"


def test_freeze_flag(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    result = cycle(emulator, write_spec(tmp_path), stub_applier, execute=True, freeze=True)
    assert result.action == "none" and result.frozen_by == ["--freeze"]
    assert not stub_applier.calls and sent(emulator) == 0


def _frozen_snapshot() -> dict[str, Any]:
    snapshot = sample_snapshot()
    pool = next(p for p in snapshot["pools"] if p["metadata"]["name"] == "pool-wide")
    pool["metadata"]["labels"]["poolshift/freeze"] = "true"
    return snapshot


@pytest.mark.parametrize("emulator_snapshot", [_frozen_snapshot()])
def test_freeze_label_on_any_pool_stops_action(emulator: EmulatorHandle, tmp_path: Path,
                                               stub_applier: StubApplier) -> None:
    result = cycle(emulator, write_spec(tmp_path), stub_applier, execute=True)
    assert result.action == "none" and result.error is None
    assert result.frozen_by == ["label poolshift/freeze on pool pool-wide"]
    assert result.inventory_fingerprint is not None  # it did read the inventory
    assert not stub_applier.calls and sent(emulator) == 0


def test_lock_held_by_another_cycle(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    spec = write_spec(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    with cycle_lock(state / LOCK_FILE):
        t0 = time.perf_counter()
        result = cycle(emulator, spec, stub_applier, execute=True)
        assert time.perf_counter() - t0 < 1.0
    assert (result.action, result.locked, result.error, result.exit_code) == ("none", True, None, 0)
    assert result.reason.startswith("another cycle is running") and "pid" in result.reason
    assert not stub_applier.calls and sent(emulator) == 0
    [record] = read_audit(state / AUDIT_FILE)
    assert record["locked"] is True and record["action"] == "none"
    assert not (state / METRICS_FILE).exists()  # the running cycle owns the metrics


def test_two_cycles_started_together_never_both_act(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    release = threading.Event()
    appliers = [StubApplier(hold=release), StubApplier(hold=release)]
    barrier = threading.Barrier(2)
    results: list[CycleResult] = []

    def go(applier: StubApplier) -> None:
        barrier.wait()
        results.append(cycle(emulator, spec, applier, execute=True))

    threads = [threading.Thread(target=go, args=(a,)) for a in appliers]
    for t in threads:
        t.start()
    while len(results) < 1:  # the loser returns while the winner is still applying
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(10)
    assert sorted(r.action for r in results) == ["executed", "none"]
    assert [r.locked for r in results] == [True, False]
    assert sum(bool(a.calls) for a in appliers) == 1
    assert sent(emulator) == 1


def test_failed_apply_leaves_an_audit_record(emulator: EmulatorHandle, tmp_path: Path) -> None:
    journal = str(tmp_path / "state" / "plans" / "x.journal")
    applier = StubApplier(error=ExecutionError("step 1 failed: job Failed", step_id=1, journal=journal))
    result = cycle(emulator, write_spec(tmp_path), applier, execute=True)
    assert result.outcome == "failed" and result.exit_code == 6 and result.stage == "apply"
    [record] = read_audit(tmp_path / "state" / AUDIT_FILE)
    assert record["outcome"] == "failed" and record["stage"] == "apply"
    assert record["error"] == {"type": "ExecutionError", "exit_code": 6, "message": "step 1 failed: job Failed",
                               "step_id": 1}
    assert record["reason"] == "failed at apply: step 1 failed: job Failed"
    assert record["plan"] is not None
    metrics = (tmp_path / "state" / METRICS_FILE).read_text()
    assert 'poolshift_auto_last_outcome{outcome="failed"} 1' in metrics


def test_failed_pull_leaves_an_audit_record(emulator: EmulatorHandle, tmp_path: Path,
                                            stub_applier: StubApplier) -> None:
    emulator.set_faults(next_errors=[403])
    result = cycle(emulator, write_spec(tmp_path), stub_applier, execute=True)
    assert isinstance(result.error, ApiError) and result.exit_code == 5
    [record] = read_audit(tmp_path / "state" / AUDIT_FILE)
    assert (record["outcome"], record["stage"], record["action"]) == ("failed", "pull", "none")
    assert "HTTP 403" in record["error"]["message"]


def test_failed_plan_leaves_an_audit_record(emulator: EmulatorHandle, tmp_path: Path,
                                            stub_applier: StubApplier) -> None:
    # pool-dst must grow to 6, but the cap allows 1 move per cycle: no feasible placement
    spec = write_spec(tmp_path, pools={"pool-src": {"target": 5}, "pool-dst": {"target": 6, "min": 6}})
    result = cycle(emulator, spec, stub_applier, execute=True, max_moves=1)
    assert isinstance(result.error, PlanningError) and result.exit_code == 3
    assert "per-cycle cap of 1" in str(result.error)
    [record] = read_audit(tmp_path / "state" / AUDIT_FILE)
    assert (record["outcome"], record["stage"]) == ("failed", "plan")


def test_bad_auto_section_leaves_an_audit_record(emulator: EmulatorHandle, tmp_path: Path,
                                                 stub_applier: StubApplier) -> None:
    spec = write_spec(tmp_path, auto={"windows": [{"days": ["someday"], "start": "22:00", "end": "06:00"}],
                                      "state_dir": "mystate"})
    result = cycle(emulator, spec, stub_applier, state_dir=None)
    assert isinstance(result.error, InputError) and result.exit_code == 2
    assert result.error.path == "auto.windows[0].days[0]" and result.error.source == str(spec)
    [record] = read_audit(tmp_path / "mystate" / AUDIT_FILE)  # auto.state_dir is relative to the spec
    assert (record["outcome"], record["stage"]) == ("failed", "spec")


def test_missing_spec_file_is_audited_in_the_state_dir(tmp_path: Path, stub_applier: StubApplier) -> None:
    def no_client(read_only: bool) -> Any:
        raise AssertionError("a cycle without a spec must not connect")

    result = run_cycle(tmp_path / "nope.yaml", no_client, region="cn-north-4",
                       options=AutoOptions(state_dir=tmp_path / "state"), applier=stub_applier)
    assert isinstance(result.error, InputError) and "file not found" in str(result.error)
    assert read_audit(tmp_path / "state" / AUDIT_FILE)[0]["stage"] == "spec"


def test_records_metrics_and_messages_hold_no_secret(emulator: EmulatorHandle, tmp_path: Path,
                                                     stub_applier: StubApplier) -> None:
    cycle(emulator, write_spec(tmp_path), stub_applier, execute=True)
    emulator.set_faults(next_errors=[401])
    cycle(emulator, write_spec(tmp_path), stub_applier, execute=True)
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert TEST_SK not in text and TEST_AK not in text, path


def test_metrics_file_format(emulator: EmulatorHandle, tmp_path: Path, stub_applier: StubApplier) -> None:
    metrics_path = tmp_path / "textfile" / "poolshift.prom"
    metrics_path.parent.mkdir()
    cycle(emulator, write_spec(tmp_path), stub_applier, execute=True, metrics_file=metrics_path)
    text = metrics_path.read_text()
    assert text.endswith("\n")
    samples = _parse_prometheus(text)
    assert samples['poolshift_auto_last_outcome{outcome="executed"}'] == 1
    assert samples['poolshift_auto_last_outcome{outcome="failed"}'] == 0
    assert samples['poolshift_auto_deviation{when="before"}'] == 8
    assert samples['poolshift_auto_deviation{when="after"}'] == 0
    assert samples["poolshift_auto_moves"] == 4 and samples["poolshift_auto_requests_sent"] == 1
    assert samples["poolshift_auto_last_run_timestamp_seconds"] >= NOON.timestamp()
    success = samples["poolshift_auto_last_success_timestamp_seconds"]
    # a failed cycle keeps the time of the last success
    emulator.set_faults(next_errors=[500] * 10)
    cycle(emulator, write_spec(tmp_path), stub_applier, execute=True, metrics_file=metrics_path,
          now=datetime(2026, 1, 7, 13, 0, tzinfo=UTC))
    samples = _parse_prometheus(metrics_path.read_text())
    assert samples['poolshift_auto_last_outcome{outcome="failed"}'] == 1
    assert samples["poolshift_auto_last_success_timestamp_seconds"] == success
    assert "poolshift_auto_deviation" not in "".join(k for k in samples)


def _parse_prometheus(text: str) -> dict[str, float]:
    """Check the text exposition structure (HELP and TYPE before samples) and return the samples."""
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter")
            typed.add(name)
            continue
        key, value = line.rsplit(" ", 1)
        assert key.split("{")[0] in typed, line
        samples[key] = float(value)
    return samples
