"""Two plans applied at the same time never break a hard rule (issue 17.1).

The issue's case: the example inventory and spec; plan X, and plan Y made with X's first four movers pinned,
so both send four nodes into train-b (3 nodes, `max: 8`). Applied at once against an emulator answering every
request 50 ms late they used to leave train-b with 11 nodes (3 runs of 3); here the emulator answers 20 ms late
(the checks do not depend on the delay, the suite's time does).

- Same host: two applies (and `auto` against a manual `apply`) started together share the project lock:
  the second refuses at once (exit 7) or waits (`--lock-timeout`) and then finds its plan stale (exit 4) or,
  for `auto`, plans from what it finds. (flock excludes two descriptors of one process as it excludes two
  processes; test_cli.py runs the command line against a lock another holder keeps.)
- Two hosts (two lock folders, so the lock does not exclude them): the second run starts while the first is
  on its way, at each point of its journal; every check counts migrations in flight as landed, so it is
  refused (stale, exit 4, or a failed precondition, exit 6) before it sends anything. Half the runs have the
  emulator list migrating nodes in their source pool (the sequence the API reference expects), where only
  the in-flight counting can see them.
- The moment between one host's check and its POST, which no check can close: a foreign request accepted in
  exactly that window is caught once the step lands (exit 6, naming the pool and the foreign job).

Every state the emulator recorded (after each accepted request and each job's end) is checked against the
hard rules, not only the final one.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.apply import apply_plan, read_journal
from planner.apply import submit as submit_module
from planner.auto import AutoOptions, run_cycle
from planner.errors import ExecutionError, PoolshiftError
from planner.modelarts.emulator.api import EmuRequest, EmuResponse
from planner.planfile import PlanDocument, write_plan
from planner.planning import make_plan
from tests.apply.conftest import apply_snapshot, apply_spec
from tests.apply.helpers import factory, fast, rule_breaks
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TRAIN_B = "pool-51d07e44-train-b"
RUNS = 10
LATENCY = 0.02


@pytest.fixture(scope="module")
def example() -> tuple[dict[str, Any], PlanDocument, PlanDocument]:
    """The example inventory, plan X, and plan Y (X's first four movers pinned)."""
    snapshot = json.loads((ROOT / "examples" / "inventory.json").read_text(encoding="utf-8"))
    spec = yaml.safe_load((ROOT / "examples" / "spec.yaml").read_text(encoding="utf-8"))
    x = make_plan(copy.deepcopy(snapshot), spec).document
    assert x.steps[0].target == TRAIN_B and x.pools[TRAIN_B].max == 8
    y = make_plan(copy.deepcopy(snapshot), {**spec, "pin": list(x.steps[0].nodes)}).document
    assert any(s.target == TRAIN_B for s in y.steps) and set(y.steps[0].nodes).isdisjoint(x.steps[0].nodes)
    assert x.pools[TRAIN_B].before + 4 + 4 > 8  # both plans together would break train-b's max
    return snapshot, x, y


@pytest.fixture(scope="module")
def train_only(example: tuple[dict[str, Any], PlanDocument, PlanDocument]) -> PlanDocument:
    """Plan Y with only train-a and train-b in its spec: one step, four other nodes into train-b. It conflicts
    with X through train-b's count alone (the full Y also moves X's infer and ascend nodes, which a run
    started later sees as busy or gone whatever it counts)."""
    snapshot, x, _ = example
    spec = yaml.safe_load((ROOT / "examples" / "spec.yaml").read_text(encoding="utf-8"))
    spec["pools"] = {name: wish for name, wish in spec["pools"].items() if name in ("train-a", "train-b")}
    y = make_plan(copy.deepcopy(snapshot), {**spec, "pin": list(x.steps[0].nodes)}).document
    assert [(s.source, s.target, s.size) for s in y.steps] == [(x.steps[0].source, TRAIN_B, 4)]
    return y


def _write(folder: Path, name: str, plan: PlanDocument) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    write_plan(path, plan)
    return path


# -- same host: two runs, one lock folder -------------------------------------------------------------------------


def _in_thread(work: Callable[[], Any], outcome: dict[str, Any], go: threading.Barrier) -> threading.Thread:
    """Run `work` in a thread once `go` opens; its exit code (0, or the PoolshiftError's) goes into `outcome`."""
    def target() -> None:
        go.wait(10)
        try:
            result = work()
            outcome["code"] = 0 if getattr(result, "error", None) is None else result.error.exit_code
            outcome["result"] = result
        except PoolshiftError as exc:
            outcome["code"], outcome["error"] = exc.exit_code, str(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def _same_host_work(run: int, folder: Path, emu: EmulatorHandle, plans: tuple[PlanDocument, PlanDocument],
                    lock_dir: Path) -> list[Callable[[], Any]]:
    """Runs 0, 3, 6, 9: two applies, no waiting; 1, 4, 7: both wait for the lock; 2, 5, 8: `auto` against a
    manual apply, both waiting."""
    x, y = plans
    px, py = _write(folder, "x", x), _write(folder, "y", y)
    wait = 0.0 if run % 3 == 0 else 120.0

    def apply(plan: PlanDocument, path: Path) -> Callable[[], Any]:
        return lambda: apply_plan(plan, path, factory(emu), fast(lock_dir=lock_dir, lock_timeout=wait))

    if run % 3 != 2:
        return [apply(x, px), apply(y, py)]
    raw = yaml.safe_load((ROOT / "examples" / "spec.yaml").read_text(encoding="utf-8"))
    spec = folder / "spec-y.yaml"
    spec.write_text(yaml.safe_dump({**raw, "pin": list(x.steps[0].nodes)}), encoding="utf-8")
    options = AutoOptions(execute=True, state_dir=folder / "auto", windows=(), poll_interval=0.02,
                          lock_dir=lock_dir, lock_timeout=wait)
    return [apply(x, px), lambda: run_cycle(spec, factory(emu), region=emu.region, options=options)]


def test_same_host_two_runs_at_once_never_break_a_hard_rule(
        example: tuple[dict[str, Any], PlanDocument, PlanDocument], tmp_path: Path) -> None:
    snapshot, x, y = example
    for run in range(RUNS):
        folder = tmp_path / f"run-{run}"
        # the lock decides here, not the timing: answers 10 ms late keep the ten runs short
        with run_emulator(copy.deepcopy(snapshot), job_seconds=0.05, faults={"latency": 0.01}) as emu:
            outcomes: list[dict[str, Any]] = [{}, {}]
            go = threading.Barrier(2)
            threads = [_in_thread(work, outcome, go) for work, outcome in
                       zip(_same_host_work(run, folder, emu, (x, y), tmp_path / "host-locks"), outcomes, strict=True)]
            for thread in threads:
                thread.join(120)
            state = emu.state()
        codes = sorted(o.get("code", -1) for o in outcomes)
        assert rule_breaks(state, x, snapshot) == [], f"run {run}: {outcomes}"
        assert 0 in codes and all(code in (0, 4, 7) for code in codes), f"run {run}: {outcomes}"
        if run % 3 == 0:   # no waiting: the second is refused by the lock at once, naming the holder
            assert codes == [0, 7], outcomes
            assert "another poolshift run is changing the pools of project" in str(outcomes)
        else:              # waiting: the second runs after the first, and refuses the plan it no longer fits
            assert 7 not in codes, outcomes


# -- two hosts: one process, two lock folders, the second run started at each point of the first --------------------


def _apply_in_thread(plan: PlanDocument, path: Path, emu: EmulatorHandle, lock_dir: Path,
                     outcome: dict[str, Any]) -> threading.Thread:
    def target() -> None:
        try:
            result = apply_plan(plan, path, factory(emu), fast(lock_dir=lock_dir, poll_interval=0.02))
            outcome["code"], outcome["sent"] = 0, len(result.requests)
        except PoolshiftError as exc:
            outcome["code"], outcome["error"] = exc.exit_code, str(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def _records(journal: Path) -> int:
    try:
        return len(journal.read_bytes().splitlines())
    except FileNotFoundError:
        return 0


def _wait_for(journal: Path, records: int, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 60
    while _records(journal) < records and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.002)


def test_two_hosts_second_run_at_each_point_of_the_first_never_break_a_hard_rule(
        example: tuple[dict[str, Any], PlanDocument, PlanDocument], train_only: PlanDocument, tmp_path: Path) -> None:
    snapshot, x, y = example[0], example[1], train_only
    # X's journal: start, 3 x (submitting, submitted), 3 x succeeded, finished: 11 records (Y's: 1 step, 5). The
    # first run's jobs run until the test moves emulator time on: before the second run starts when it starts at
    # a `succeeded` record or later, after the second run ended otherwise (so the second run sees them in flight).
    for run, trigger in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 11]):
        first, second = (x, y) if run % 2 == 0 else (y, x)
        submitted = 1 + 2 * len(first.steps)
        trigger = min(trigger, 2 + 3 * len(first.steps))
        in_source = (run // 2) % 2 == 1   # runs 2, 3, 6, 7: migrating nodes stay listed in their source pool
        folder = tmp_path / f"run-{run}"
        p1, p2 = _write(folder, "first", first), _write(folder, "second", second)
        faults = {"latency": LATENCY, "migrating_nodes_in_source": in_source}
        with run_emulator(copy.deepcopy(snapshot), job_seconds=600, faults=faults) as emu:
            one: dict[str, Any] = {}
            two: dict[str, Any] = {}
            t1 = _apply_in_thread(first, p1, emu, folder / "host-a", one)
            journal = p1.with_name(p1.name + ".journal.jsonl")
            if trigger > submitted:
                _wait_for(journal, submitted, t1)
                emu.advance(600)
            _wait_for(journal, trigger, t1)
            t2 = _apply_in_thread(second, p2, emu, folder / "host-b", two)
            t2.join(120)
            deadline = time.monotonic() + 120
            while t1.is_alive() and time.monotonic() < deadline:  # the first run's jobs end from now on
                emu.advance(600)
                t1.join(0.05)
            state = emu.state()
        assert rule_breaks(state, x, snapshot) == [], f"run {run} (trigger {trigger}, {in_source=}): {one} {two}"
        assert one.get("code") == 0, f"run {run}: first run {one}"
        assert two.get("code") in (4, 6), f"run {run}: second run {two}"
        assert len(state["migrate_requests"]) == len(first.steps), f"run {run}: the second run sent a request"


# -- the precondition counts a foreign migration in flight; without that, max breaks ------------------------------


def _foreign_then(emu: EmulatorHandle, body: dict[str, Any], source: str, *, after_posts: int) -> list[str]:
    """After the `after_posts`-th accepted batch-migrate, another host's request is accepted: its job runs for
    10 minutes of emulator time (its nodes listed in the source), while every other job ends at once."""
    foreign: list[str] = []
    inner = emu.api.handle
    posts = [0]

    def handle(request: EmuRequest) -> EmuResponse:
        response = inner(request)
        if request.method == "POST" and request.raw_path.endswith("/batch-migrate") and response.status == 200:
            posts[0] += 1
            if posts[0] == after_posts and not foreign:
                machine = emu.machine
                with machine.lock:
                    machine.job_seconds = 600.0
                    foreign.append(machine.batch_migrate(source, body))
                    machine.job_seconds = 0.0
        return response

    emu.api.handle = handle  # type: ignore[method-assign]
    return foreign


def _spec_with_a_max_on_pool_d() -> dict[str, Any]:
    spec = apply_spec()
    spec["pools"]["pool-d"] = {"target": 5, "max": 5}  # the plan brings 3 nodes into pool-d (2 -> 5)
    return spec


@pytest.mark.parametrize("count_in_flight", [True, False], ids=["counted", "control: not counted"])
def test_a_foreign_migration_in_flight_counts_in_the_next_preconditions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count_in_flight: bool) -> None:
    snapshot = apply_snapshot()
    plan = make_plan(copy.deepcopy(snapshot), _spec_with_a_max_on_pool_d()).document
    into_d = [s.id for s in plan.steps if s.target == "pool-d"]
    assert len(into_d) == 3 and into_d[0] > 1
    moving = {n for s in plan.steps for n in s.nodes}
    kept = sorted({n["metadata"]["name"] for n in snapshot["nodes"]["pool-a"]} - moving)
    body = {"migrateNodeNames": [kept[0]], "fromClusterName": "pool-a", "toClusterName": "pool-d",
            "toPoolName": "pool-d", "resourceSpec": {"flavor": "modelarts.vm.cpu.8u"}}
    path = _write(tmp_path, "plan", plan)
    if not count_in_flight:  # the control: what happened before issue 17.1
        monkeypatch.setattr(submit_module, "as_landed", lambda snap, migrations, **kw: (snap, []))
    with run_emulator(copy.deepcopy(snapshot), job_seconds=0.0,
                      faults={"migrating_nodes_in_source": True}) as emu:
        foreign = _foreign_then(emu, body, "pool-a", after_posts=1)
        with pytest.raises(ExecutionError) as caught:
            apply_plan(plan, path, factory(emu), fast())
        emu.advance(600)   # the foreign job ends: its node arrives in pool-d
        state = emu.state()
    breaks = rule_breaks(state, plan, snapshot)
    if count_in_flight:
        assert breaks == []
        assert f"step {into_d[-1]} failed: its preconditions do not hold" in str(caught.value)
        assert "pool pool-d would have 6 nodes, above its max 5" in str(caught.value)
        assert caught.value.exit_code == 6
    else:  # without counting it, the run sends the last step into pool-d and the foreign node takes it to 6
        assert any("pool-d has 6 nodes, above its max 5" in b for b in breaks), breaks
        assert foreign[0] in str(caught.value)   # the check after the step names the foreign job


# -- the window no check can close: caught when the step lands --------------------------------------------------


def _slip_in_before(emu: EmulatorHandle, body: dict[str, Any], source: str) -> list[str]:
    """Another host's request accepted just before this run's first POST reaches the emulator."""
    foreign: list[str] = []
    inner = emu.api.handle

    def handle(request: EmuRequest) -> EmuResponse:
        if request.method == "POST" and request.raw_path.endswith("/batch-migrate") and not foreign:
            foreign.append(emu.machine.batch_migrate(source, body))
        return inner(request)

    emu.api.handle = handle  # type: ignore[method-assign]
    return foreign


def test_a_foreign_request_in_the_check_to_post_window_stops_the_run_naming_pool_and_job(
        example: tuple[dict[str, Any], PlanDocument, PlanDocument], tmp_path: Path) -> None:
    snapshot, x, y = example
    path = _write(tmp_path, "x", x)
    first_into_b = next(s for s in y.steps if s.target == TRAIN_B)
    with run_emulator(copy.deepcopy(snapshot), job_seconds=0.05) as emu:
        foreign = _slip_in_before(emu, first_into_b.body_json(), first_into_b.source)
        with pytest.raises(ExecutionError) as caught:
            apply_plan(x, path, factory(emu), fast(max_parallel=1))
        state = emu.state()
    message = str(caught.value)
    assert caught.value.exit_code == 6 and caught.value.step_id == 1
    assert f"after step 1: pool {TRAIN_B} has 11 nodes, above its max 8" in message
    assert f"job {foreign[0]}" in message and "which this plan did not send" in message
    assert "--resume" in message
    records = read_journal(path.with_name(path.name + ".journal.jsonl"))
    assert records[-1]["event"] == "stopped" and "above its max 8" in records[-1]["reason"]
    assert len(state["migrate_requests"]) == 2   # the foreign request and step 1: it stopped instead of going on
