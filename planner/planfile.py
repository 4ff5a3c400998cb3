"""Plan files (`poolshift.plan/v1`): canonical JSON, atomic writes, reading and validation.

Owns: serialising a plan deterministically (sorted keys, fixed indentation; only `created_at` varies),
writing any JSON/text artefact atomically (temp file in the same folder, fsync, rename), and reading a
plan file back with one-line errors. Must not: compute plans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.files import canonical_json, load_json_mapping, write_atomic

__all__ = ["canonical_json", "read_plan", "write_atomic", "write_plan"]

FORMAT = "poolshift.plan/v1"
REQUIRED = ("format", "project_id", "inventory_fingerprint", "spec_fingerprint", "summary", "pools", "excluded",
            "steps")


def write_plan(path: str | Path, document: dict[str, Any]) -> None:
    """Write a plan document atomically in canonical form."""
    write_atomic(path, canonical_json(document))


def read_plan(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a plan file; problems are InputErrors naming the file and key."""
    source = str(path)
    data = load_json_mapping(path, "plan")
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
