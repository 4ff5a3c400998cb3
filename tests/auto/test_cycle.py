"""One `auto` cycle against the emulator, through the library (`planner.auto.run_cycle`) and the real apply."""

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
    parse_window_option,
    read_audit,
    run_cycle,
)
from planner.errors import ApiError, ExecutionError, InputError, PlanningError
from planner.planfile import PlanDocument
from planner.planning.pipeline import make_plan
from tests.auto.conftest import BASE_SPEC, StubApplier, write_spec
from tests.emulator_server import TEST_AK, TEST_SK, EmulatorHandle, run_emulator, sample_snapshot

pytestmark = pytest.mark.emulator

# A Wednesday, 12:00 UTC
NOON = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def cycle(emu: EmulatorHandle, spec: Path, applier: StubApplier | None = None,
          stop: threading.Event | None = None, **options: Any) -> CycleResult:
    """Run one cycle against `emu` with `planner.apply` (or `applier`); apply polls every 10 ms."""
    options.setdefault("state_dir", spec.parent / "state")
    options.setdefault("now", NOON)
    options.setdefault("poll_interval", 0.01)
    return run_cycle(spec, lambda read_only: emu.client(read_only=read_only), region=emu.region,
                     options=AutoOptions(**options), applier=applier, stop=stop)


def sent(emu: EmulatorHandle) -> int:
    return len(emu.machine.migrate_requests)


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    return read_audit(tmp_path / "state" / AUDIT_FILE)


def test_dry_run_plans_and_sends_nothing(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = cycle(emulator, write_spec(tmp_path))
    assert result.error is None, result.reason
    assert (result.action, result.outcome) == ("planned", "planned")
    assert "dry-run" in result.reason and "--execute" in result.reason
    assert (result.steps_total, result.steps_done, result.requests_sent) == (1, 0, 0)
    assert sent(emulator) == 0
    record = result.record()
    assert (record["deviation_before"], record["deviation_after"], record["moves"]) == (8, 0, 4)
    assert result.plan_path == tmp_path / "state" / "plans" / "20260107T120000Z.json"
    assert result.plan_path.is_file()
    [line] = audit(tmp_path)
    assert line == record
    assert line["time"] == "2026-01-07T12:00:00Z"
    assert line["inventory_fingerprint"].startswith("sha256:") and line["spec_fingerprint"].startswith("sha256:")
    assert line["plan_summary"]["status"] == "OPTIMAL"
    assert (tmp_path / "state" / METRICS_FILE).is_file()
    assert (tmp_path / "state" / LOCK_FILE).is_file()


def test_repeated_cycles_converge_then_act_no_more(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, auto={"max_moves_per_cycle": 1})
    optimum = make_plan(sample_snapshot(), BASE_SPEC).document.summary.deviation_after
    deviations = []
    for _ in range(8):
        result = cycle(emulator, spec, execute=True)
        assert result.error is None, result.reason
        if result.action == "none":
            break
        assert result.action == "executed" and result.record()["moves"] == 1
        assert (result.steps_done, result.requests_sent) == (1, 1)
        assert result.journal is not None and Path(result.journal).is_file()
        deviations.append(result.record()["deviation_after"])
    assert deviations == [6, 4, 2, 0] and deviations[-1] == optimum
    assert result.action == "none" and "nothing to do" in result.reason
    assert sent(emulator) == 4
    again = cycle(emulator, spec, execute=True)
    assert again.action == "none" and again.plan_path is None and sent(emulator) == 4
    assert [r["action"] for r in audit(tmp_path)] == ["executed"] * 4 + ["none", "none"]
    assert len(list((tmp_path / "state" / "plans").glob("*.json"))) == 4


def test_converges_with_a_super_node_and_two_pool_pairs(emulator: EmulatorHandle, tmp_path: Path) -> None:
    pools = {"pool-src": {"target": 3}, "pool-dst": {"target": 8}, "pool-lite-a": {"target": 2},
             "pool-lite-b": {"target": 4}}
    spec = write_spec(tmp_path, pools=pools, auto={"max_moves_per_cycle": 4})
    optimum = make_plan(sample_snapshot(), {**BASE_SPEC, "pools": pools}).document.summary.deviation_after
    results = [cycle(emulator, spec, execute=True) for _ in range(5)]
    assert [r.error for r in results] == [None] * 5
    # 9 moves: the super node of 4 whole in one cycle, the 5 CPU nodes in two more
    assert [r.action for r in results] == ["executed"] * 3 + ["none"] * 2
    assert [r.record()["moves"] for r in results] == [4, 4, 1, 0, 0]
    assert results[-1].record()["deviation_after"] == optimum == 2
    assert sent(emulator) == 3


def test_threshold_stops_action(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, auto={"min_improvement": 9})
    result = cycle(emulator, spec, execute=True)
    assert result.action == "none" and result.error is None
    assert "lowers the deviation by 8" in result.reason and "threshold 9" in result.reason
    assert result.plan_path is None and sent(emulator) == 0
    # the flag overrides the spec
    assert cycle(emulator, spec, execute=True, min_improvement=8).action == "executed"


def test_cap_limits_moves_per_cycle(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, limits={"max_moves": 10})
    result = cycle(emulator, spec, execute=True, max_moves=3)
    assert result.action == "executed", result.reason
    assert result.record()["moves"] == 3 and result.record()["deviation_after"] == 2
    assert sum(len(r["body"]["migrateNodeNames"]) for r in emulator.machine.migrate_requests) == 3
    assert result.gates is not None and result.gates.max_moves == 3
    assert "max_moves: 10" in spec.read_text()  # the spec file is never changed


def test_windows_stop_action_outside(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, auto={"windows": [
        {"days": ["mon-fri"], "start": "22:00", "end": "06:00", "tz": "Europe/Berlin"}]})
    result = cycle(emulator, spec, execute=True)  # Wednesday 13:00 in Berlin
    assert (result.action, result.in_window, result.error) == ("planned", False, None)
    assert "outside the time windows" in result.reason and "mon,tue,wed,thu,fri 22:00-06:00" in result.reason
    assert result.plan_path is not None and result.plan_path.is_file()  # it still plans
    assert result.steps_total == 0 and sent(emulator) == 0  # but does not even dry-run
    # Saturday 04:30 in Berlin is inside Friday night's window
    result = cycle(emulator, spec, execute=True, now=datetime(2026, 1, 10, 3, 30, tzinfo=UTC))
    assert (result.action, result.in_window) == ("executed", True)
    assert sent(emulator) == 1


def test_window_flags(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, auto={"windows": [{"start": "00:00", "end": "01:00"}]})
    assert cycle(emulator, spec).in_window is False
    result = cycle(emulator, spec, windows=(parse_window_option("wed 11:00-13:00 UTC"),))
    assert result.action == "planned" and result.in_window and result.steps_total == 1
    assert cycle(emulator, spec, windows=()).in_window  # --any-time


def test_freeze_file_stops_everything(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, auto={"freeze_file": "FREEZE"})
    (tmp_path / "FREEZE").write_text("incident 42\n")
    result = cycle(emulator, spec, execute=True)
    assert (result.action, result.error) == ("none", None)
    assert result.frozen_by == [f"file {tmp_path / 'FREEZE'}"] and "frozen" in result.reason
    assert result.summary is None and result.plan_path is None and sent(emulator) == 0
    (tmp_path / "FREEZE").unlink()
    assert cycle(emulator, spec, execute=True).action == "executed"


def test_freeze_flag(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = cycle(emulator, write_spec(tmp_path), execute=True, freeze=True)
    assert result.action == "none" and result.frozen_by == ["--freeze"]
    assert result.plan_path is None and sent(emulator) == 0


def _frozen_snapshot() -> dict[str, Any]:
    snapshot = sample_snapshot()
    pool = next(p for p in snapshot["pools"] if p["metadata"]["name"] == "pool-wide")
    pool["metadata"]["labels"]["poolshift/freeze"] = "true"
    return snapshot


@pytest.mark.parametrize("emulator_snapshot", [_frozen_snapshot()])
def test_freeze_label_on_any_pool_stops_action(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = cycle(emulator, write_spec(tmp_path), execute=True)
    assert result.action == "none" and result.error is None
    assert result.frozen_by == ["label poolshift/freeze on pool pool-wide"]
    assert result.inventory_fingerprint is not None  # it did read the inventory
    assert result.plan_path is None and sent(emulator) == 0


def test_lock_held_by_another_cycle(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    with cycle_lock(state / LOCK_FILE):
        t0 = time.perf_counter()
        result = cycle(emulator, spec, execute=True)
        assert time.perf_counter() - t0 < 1.0
    assert (result.action, result.locked, result.error, result.exit_code) == ("none", True, None, 0)
    assert result.reason.startswith("another cycle is running") and f"pid {__import__('os').getpid()}" in result.reason
    assert result.plan_path is None and sent(emulator) == 0
    [record] = audit(tmp_path)
    assert record["locked"] is True and record["action"] == "none" and record["stage"] == "lock"
    assert not (state / METRICS_FILE).exists()  # the running cycle owns the metrics


def test_two_cycles_started_together_never_both_act(tmp_path: Path) -> None:
    # jobs take 600 emulator seconds, so the cycle that wins the lock waits for its job until time is advanced
    with run_emulator(sample_snapshot(), job_seconds=600) as emu:
        spec = write_spec(tmp_path)
        barrier = threading.Barrier(2)
        results: list[CycleResult] = []

        def go() -> None:
            barrier.wait()
            results.append(cycle(emu, spec, execute=True, job_timeout=60))

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while (len(results) < 1 or sent(emu) < 1) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [r.locked for r in results] == [True]  # the loser is done while the winner still waits
        emu.advance(600)
        for t in threads:
            t.join(20)
        assert sorted(r.action for r in results) == ["executed", "none"]
        assert [r.locked for r in results] == [True, False]
        assert sent(emu) == 1
        assert sorted(r["action"] for r in audit(tmp_path)) == ["executed", "none"]


def test_failed_job_leaves_an_audit_record(emulator: EmulatorHandle, tmp_path: Path) -> None:
    emulator.set_faults(fail_jobs=1)
    result = cycle(emulator, write_spec(tmp_path), execute=True)
    assert isinstance(result.error, ExecutionError) and result.exit_code == 6
    assert (result.outcome, result.stage, result.action) == ("failed", "apply", "executed")
    [record] = audit(tmp_path)
    assert record["outcome"] == "failed" and record["stage"] == "apply"
    assert record["error"]["type"] == "ApplyFailedError" and record["error"]["exit_code"] == 6
    assert record["error"]["step_id"] == 1
    assert record["reason"].startswith("failed at apply: ")
    assert record["steps_failed"] == [1] and record["requests_sent"] == 1
    assert record["plan"] is not None and record["journal"] == record["plan"] + ".journal.jsonl"
    assert Path(record["journal"]).is_file()
    metrics = (tmp_path / "state" / METRICS_FILE).read_text()
    assert 'poolshift_auto_last_outcome{outcome="failed"} 1' in metrics
    # the next cycle re-plans from the live inventory (the failed job put the nodes back) and succeeds
    assert cycle(emulator, write_spec(tmp_path), execute=True).action == "executed"


def test_stale_plan_is_audited(emulator: EmulatorHandle, tmp_path: Path) -> None:
    # the applier sees another inventory than the planner did: a node of the plan has left its pool
    from planner.auto import library_apply

    def move_then_apply(plan: PlanDocument, *args: Any, **kwargs: Any) -> Any:
        node = plan.steps[0].nodes[0]
        with emulator.client() as client:
            client.migrate_nodes("pool-src", {"migrateNodeNames": [node], "fromClusterName": "pool-src",
                                              "toClusterName": "pool-dst", "toPoolName": "pool-dst",
                                              "resourceSpec": {"flavor": "modelarts.vm.cpu.8u"}})
        return library_apply(plan, *args, **kwargs)

    result = cycle(emulator, write_spec(tmp_path), move_then_apply, execute=True)  # type: ignore[arg-type]
    assert result.exit_code == 4 and result.stage == "apply" and result.action == "planned"
    assert audit(tmp_path)[0]["error"]["type"] == "StalePlanError"
    assert sent(emulator) == 1  # only the test's own request


def test_stop_signal_before_apply_sends_nothing(emulator: EmulatorHandle, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    result = cycle(emulator, write_spec(tmp_path), stop=stop, execute=True)
    assert result.error is None and result.action == "planned"
    assert result.reason.startswith("stopped by a signal after 0 of 1 steps")
    assert sent(emulator) == 0


def test_failed_pull_leaves_an_audit_record(emulator: EmulatorHandle, tmp_path: Path) -> None:
    emulator.set_faults(next_errors=[403])
    result = cycle(emulator, write_spec(tmp_path), execute=True)
    assert isinstance(result.error, ApiError) and result.exit_code == 5
    [record] = audit(tmp_path)
    assert (record["outcome"], record["stage"], record["action"]) == ("failed", "pull", "none")
    assert "HTTP 403" in record["error"]["message"]


def test_failed_plan_leaves_an_audit_record(emulator: EmulatorHandle, tmp_path: Path) -> None:
    # pool-dst must grow to 6, but the cap allows 1 move per cycle: no feasible placement
    spec = write_spec(tmp_path, pools={"pool-src": {"target": 5}, "pool-dst": {"target": 6, "min": 6}})
    result = cycle(emulator, spec, execute=True, max_moves=1)
    assert isinstance(result.error, PlanningError) and result.exit_code == 3
    assert "per-cycle cap of 1" in str(result.error)
    [record] = audit(tmp_path)
    assert (record["outcome"], record["stage"]) == ("failed", "plan")


def test_bad_auto_section_leaves_an_audit_record(emulator: EmulatorHandle, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, auto={"windows": [{"days": ["someday"], "start": "22:00", "end": "06:00"}],
                                      "state_dir": "mystate"})
    result = cycle(emulator, spec, state_dir=None)
    assert isinstance(result.error, InputError) and result.exit_code == 2
    assert result.error.path == "auto.windows[0].days[0]" and result.error.source == str(spec)
    [record] = read_audit(tmp_path / "mystate" / AUDIT_FILE)  # auto.state_dir is relative to the spec
    assert (record["outcome"], record["stage"]) == ("failed", "spec")


def test_missing_spec_file_is_audited_in_the_state_dir(tmp_path: Path) -> None:
    def no_client(read_only: bool) -> Any:
        raise AssertionError("a cycle without a spec must not connect")

    result = run_cycle(tmp_path / "nope.yaml", no_client, region="cn-north-4",
                       options=AutoOptions(state_dir=tmp_path / "state"))
    assert isinstance(result.error, InputError) and "file not found" in str(result.error)
    assert audit(tmp_path)[0]["stage"] == "spec"


def test_injected_applier_and_its_failures(emulator: EmulatorHandle, tmp_path: Path) -> None:
    applier = StubApplier(error=ExecutionError("step 1 failed: job Failed", step_id=1, journal="j.jsonl"))
    result = cycle(emulator, write_spec(tmp_path), applier, execute=True)
    assert applier.calls[0]["execute"] is True
    assert applier.calls[0]["journal"] == result.plan_path.with_name(  # type: ignore[union-attr]
        result.plan_path.name + ".journal.jsonl")  # type: ignore[union-attr]
    assert result.record()["error"] == {"type": "ExecutionError", "exit_code": 6,
                                        "message": "step 1 failed: job Failed", "step_id": 1}
    assert result.journal == "j.jsonl"


def test_records_metrics_and_messages_hold_no_secret(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cycle(emulator, write_spec(tmp_path), execute=True)
    emulator.set_faults(next_errors=[401])
    cycle(emulator, write_spec(tmp_path), execute=True)
    files = [path for path in (tmp_path / "state").rglob("*") if path.is_file()]
    assert len(files) >= 5  # lock, audit, metrics, plan, journal
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert TEST_SK not in text and TEST_AK not in text, path


def test_metrics_file_format(emulator: EmulatorHandle, tmp_path: Path) -> None:
    metrics_path = tmp_path / "textfile" / "poolshift.prom"
    metrics_path.parent.mkdir()
    cycle(emulator, write_spec(tmp_path), execute=True, metrics_file=metrics_path)
    text = metrics_path.read_text()
    assert text.endswith("\n")
    samples = _parse_prometheus(text)
    assert samples['poolshift_auto_last_outcome{outcome="executed"}'] == 1
    assert samples['poolshift_auto_last_outcome{outcome="failed"}'] == 0
    assert samples['poolshift_auto_deviation{when="before"}'] == 8
    assert samples['poolshift_auto_deviation{when="after"}'] == 0
    assert samples["poolshift_auto_moves"] == 4 and samples["poolshift_auto_requests_sent"] == 1
    assert samples["poolshift_auto_frozen"] == 0
    assert samples["poolshift_auto_last_run_timestamp_seconds"] >= NOON.timestamp()
    success = samples["poolshift_auto_last_success_timestamp_seconds"]
    # a failed cycle keeps the time of the last success
    emulator.set_faults(next_errors=[500] * 10)
    cycle(emulator, write_spec(tmp_path), execute=True, metrics_file=metrics_path,
          now=datetime(2026, 1, 7, 13, 0, tzinfo=UTC))
    samples = _parse_prometheus(metrics_path.read_text())
    assert samples['poolshift_auto_last_outcome{outcome="failed"}'] == 1
    assert samples["poolshift_auto_last_success_timestamp_seconds"] == success
    assert not any(key.startswith("poolshift_auto_deviation") for key in samples)


def test_unwritable_metrics_file_fails_the_cycle_but_is_audited(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = cycle(emulator, write_spec(tmp_path), metrics_file=tmp_path / "missing" / "m.prom")
    assert result.exit_code == 2 and result.stage == "metrics"
    assert audit(tmp_path)[0]["messages"][-1].startswith("metrics not written")


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
