"""Reading and writing plan files: the one reader every command uses, and the one writer.

Owns: `read_plan` / `parse_plan`, which turn any problem into a one-line InputError naming the file and the
`$.`-path (exit 2): a malformed file, a plan that does not add up (`planner.planfile.check`), or a plan whose
content no longer matches its digest ("the plan was modified"); and `write_plan`, which writes the canonical
JSON atomically.
Must not: compute plans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import InputError
from planner.files import load_json_mapping, write_atomic
from planner.planfile.check import plan_problems
from planner.planfile.model import FORMAT, PlanDocument, content_digest
from planner.spec import describe_validation_error


def parse_plan(data: Any, *, source: str) -> PlanDocument:
    """Check plan data (already parsed JSON) and return the model; any problem is an InputError naming the key."""
    if not isinstance(data, dict):
        raise InputError(f"top level must be a JSON object, not {type(data).__name__}", source=source)
    fmt = data.get("format")
    if fmt != FORMAT:
        raise InputError(f"unsupported format {fmt!r} (expected {FORMAT!r})", source=source, path="$.format")
    try:
        doc = PlanDocument.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        path, problem = describe_validation_error(errors[0])
        if path == "spec" or path.startswith("spec."):
            problem = f"{problem} (in the spec the plan embeds)"
        raise InputError(problem, source=source, path="$" if path == "(top level)" else f"$.{path}") from exc
    problems = plan_problems(doc)
    if problems:
        raise InputError(f"the plan does not add up (was it edited?): {problems[0]}", source=source,
                         path=None)
    if content_digest(data) != doc.digest:
        raise InputError(f"the plan was modified after it was written: its content does not match its digest "
                         f"{doc.digest}; plan again, or review and re-plan the change", source=source,
                         path="$.digest")
    return doc


def read_plan(path: str | Path) -> PlanDocument:
    """Read and check a plan file; any problem is an InputError naming the file and key path."""
    return parse_plan(load_json_mapping(path, "plan"), source=str(path))


def write_plan(path: str | Path, plan: PlanDocument) -> None:
    """Write a plan atomically in canonical form (its digest must match its content: a ValueError otherwise)."""
    try:
        text = plan.sealed_json()  # one dump, for the check and the text
    except ValueError as exc:
        raise ValueError(f"write_plan: {exc}") from None
    write_atomic(path, text)
