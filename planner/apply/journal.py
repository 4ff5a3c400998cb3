"""The apply journal (append-only JSONL, one fsync per record) and the run lock beside it.

Owns: where the journal lives, writing a record so that it survives a crash the moment `write` returns,
reading a journal back (a torn last line, from a crash mid-write, is ignored), the fingerprints that tie a
journal to its plan and a record to its request, and the exclusive lock that keeps two runs of one plan
apart. Must not: interpret records (that is `planner.apply.steps`) or hold a credential.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.files import JsonObject, open_nofollow, read_text_nofollow
from planner.locks import exclusive_lock
from planner.planfile import PlanDocument

JOURNAL_FORMAT = "poolshift.journal/v1"


def default_journal_path(plan_path: Path) -> Path:
    """`<plan file>.journal.jsonl`, beside the plan."""
    return plan_path.with_name(plan_path.name + ".journal.jsonl")


def lock_path(journal_path: Path) -> Path:
    """`<journal>.lock`, beside the journal."""
    return journal_path.with_name(journal_path.name + ".lock")


def _digest(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def plan_fingerprint(plan: PlanDocument) -> str:
    """sha256 of the plan's steps, project and inventory fingerprint (what a journal's progress refers to)."""
    return _digest({"project_id": plan.project_id, "inventory_fingerprint": plan.inventory_fingerprint,
                    "steps": [step.model_dump(mode="json") for step in plan.steps]})


def request_fingerprint(pool_name: str, body: Mapping[str, Any]) -> str:
    """sha256 of one batch-migrate request (source pool and body)."""
    return _digest({"pool_name": pool_name, "body": body})


def utc_now() -> str:
    """Now, as `2026-11-28T00:00:00.123Z`."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Journal:
    """An open journal file: every `write` appends one JSON line, flushes and fsyncs it before returning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        existed = path.exists()
        # O_NOFOLLOW: a symlink planted at the journal's path is refused, never appended to (issue 17.5)
        self._fd = open_nofollow(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600, what="journal")
        if existed:
            self._finish_torn_line()
        else:
            _fsync_folder(path.parent)

    def _finish_torn_line(self) -> None:
        """After a crash mid-write the file may end inside a line; start the next record on a fresh line."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        if os.pread(self._fd, 1, size - 1) != b"\n":
            os.write(self._fd, b"\n")
            os.fsync(self._fd)

    def write(self, event: str, step: int | None = None, **fields: Any) -> JsonObject:
        """Append `{"ts", "event", "step", **fields}`; it is on disk when this returns."""
        record: JsonObject = {"ts": utc_now(), "event": event, "step": step, **fields}
        line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        written = 0
        while written < len(data):  # one write for a line this size; the loop covers short writes
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)
        return record

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: Path) -> list[JsonObject]:
    """Every record of a journal, in order; an unreadable last line (torn by a crash) is ignored. A symlink at
    `path` is refused (InputError), never followed."""
    text = read_text_nofollow(path, "journal")
    if text is None:
        return []
    lines = text.split("\n")
    records: list[JsonObject] = []
    torn: int | None = None  # a line a crash cut short: the last one, or the last before a new run's start
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("event"), str):
            if torn is not None:
                raise InputError("not a journal record", source=str(path), path=f"line {torn}")
            torn = number
            continue
        if torn is not None and record["event"] != "start":
            raise InputError("not a journal record", source=str(path), path=f"line {torn}")
        torn = None
        record["_line"] = number
        records.append(record)
    return records


# Records a run writes without an answer from the API (a resume moves failed steps back, then may stop).
_LOCAL_EVENTS = frozenset({"stopped", "retry"})


def last_start(path: Path) -> JsonObject | None:
    """The `start` record of the last run that reached the API (one followed by a record only an API answer
    explains); else the last `start` record; None without one. A resume given a wrong endpoint writes its start
    record, then stops: the next resume must not take that connection."""
    records = read_journal(path)
    starts = [i for i, r in enumerate(records) if r.get("event") == "start" and r.get("step") is None]
    for n, i in reversed(list(enumerate(starts))):
        following = records[i + 1:starts[n + 1] if n + 1 < len(starts) else len(records)]
        if any(r.get("event") not in _LOCAL_EVENTS for r in following):
            return records[i]
    return records[starts[-1]] if starts else None


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def run_lock(journal_path: Path, *, owner: str, timeout: float = 0.0) -> contextlib.AbstractContextManager[Path]:
    """Hold an exclusive lock on `<journal>.lock` for the block (waiting up to `timeout` seconds); held elsewhere:
    LockedError. A symlink at its path is refused (InputError), never followed.

    The file keeps the holder's pid and `owner` text so the refusal can name them (planner.locks).
    """
    path = lock_path(journal_path)
    return exclusive_lock(path, owner, lambda holder: (
        f"another apply of this plan is running ({holder}; lock {path}); wait for it to finish or stop it, "
        f"then run again with --resume"), timeout=timeout, what="journal lock file")
