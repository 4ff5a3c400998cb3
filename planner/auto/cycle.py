"""One unattended `poolshift auto` cycle: lock, spec, freeze switch, pull, plan, gates, write, apply, record.

Owns: the order of the stages (each names itself in `result.stage` first, so a failure says where it
happened), the decision each gate makes (`none`, `planned` or `executed`), the project lock (shared with
`apply` on this host: an executing cycle inside its window holds it from before the pull to the end, so it
never plans from pools another run is changing) and recording the outcome (metrics, then the audit line)
once the cycle lock was taken.
Must not: print or exit (the CLI does), send anything except through `planner.apply` (the `Applier`), or let
a credential reach a record, a metric or a message (it never sees one: the API client is built by the caller).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from planner.auto.config import parse_auto
from planner.auto.gates import FREEZE_LABEL, AutoOptions, Gates, cap_moves, frozen_pools, resolve_gates
from planner.auto.records import (
    AUDIT_FILE,
    LOCK_FILE,
    METRICS_FILE,
    append_audit,
    cycle_lock,
    new_plan_path,
    resolve_state_dir,
    write_metrics,
)
from planner.auto.result import CycleResult
from planner.errors import (
    ApplyFailedError,
    ApplyOutcome,
    ExecutionError,
    InputError,
    LockedError,
    PlanningError,
    PoolshiftError,
)
from planner.inventory import fingerprint_snapshot
from planner.locks import project_lock
from planner.planfile import PlanDocument, write_plan
from planner.planning import make_plan
from planner.spec import parse_spec, read_spec_file

if TYPE_CHECKING:
    from planner.apply import ApplyResult
    from planner.modelarts.client import ModelArtsClient

ClientFactory = Callable[[bool], "ModelArtsClient"]


class Applier(Protocol):
    """Runs a written plan: dry-run (`execute=False`, read-only client) or for real."""

    def __call__(self, plan: PlanDocument, plan_path: Path, client_factory: ClientFactory, *, execute: bool,
                 journal: Path, options: AutoOptions, stop: threading.Event | None) -> ApplyResult: ...


def library_apply(plan: PlanDocument, plan_path: Path, client_factory: ClientFactory, *, execute: bool,
                  journal: Path, options: AutoOptions, stop: threading.Event | None) -> ApplyResult:
    """Apply through `planner.apply.apply_plan` (imported here: it is the one place auto sends requests). The
    cycle already holds the project lock when it executes."""
    from planner.apply import ApplyOptions, apply_plan

    apply_options = ApplyOptions(execute=execute, max_parallel=options.max_parallel,
                                 poll_interval=options.poll_interval, job_timeout=options.job_timeout,
                                 journal=journal, lock_dir=options.lock_dir, lock_timeout=options.lock_timeout,
                                 project_locked=execute, endpoint=options.endpoint, region=plan.region)
    return apply_plan(plan, plan_path, client_factory, apply_options, stop=stop)


def run_cycle(spec_path: str | Path, client_factory: ClientFactory, *, region: str,
              options: AutoOptions | None = None, applier: Applier | None = None,
              stop: threading.Event | None = None) -> CycleResult:
    """One unattended cycle: lock, read the spec, check the freeze switch, pull, plan, gate, apply, record.

    A failed stage is returned in `result.error`, after the audit record that says so has been written; it
    raises only when the state directory cannot be created (nothing could record the failure). The lock held
    by another cycle gives `action "none"` with `locked` set.
    `client_factory(read_only)` builds an API client; it is called lazily so that configuration errors
    (missing credentials) are audited like any other failure.
    """
    options = options or AutoOptions()
    started = options.now or datetime.now(UTC)
    t0 = time.perf_counter()
    spec_path = Path(spec_path)
    raw: dict[str, Any] | None = None
    spec_error: InputError | None = None
    try:
        raw = read_spec_file(spec_path)
    except InputError as exc:
        spec_error = exc
    state_dir = resolve_state_dir(options.state_dir, raw, spec_path)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the state directory ({exc.strerror})", source=str(state_dir)) from exc
    result = CycleResult(started_at=started, execute=options.execute, state_dir=state_dir)
    cycle = _Cycle(result, spec_path, client_factory, region, options, applier or library_apply, stop)
    try:
        with cycle_lock(state_dir / LOCK_FILE):
            try:
                if spec_error is not None:
                    result.stage = "spec"
                    raise spec_error
                assert raw is not None
                cycle.run(raw)
            except PoolshiftError as exc:
                result.error = exc
                result.reason = f"failed at {result.stage}: {str(exc).replace(chr(10), ' ').strip()}"
            except BaseException as exc:  # a bug or an interrupt: record it, then let it go on up
                result.reason = f"failed at {result.stage}: {type(exc).__name__}: {exc}"
                result.error = PoolshiftError(result.reason)
                _finish(result, t0, options)
                raise
            _finish(result, t0, options)
    except LockedError as exc:
        result.locked = True
        result.stage = "lock"
        result.reason = f"another cycle is running ({exc})"
        result.duration = time.perf_counter() - t0
        append_audit(state_dir / AUDIT_FILE, result.record())
    return result


def _finish(result: CycleResult, t0: float, options: AutoOptions) -> None:
    """Write the metrics file, then the audit record (which says if the metrics could not be written)."""
    result.duration = time.perf_counter() - t0
    metrics = options.metrics_file or result.state_dir / METRICS_FILE
    try:
        write_metrics(metrics, result, finished=result.started_at.timestamp() + result.duration)
    except (PoolshiftError, OSError) as exc:
        problem = exc if isinstance(exc, PoolshiftError) else InputError(
            f"cannot write the metrics file ({exc.strerror})", source=str(metrics))
        result.messages.append(f"metrics not written: {problem}")
        if result.error is None:
            result.error, result.stage = problem, "metrics"
            result.reason = f"failed at metrics: {problem}"
    append_audit(result.state_dir / AUDIT_FILE, result.record())


@dataclass
class _Cycle:
    """The stages of one cycle, in order; each sets `result.stage` first and may end the cycle (None/False)."""

    result: CycleResult
    spec_path: Path
    client_factory: ClientFactory
    region: str
    options: AutoOptions
    applier: Applier
    stop: threading.Event | None

    def run(self, raw: dict[str, Any]) -> None:
        gates = self.read_spec(raw)
        if self.frozen_by_switch(gates):
            return
        with contextlib.ExitStack() as held:
            snapshot = self.pull(held)
            if snapshot is None:
                return
            plan = self.plan(raw, snapshot, gates)
            if plan is None:
                return
            self.apply(plan, gates)

    def read_spec(self, raw: dict[str, Any]) -> Gates:
        """Stage `spec`: the spec and its `auto:` section; flags win over the section."""
        result = self.result
        result.stage = "spec"
        source = str(self.spec_path)
        spec = parse_spec(raw, source=source)
        config = parse_auto(raw.get("auto"), source=source)
        result.spec_fingerprint = spec.fingerprint
        gates = resolve_gates(config, self.options, self.spec_path)
        result.gates = gates
        result.in_window = not gates.windows or any(w.contains(result.started_at) for w in gates.windows)
        return gates

    def frozen_by_switch(self, gates: Gates) -> bool:
        """Stage `freeze`: `--freeze` or the freeze file; checked before anything is read from the API."""
        result = self.result
        result.stage = "freeze"
        if gates.freeze:
            result.frozen_by.append("--freeze")
        if gates.freeze_file is not None and gates.freeze_file.exists():
            result.frozen_by.append(f"file {gates.freeze_file}")
        if result.frozen_by:
            result.reason = f"frozen by {', '.join(result.frozen_by)}: no action"
        return bool(result.frozen_by)

    def pull(self, held: contextlib.ExitStack) -> dict[str, Any] | None:
        """Stage `project lock` (an executing cycle inside its window), then stage `pull`: the live inventory
        (read-only client); None when a pool carries the freeze label."""
        from planner.modelarts.pull import pull_snapshot

        result = self.result
        result.stage = "pull"
        with self.client_factory(True) as client:
            result.project_id = client.project_id
            if self.options.execute and result.in_window:
                result.stage = "project lock"
                held.enter_context(project_lock(
                    client.project_id, self.region or None, client.workspace_id, lock_dir=self.options.lock_dir,
                    timeout=self.options.lock_timeout, note=f"auto {result.state_dir.absolute()}"))
                result.stage = "pull"
            snapshot = pull_snapshot(client, self.region, client.project_id)
        result.inventory_fingerprint = fingerprint_snapshot(snapshot)
        result.frozen_by = [f"label {FREEZE_LABEL} on pool {pool}" for pool in frozen_pools(snapshot)]
        if result.frozen_by:
            result.reason = f"frozen by {', '.join(result.frozen_by)}: no action"
            return None
        return snapshot

    def plan(self, raw: dict[str, Any], snapshot: dict[str, Any], gates: Gates) -> PlanDocument | None:
        """Stage `plan` (capped), then the gates: no step, or an improvement below the threshold -> None."""
        result = self.result
        result.stage = "plan"
        capped, cap_note = cap_moves(raw, gates.max_moves)
        try:
            plan = make_plan(snapshot, capped, options=self.options.plan, snapshot_source="live inventory",
                             spec_source=str(self.spec_path))
        except PlanningError as exc:
            if cap_note:
                raise PlanningError(f"{exc} ({cap_note})", rules=exc.rules, pools=exc.pools) from exc
            raise
        summary = plan.document.summary
        result.summary = summary.model_dump(mode="json")
        improvement = summary.deviation_before - summary.deviation_after
        if not plan.document.steps:
            result.reason = f"nothing to do: no move improves on the current placement (deviation " \
                            f"{summary.deviation_after})"
            return None
        if improvement < gates.min_improvement:
            result.reason = (f"the plan lowers the deviation by {improvement} ({summary.deviation_before} -> "
                             f"{summary.deviation_after}), less than the threshold {gates.min_improvement}")
            return None
        return plan.document

    def apply(self, document: PlanDocument, gates: Gates) -> None:
        """Stage `write plan`, the window gate, then stage `apply` (a dry-run without --execute)."""
        result, options = self.result, self.options
        result.stage = "write plan"
        result.plan_path = plan_path = new_plan_path(result.state_dir, result.started_at)
        write_plan(plan_path, document)
        journal = plan_path.with_name(plan_path.name + ".journal.jsonl")  # where `poolshift apply` puts it too
        s = document.summary
        gain = (f"{s.moves} move{'s' if s.moves != 1 else ''} in {s.requests} "
                f"request{'s' if s.requests != 1 else ''}, deviation {s.deviation_before} -> {s.deviation_after}")
        if not result.in_window:
            result.action = "planned"
            result.reason = (f"outside the time windows ({'; '.join(w.describe() for w in gates.windows)}): "
                             f"planned only ({gain})")
            return
        result.stage = "apply"
        result.action = "planned"
        result.reason = f"dry-run: would apply {gain} (pass --execute to act)"
        try:
            outcome = self.applier(document, plan_path, self.client_factory, execute=options.execute,
                                   journal=journal, options=options, stop=self.stop)
        except ExecutionError as exc:  # apply's ApplyFailedError carries what the run did before it stopped
            if isinstance(exc, ApplyFailedError):
                _took(result, exc.result, gain, execute=options.execute)
            result.journal = result.journal or exc.journal or str(journal)
            raise
        _took(result, outcome, gain, execute=options.execute)
        if outcome.steps_failed:
            raise ExecutionError(f"step(s) {', '.join(map(str, outcome.steps_failed))} failed; the journal "
                                 f"{result.journal} says where to resume", step_id=outcome.steps_failed[0],
                                 journal=result.journal)


def _took(result: CycleResult, outcome: ApplyOutcome, gain: str, *, execute: bool) -> None:
    """Copy what apply did into the cycle's result; the action is `executed` once a request was sent."""
    result.journal = outcome.journal
    result.steps_total, result.steps_done = outcome.steps_total, outcome.steps_done
    result.steps_failed = list(outcome.steps_failed)
    result.messages = list(outcome.messages)
    if not execute:
        return
    result.requests_sent = len(outcome.requests)
    if outcome.requests:
        result.action = "executed"
        result.reason = f"executed {gain}"
    if outcome.interrupted and outcome.steps_done < outcome.steps_total:
        result.reason = (f"stopped by a signal after {outcome.steps_done} of {outcome.steps_total} steps "
                         f"(would have applied {gain})")
