"""Scheduled automatic rebalancing: one unattended pull -> plan -> gate -> apply cycle (`poolshift auto`).

Owns: the `auto:` section of the spec (validated here), the gates (improvement threshold, per-cycle move
cap, time windows, freeze switch), the cycle lock, and the state directory of a scheduled job: the plans
it made, their journals, the audit log (`audit.jsonl`) and the Prometheus metrics file (`metrics.prom`).
Must not: print or exit (the CLI does), send anything except through `planner.apply`, or let a credential
reach a record, a metric or a message (it never sees one: the API client is built by the caller).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from planner.errors import ExecutionError, InputError, LockedError, PlanningError, PoolshiftError
from planner.files import write_atomic
from planner.inventory import fingerprint_snapshot
from planner.locks import exclusive_lock
from planner.planfile import write_plan
from planner.planning import PlanOptions, make_plan
from planner.spec import describe_validation_error, parse_spec, read_spec_file

if TYPE_CHECKING:
    from planner.apply import ApplyResult
    from planner.modelarts.client import ModelArtsClient

_FULL_DAYS = {name: name[:3] for name in
              ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
FREEZE_LABEL = "poolshift/freeze"
DEFAULT_STATE_DIR = Path("poolshift-auto")
AUDIT_FILE = "audit.jsonl"
METRICS_FILE = "metrics.prom"
LOCK_FILE = "auto.lock"
PLANS_DIR = "plans"
OUTCOMES = ("none", "planned", "executed", "failed")

Action = Literal["none", "planned", "executed"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ClientFactory = Callable[[bool], "ModelArtsClient"]

_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


# -- the `auto:` spec section -------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Model):
    """A weekly time window in which auto may act: `days`, `start`-`end` wall-clock time in `tz`.

    A window whose end is not after its start crosses midnight: it runs from `start` on each listed day to
    `end` on the next day (`fri 22:00-06:00` includes Saturday 03:00). `start == end` is the whole day.
    """

    days: tuple[Day, ...] = DAYS
    start: clock_time
    end: clock_time
    tz: str = "UTC"

    @field_validator("days", mode="before")
    @classmethod
    def _expand_days(cls, value: Any) -> Any:
        """`mon-fri`, `Monday`, `sat,sun`: names in any case, ranges (wrapping past Sunday) and lists."""
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            return value
        out: list[Any] = []
        for item in value:
            if not isinstance(item, str):
                out.append(item)
                continue
            name = item.strip().lower()
            if "-" in name:
                first, _, last = (_day_name(p) for p in name.partition("-"))
                if first in DAYS and last in DAYS:
                    i, j = DAYS.index(first), DAYS.index(last)
                    out.extend(DAYS[(i + k) % 7] for k in range((j - i) % 7 + 1))
                    continue
            out.append(_day_name(name))
        if not out:
            raise ValueError("lists no day")
        return tuple(dict.fromkeys(out))

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        """"HH:MM" as a quoted string (YAML reads an unquoted 22:00 as the number 1320); "24:00" is midnight."""
        if isinstance(value, bool) or not isinstance(value, str):
            if isinstance(value, int):
                raise ValueError(f"write the time in quotes, e.g. \"22:00\" (YAML read it as the number {value})")
            raise ValueError(f"expected a time \"HH:MM\", got {value!r}")
        match = _TIME.match(value.strip())
        if not match or (match.group(1) == "24" and match.group(2) != "00"):
            raise ValueError(f"expected a time \"HH:MM\" (00:00 to 24:00), got {value!r}")
        hour, minute = int(match.group(1)), int(match.group(2))
        return clock_time(0, 0) if hour == 24 else clock_time(hour, minute)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
        return value

    def contains(self, moment: datetime) -> bool:
        """True when `moment` (time-zone aware) falls inside this window, in the window's own time zone."""
        local = moment.astimezone(ZoneInfo(self.tz))
        day, now = DAYS[local.weekday()], local.time().replace(tzinfo=None)
        yesterday = DAYS[(local.weekday() - 1) % 7]
        if self.start == self.end:
            return day in self.days
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        return (day in self.days and now >= self.start) or (yesterday in self.days and now < self.end)

    def describe(self) -> str:
        """`mon,tue 22:00-06:00 Europe/Berlin`: the same syntax `--window` reads."""
        days = "daily" if set(self.days) == set(DAYS) else ",".join(self.days)
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


def _day_name(text: str) -> str:
    text = text.strip().lower()
    return _FULL_DAYS.get(text, text)


class AutoConfig(_Model):
    """The validated `auto:` section of a spec; every key is optional."""

    min_improvement: Annotated[int, Field(ge=0, strict=True)] = 1
    max_moves_per_cycle: Annotated[int, Field(ge=1, strict=True)] | None = None
    windows: tuple[Window, ...] = ()
    freeze_file: str | None = None
    state_dir: str | None = None


def parse_auto(data: Any, *, source: str = "<spec>") -> AutoConfig:
    """Validate the `auto:` section; the first problem is an InputError naming the file and key (`auto.…`)."""
    if data is None:
        return AutoConfig()
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping, got {type(data).__name__}", source=source, path="auto")
    try:
        return AutoConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        path, problem = describe_validation_error(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        key = "auto" if path == "(top level)" else f"auto.{path}"
        raise InputError(problem + more, source=source, path=key) from None


def parse_window_option(text: str) -> Window:
    """`--window "mon-fri 22:00-06:00 Europe/Berlin"`: days (or `daily`), start-end, optional time zone."""
    parts = text.split()
    if len(parts) not in (2, 3) or parts[1].count("-") != 1:
        raise InputError(f"expected \"DAYS HH:MM-HH:MM [TZ]\", e.g. \"mon-fri 22:00-06:00 Europe/Berlin\"; "
                         f"got {text!r}", source="arguments", path="--window")
    start, end = parts[1].split("-")
    data: dict[str, Any] = {"start": start, "end": end}
    if parts[0].lower() not in ("daily", "*"):
        data["days"] = parts[0]
    if len(parts) == 3:
        data["tz"] = parts[2]
    try:
        return Window.model_validate(data)
    except ValidationError as exc:
        path, problem = describe_validation_error(exc.errors()[0])
        raise InputError(f"{path}: {problem}", source="arguments", path="--window") from None


# -- one cycle ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoOptions:
    """Command-line choices for one cycle; `None` means "as the spec's `auto:` section says"."""

    execute: bool = False
    state_dir: Path | None = None
    min_improvement: int | None = None
    max_moves: int | None = None
    windows: tuple[Window, ...] | None = None  # () = no windows: act at any time
    freeze: bool = False
    freeze_file: Path | None = None
    metrics_file: Path | None = None
    now: datetime | None = None
    plan: PlanOptions = field(default_factory=PlanOptions)
    max_parallel: int = 4
    poll_interval: float = 5.0
    job_timeout: float = 3600.0


@dataclass(frozen=True)
class Gates:
    """The gates in force for one cycle, after flags have overridden the spec."""

    min_improvement: int
    max_moves: int | None
    windows: tuple[Window, ...]
    freeze: bool
    freeze_file: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {"min_improvement": self.min_improvement, "max_moves": self.max_moves,
                "windows": [w.describe() for w in self.windows], "freeze": self.freeze,
                "freeze_file": str(self.freeze_file) if self.freeze_file else None}


class Applier(Protocol):
    """Runs a written plan: dry-run (`execute=False`, read-only client) or for real."""

    def __call__(self, plan: dict[str, Any], plan_path: Path, client_factory: ClientFactory, *, execute: bool,
                 journal: Path, options: AutoOptions, stop: threading.Event | None) -> ApplyResult: ...


def library_apply(plan: dict[str, Any], plan_path: Path, client_factory: ClientFactory, *, execute: bool,
                  journal: Path, options: AutoOptions, stop: threading.Event | None) -> ApplyResult:
    """Apply through `planner.apply.apply_plan` (imported here: it is the one place auto sends requests)."""
    from planner.apply import ApplyOptions, apply_plan

    apply_options = ApplyOptions(execute=execute, max_parallel=options.max_parallel,
                                 poll_interval=options.poll_interval, job_timeout=options.job_timeout,
                                 journal=journal)
    return apply_plan(plan, plan_path, client_factory, apply_options, stop=stop)


@dataclass
class CycleResult:
    """What one cycle did and why; `record()` is both the audit line and the `--output json` document."""

    started_at: datetime
    execute: bool
    state_dir: Path
    action: Action = "none"
    reason: str = ""
    stage: str = "start"
    locked: bool = False
    gates: Gates | None = None
    project_id: str | None = None
    inventory_fingerprint: str | None = None
    spec_fingerprint: str | None = None
    summary: dict[str, Any] | None = None
    plan_path: Path | None = None
    journal: str | None = None
    frozen_by: list[str] = field(default_factory=list)
    in_window: bool | None = None
    steps_total: int = 0
    steps_done: int = 0
    steps_failed: list[int] = field(default_factory=list)
    requests_sent: int = 0
    messages: list[str] = field(default_factory=list)
    error: PoolshiftError | None = None
    duration: float = 0.0

    @property
    def outcome(self) -> str:
        """`failed` when the cycle ended in an error, else its action."""
        return "failed" if self.error is not None else self.action

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error is not None else 0

    def record(self) -> dict[str, Any]:
        summary = self.summary or {}
        return {
            "time": _iso(self.started_at),
            "duration_seconds": round(self.duration, 3),
            "action": self.action,
            "reason": self.reason,
            "outcome": self.outcome,
            "stage": self.stage,
            "execute": self.execute,
            "locked": self.locked,
            "project_id": self.project_id,
            "inventory_fingerprint": self.inventory_fingerprint,
            "spec_fingerprint": self.spec_fingerprint,
            "deviation_before": summary.get("deviation_before"),
            "deviation_after": summary.get("deviation_after"),
            "moves": summary.get("moves", 0),
            "requests": summary.get("requests", 0),
            "plan_summary": {k: summary[k] for k in ("moves", "requests", "waves", "staging_moves",
                                                     "deviation_before", "deviation_after", "status", "bound",
                                                     "blocked_by") if k in summary} or None,
            "gates": self.gates.to_dict() if self.gates else None,
            "frozen_by": self.frozen_by,
            "in_window": self.in_window,
            "plan": str(self.plan_path) if self.plan_path else None,
            "journal": self.journal,
            "steps_total": self.steps_total,
            "steps_done": self.steps_done,
            "steps_failed": self.steps_failed,
            "requests_sent": self.requests_sent,
            "messages": self.messages,
            "error": None if self.error is None else {
                "type": type(self.error).__name__, "exit_code": self.error.exit_code,
                "message": str(self.error).replace("\n", " ").strip(),
                **({"step_id": self.error.step_id} if isinstance(self.error, ExecutionError) else {}),
            },
            "state_dir": str(self.state_dir),
        }


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
        raise InputError(f"cannot create the state directory ({exc.strerror})", source=str(state_dir)) from None
    result = CycleResult(started_at=started, execute=options.execute, state_dir=state_dir)
    try:
        with cycle_lock(state_dir / LOCK_FILE):
            try:
                if spec_error is not None:
                    result.stage = "spec"
                    raise spec_error
                assert raw is not None
                _cycle(result, raw, spec_path, client_factory, region, options, applier or library_apply, stop)
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


def _cycle(result: CycleResult, raw: dict[str, Any], spec_path: Path, client_factory: ClientFactory, region: str,
           options: AutoOptions, applier: Applier, stop: threading.Event | None) -> None:
    """The stages of one cycle; each sets `result.stage` first so a failure says where it happened."""
    result.stage = "spec"
    source = str(spec_path)
    spec = parse_spec(raw, source=source)
    config = parse_auto(raw.get("auto"), source=source)
    result.spec_fingerprint = spec.fingerprint
    gates = resolve_gates(config, options, spec_path)
    result.gates = gates
    result.in_window = not gates.windows or any(w.contains(result.started_at) for w in gates.windows)

    result.stage = "freeze"
    if gates.freeze:
        result.frozen_by.append("--freeze")
    if gates.freeze_file is not None and gates.freeze_file.exists():
        result.frozen_by.append(f"file {gates.freeze_file}")
    if result.frozen_by:
        result.reason = f"frozen by {', '.join(result.frozen_by)}: no action"
        return

    result.stage = "pull"
    from planner.modelarts.pull import pull_snapshot

    with client_factory(True) as client:
        result.project_id = client.project_id
        snapshot = pull_snapshot(client, region, client.project_id)
    result.inventory_fingerprint = fingerprint_snapshot(snapshot)
    result.frozen_by = [f"label {FREEZE_LABEL} on pool {pool}" for pool in frozen_pools(snapshot)]
    if result.frozen_by:
        result.reason = f"frozen by {', '.join(result.frozen_by)}: no action"
        return

    result.stage = "plan"
    capped, cap_note = cap_moves(raw, gates.max_moves)
    try:
        plan = make_plan(snapshot, capped, options=options.plan, snapshot_source="live inventory",
                         spec_source=source)
    except PlanningError as exc:
        if cap_note:
            raise PlanningError(f"{exc} ({cap_note})", rules=exc.rules, pools=exc.pools) from None
        raise
    summary = plan.document.summary.model_dump(mode="json")  # TODO(typed plan): read attributes
    result.summary = summary
    improvement = summary["deviation_before"] - summary["deviation_after"]
    if not plan.document.steps:
        result.reason = f"nothing to do: no move improves on the current placement (deviation " \
                        f"{summary['deviation_after']})"
        return
    if improvement < gates.min_improvement:
        result.reason = (f"the plan lowers the deviation by {improvement} ({summary['deviation_before']} -> "
                         f"{summary['deviation_after']}), less than the threshold {gates.min_improvement}")
        return

    result.stage = "write plan"
    result.plan_path = plan_path = new_plan_path(result.state_dir, result.started_at)
    write_plan(plan_path, plan.document)
    journal = plan_path.with_name(plan_path.name + ".journal.jsonl")  # where `poolshift apply` puts it too
    gain = (f"{summary['moves']} move{'s' if summary['moves'] != 1 else ''} in {summary['requests']} "
            f"request{'s' if summary['requests'] != 1 else ''}, deviation {summary['deviation_before']} -> "
            f"{summary['deviation_after']}")
    if not result.in_window:
        result.action = "planned"
        result.reason = (f"outside the time windows ({'; '.join(w.describe() for w in gates.windows)}): "
                         f"planned only ({gain})")
        return

    result.stage = "apply"
    result.action = "planned"
    result.reason = f"dry-run: would apply {gain} (pass --execute to act)"
    try:
        outcome = applier(plan.document.model_dump(mode="json"), plan_path, client_factory,
                          execute=options.execute, journal=journal, options=options, stop=stop)
    except ExecutionError as exc:  # apply's ApplyFailedError carries what the run did before it stopped
        partial = getattr(exc, "result", None)
        if partial is not None:
            _took(result, partial, gain, execute=options.execute)
        result.journal = result.journal or exc.journal or str(journal)
        raise
    _took(result, outcome, gain, execute=options.execute)
    if outcome.steps_failed:
        raise ExecutionError(f"step(s) {', '.join(map(str, outcome.steps_failed))} failed; the journal "
                             f"{result.journal} says where to resume", step_id=outcome.steps_failed[0],
                             journal=result.journal)


def _took(result: CycleResult, outcome: ApplyResult, gain: str, *, execute: bool) -> None:
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


def resolve_state_dir(flag: Path | None, raw: dict[str, Any] | None, spec_path: Path) -> Path:
    """`--state-dir`, else the spec's `auto.state_dir` (relative to the spec file), else ./poolshift-auto."""
    if flag is not None:
        return flag
    auto = raw.get("auto") if raw else None
    value = auto.get("state_dir") if isinstance(auto, dict) else None
    if isinstance(value, str) and value:
        return spec_path.parent / value
    return DEFAULT_STATE_DIR


def resolve_gates(config: AutoConfig, options: AutoOptions, spec_path: Path) -> Gates:
    """Flags win over the spec's `auto:` section; a relative `freeze_file` in the spec is beside the spec."""
    freeze_file = options.freeze_file
    if freeze_file is None and config.freeze_file:
        freeze_file = spec_path.parent / config.freeze_file
    return Gates(
        min_improvement=config.min_improvement if options.min_improvement is None else options.min_improvement,
        max_moves=config.max_moves_per_cycle if options.max_moves is None else options.max_moves,
        windows=config.windows if options.windows is None else options.windows,
        freeze=options.freeze,
        freeze_file=freeze_file,
    )


def cap_moves(spec_data: dict[str, Any], cap: int | None) -> tuple[dict[str, Any], str | None]:
    """A copy of the spec whose `limits.max_moves` is at most `cap`, so the plan itself respects the cap."""
    if cap is None:
        return spec_data, None
    capped = copy.deepcopy(spec_data)
    limits = capped.setdefault("limits", {})
    existing = limits.get("max_moves")
    if existing is not None and existing <= cap:
        return spec_data, None
    limits["max_moves"] = cap
    where = f"the spec allows {existing}" if existing is not None else "the spec sets no limit"
    return capped, f"with the per-cycle cap of {cap} moved nodes; {where}"


def frozen_pools(snapshot: dict[str, Any]) -> list[str]:
    """Pools of the live inventory that carry the label `poolshift/freeze: "true"`."""
    out = []
    for pool in snapshot.get("pools", []):
        metadata = pool.get("metadata") or {}
        labels = metadata.get("labels") or {}
        if str(labels.get(FREEZE_LABEL, "")).strip().lower() == "true":
            out.append(str(metadata.get("name")))
    return sorted(out)


def new_plan_path(state_dir: Path, moment: datetime) -> Path:
    """`<state>/plans/<UTC timestamp>.json`, with a counter when that name is taken."""
    folder = state_dir / PLANS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stem = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = folder / f"{stem}.json", 1
    while candidate.exists():
        candidate, n = folder / f"{stem}-{n}.json", n + 1
    return candidate


# -- lock, audit, metrics -----------------------------------------------------------------------------------


@contextlib.contextmanager
def cycle_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on `path`; LockedError when another cycle holds it.

    The lock goes with the process: a cycle that is killed releases it. The file keeps the holder's pid
    and start time for the message the next cycle gives (planner.locks).
    """
    with exclusive_lock(path, f"since {_iso(datetime.now(UTC))}",
                        lambda holder: f"{path} is held by {holder}"):
        yield


def append_audit(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and fsync it: a crash after this call never loses the record."""
    data = (json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def read_audit(path: Path) -> list[dict[str, Any]]:
    """The records of an audit log, oldest first (a torn last line is skipped)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


_METRICS: dict[str, tuple[str, str]] = {
    "poolshift_auto_last_run_timestamp_seconds": ("gauge", "When the last auto cycle finished (Unix time)."),
    "poolshift_auto_last_success_timestamp_seconds": (
        "gauge", "When an auto cycle last finished without an error (Unix time)."),
    "poolshift_auto_last_duration_seconds": ("gauge", "How long the last auto cycle took."),
    "poolshift_auto_last_outcome": ("gauge", "Outcome of the last auto cycle: 1 for the one it had, else 0."),
    "poolshift_auto_deviation": ("gauge", "Deviation from the spec targets before and after the cycle's plan."),
    "poolshift_auto_moves": ("gauge", "Nodes the last cycle's plan moves (0 when it planned nothing)."),
    "poolshift_auto_requests_sent": ("gauge", "batch-migrate requests the last auto cycle sent."),
    "poolshift_auto_frozen": ("gauge", "1 when the freeze switch stopped the last auto cycle."),
}
_SUCCESS = re.compile(r"^poolshift_auto_last_success_timestamp_seconds\s+(\S+)\s*$", re.MULTILINE)


def write_metrics(path: Path, result: CycleResult, *, finished: float) -> None:
    """Write the Prometheus text exposition file atomically (node_exporter's textfile collector reads it)."""
    last_success = None
    if result.error is None:
        last_success = finished
    else:
        with contextlib.suppress(OSError, ValueError):
            found = _SUCCESS.search(path.read_text(encoding="utf-8"))
            last_success = float(found.group(1)) if found else None
    summary = result.summary or {}
    samples: dict[str, list[tuple[str, float | int]]] = {
        "poolshift_auto_last_run_timestamp_seconds": [("", round(finished, 3))],
        "poolshift_auto_last_success_timestamp_seconds": [("", round(last_success, 3))] if last_success else [],
        "poolshift_auto_last_duration_seconds": [("", round(result.duration, 3))],
        "poolshift_auto_last_outcome": [(f'{{outcome="{o}"}}', int(o == result.outcome)) for o in OUTCOMES],
        "poolshift_auto_deviation": [(f'{{when="{when}"}}', summary[f"deviation_{when}"])
                                     for when in ("before", "after") if f"deviation_{when}" in summary],
        "poolshift_auto_moves": [("", summary.get("moves", 0))],
        "poolshift_auto_requests_sent": [("", result.requests_sent)],
        "poolshift_auto_frozen": [("", int(bool(result.frozen_by)))],
    }
    lines = []
    for name, (kind, help_text) in _METRICS.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{labels} {value}" for labels, value in samples[name]]
    write_atomic(path, "\n".join(lines) + "\n")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
