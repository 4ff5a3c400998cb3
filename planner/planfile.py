"""Plan files (`poolshift.plan/v1`): canonical JSON, atomic writes, reading and validation.

Owns: serialising a plan deterministically (sorted keys, fixed indentation; only `created_at` varies),
writing any JSON/text artefact atomically (temp file in the same folder, fsync, rename), and reading a
plan file back with one-line errors. Must not: compute plans.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from planner.errors import InputError

FORMAT = "poolshift.plan/v1"
REQUIRED = ("format", "project_id", "inventory_fingerprint", "spec_fingerprint", "summary", "pools", "excluded",
            "steps")


def canonical_json(data: Any) -> str:
    """Sorted keys, two-space indentation, a trailing newline: the same data gives the same bytes."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the whole new one, never a part."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("folder does not exist", source=str(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_plan(path: str | Path, document: dict[str, Any]) -> None:
    """Write a plan document atomically in canonical form."""
    write_atomic(path, canonical_json(document))


def read_plan(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a plan file; problems are InputErrors naming the file and key."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file (binary data?)", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", source=source) from None
    if not text.strip():
        raise InputError("file is empty", source=source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", source=source) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object at the top level", source=source, path="$")
    if data.get("format") != FORMAT:
        raise InputError(f"unsupported format {data.get('format')!r} (expected {FORMAT!r})", source=source,
                         path="$.format")
    for key in REQUIRED:
        if key not in data:
            raise InputError("required field is missing", source=source, path=f"$.{key}")
    if not isinstance(data["steps"], list):
        raise InputError("expected an array", source=source, path="$.steps")
    for i, step in enumerate(data["steps"]):
        if not isinstance(step, dict) or not isinstance(step.get("body"), dict) or "pool_name" not in step:
            raise InputError("expected {id, wave, staging, pool_name, body}", source=source, path=f"$.steps[{i}]")
    return data
