"""The state directory of a scheduled `auto` job: where it lives, its plans, the cycle lock, the audit log
(`audit.jsonl`) and the Prometheus metrics file (`metrics.prom`).

Owns: the layout of that directory and how each file is written (the audit line appended and fsynced,
the metrics file replaced atomically, the lock held with `flock` for the whole cycle). None of these files is
ever opened through a symlink planted at its path (O_NOFOLLOW; the metrics file, replaced by rename, is
refused when it is a link): such a file is an InputError (exit 2), as is an audit log that cannot be written.
Must not: decide what a cycle does, or write a credential (records come from `CycleResult.record()`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner.auto.result import OUTCOMES, CycleResult, iso
from planner.errors import InputError
from planner.files import open_nofollow, read_text_nofollow, refuse_symlink, write_atomic
from planner.locks import exclusive_lock

DEFAULT_STATE_DIR = Path("poolshift-auto")
AUDIT_FILE = "audit.jsonl"
METRICS_FILE = "metrics.prom"
LOCK_FILE = "auto.lock"
PLANS_DIR = "plans"


def resolve_state_dir(flag: Path | None, raw: dict[str, Any] | None, spec_path: Path) -> Path:
    """`--state-dir`, else the spec's `auto.state_dir` (relative to the spec file), else ./poolshift-auto."""
    if flag is not None:
        return flag
    auto = raw.get("auto") if raw else None
    value = auto.get("state_dir") if isinstance(auto, dict) else None
    if isinstance(value, str) and value:
        return spec_path.parent / value
    return DEFAULT_STATE_DIR


def new_plan_path(state_dir: Path, moment: datetime) -> Path:
    """`<state>/plans/<UTC timestamp>.json`, with a counter when that name is taken."""
    folder = state_dir / PLANS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stem = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = folder / f"{stem}.json", 1
    while candidate.exists():
        candidate, n = folder / f"{stem}-{n}.json", n + 1
    return candidate


@contextlib.contextmanager
def cycle_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on `path`; LockedError when another cycle holds it.

    The lock goes with the process: a cycle that is killed releases it. The file keeps the holder's pid
    and start time for the message the next cycle gives (planner.locks).
    """
    with exclusive_lock(path, f"since {iso(datetime.now(UTC))}",
                        lambda holder: f"{path} is held by {holder}", what="cycle lock file"):
        yield


def append_audit(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and fsync it: a crash after this call never loses the record. A symlink at `path`
    or a log that cannot be written is an InputError naming the file (exit 2)."""
    data = (json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640, what="audit log")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        raise InputError(f"cannot write the audit log ({exc.strerror or exc})", source=str(path)) from exc
    finally:
        os.close(fd)


def read_audit(path: Path) -> list[dict[str, Any]]:
    """The records of an audit log, oldest first (a torn last line is skipped)."""
    text = read_text_nofollow(path, "audit log")
    out = []
    for line in (text or "").splitlines():
        with contextlib.suppress(json.JSONDecodeError, RecursionError):
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
    """Write the Prometheus text exposition file atomically (node_exporter's textfile collector reads it); a
    symlink at `path` is refused (InputError), neither followed nor replaced."""
    refuse_symlink(path, "metrics file")
    last_success = None
    if result.error is None:
        last_success = finished
    else:
        with contextlib.suppress(InputError, ValueError):
            found = _SUCCESS.search(read_text_nofollow(path, "metrics file") or "")
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

