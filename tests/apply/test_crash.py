"""`poolshift apply --execute` killed (SIGKILL) at seeded random points, then `--resume`: every node ends where
the plan puts it and the API accepted exactly one batch-migrate per step. Also SIGTERM: a clean stop.

Each point runs the real CLI in a child process against an emulator thread in this process. The kill point is
drawn from a seeded RNG as (number of journal records written, extra delay); batch-migrate answers are held
back 40 ms after the emulator accepted the request, so many kills land between acceptance and the
`submitted` record, the window the resume must resolve by asking the API.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planner.planfile import read_plan
from tests.apply.conftest import apply_snapshot, make_apply_plan, write_plan_data
from tests.apply.helpers import accepted_per_step, last_event, placement_problems, record_requests
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261128
POINTS = 20
FULL_RUN_RECORDS = 26          # start + 8 steps x (submitting, submitted, succeeded) + finished


def _cli(emu: EmulatorHandle, plan_file: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "POOLSHIFT_"))}
    env.update(emu.env())
    env["PYTHONPATH"] = str(ROOT)
    env["POOLSHIFT_LOCK_DIR"] = str(plan_file.parent / "locks")  # points run in parallel, each its own project lock
    cmd = [sys.executable, "-c", "from planner.cli import main; main()", "apply", str(plan_file),
           *emu.cli_args(), "--execute", "--poll-interval", "0.02", "--output", "json", *extra]
    return subprocess.Popen(cmd, env=env, cwd=plan_file.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _records(journal: Path) -> int:
    try:
        return journal.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_when(proc: subprocess.Popen[str], journal: Path, records: int, delay: float) -> bool:
    """SIGKILL `proc` `delay` seconds after the journal holds `records` records; False if it ended first."""
    deadline = time.monotonic() + 30
    while proc.poll() is None and _records(journal) < records and time.monotonic() < deadline:
        time.sleep(0.002)
    if delay:
        time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return killed


@dataclass
class Point:
    """One kill point (shared with tests/apply/test_drain_crash.py) and what happened there."""

    index: int
    records: int
    delay: float
    kill_resume_too: bool
    killed: int = 0
    window: str = ""       # where the first kill landed (this module)
    lost_drains: int = 0   # drains lost with a killed run (the drain test)


def draw_points(seed: int, count: int, full_run_records: int) -> list[Point]:
    """`count` seeded kill points spread over a run's journal: a record count, an extra delay, and whether the
    resumed run is killed too."""
    rng = random.Random(seed)
    return [Point(i, rng.randint(0, full_run_records - 1), rng.choice([0.0, rng.uniform(0, 0.06)]),
                  rng.random() < 0.25) for i in range(count)]


def kill_run(emu: EmulatorHandle, plan_file: Path, journal: Path, point: Point, rng: random.Random,
             most_more_records: int, after_first: Callable[[], None] = lambda: None) -> None:
    """Kill the run at `point`; then, if the point says so, kill its resume too, 1 to `most_more_records` records
    later (`after_first` runs between the two)."""
    point.killed += _kill_when(_cli(emu, plan_file), journal, point.records, point.delay)
    after_first()
    if point.kill_resume_too:
        again = _records(journal) + rng.randint(1, most_more_records)
        point.killed += _kill_when(_cli(emu, plan_file, "--resume"), journal, again, rng.uniform(0, 0.05))


def _window(journal: Path, state: dict[str, Any], plan: dict[str, Any]) -> str:
    """Where the first kill landed, for the record: which step states the journal was left in."""
    last = last_event(journal) if journal.exists() else {}
    accepted = accepted_per_step(state, plan)
    if not journal.exists():
        return "before the journal"
    open_steps = [s for s, e in last.items() if e == "submitting"]
    if any(accepted[s] for s in open_steps):
        return "accepted, not journaled"
    if open_steps:
        return "submitting, not accepted"
    if any(e == "submitted" for e in last.values()):
        return "job in flight"
    return "between steps"


def _run_point(point: Point, root: Path) -> Point:
    folder = root / f"point-{point.index:02d}"
    folder.mkdir()
    plan_file = folder / "plan.json"
    write_plan_data(plan_file, make_apply_plan())
    plan = read_plan(plan_file)
    journal = plan_file.with_name(plan_file.name + ".journal.jsonl")
    rng = random.Random(SEED * 1000 + point.index)
    with run_emulator(apply_snapshot(), job_seconds=0.05) as emu:
        record_requests(emu, post_latency=0.04)

        def note_window() -> None:
            point.window = _window(journal, emu.state(), plan)

        kill_run(emu, plan_file, journal, point, rng, 8, note_window)
        final = _cli(emu, plan_file, "--resume")
        out, err = final.communicate(timeout=60)
        assert final.returncode == 0, f"point {point}: resume exited {final.returncode}: {err[-2000:]}"
        state = emu.state()
    assert placement_problems(state, plan) == [], f"point {point}"
    counts = accepted_per_step(state, plan)
    assert sorted(counts.items()) == [(i, 1) for i in range(1, 9)], f"point {point}: {counts}"
    return point


@pytest.mark.slow
def test_sigkill_at_seeded_points_then_resume_ends_in_the_planned_placement(tmp_path: Path) -> None:
    points = draw_points(SEED, POINTS, FULL_RUN_RECORDS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda p: _run_point(p, tmp_path), points))
    windows = Counter(p.window for p in done)
    kills = sum(p.killed for p in done)
    print(f"\n{len(done)} points, {kills} SIGKILLs; first kill landed: {dict(windows)}")
    assert kills >= POINTS
    assert windows["accepted, not journaled"] + windows["submitting, not accepted"] >= 1


def test_sigterm_stops_new_submissions_and_exits_with_a_resume_hint(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    write_plan_data(plan_file, make_apply_plan())
    plan = read_plan(plan_file)
    journal = plan_file.with_name(plan_file.name + ".journal.jsonl")
    with run_emulator(apply_snapshot(), job_seconds=0.3) as emu:
        proc = _cli(emu, plan_file)
        deadline = time.monotonic() + 30
        while b'"submitted"' not in (journal.read_bytes() if journal.exists() else b""):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "SIGTERM: no new submissions" in err
        assert '"status": "interrupted"' in out and '"interrupted": true' in out
        last = last_event(journal)
        assert set(last.values()) == {"succeeded"}            # what was in flight was tracked to the end
        assert len(emu.state()["migrate_requests"]) == len(last) < 8
        resumed = _cli(emu, plan_file, "--resume")
        _, err = resumed.communicate(timeout=60)
        assert resumed.returncode == 0, err
        state = emu.state()
    assert placement_problems(state, plan) == []
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
