"""A tolerant reader for plan files (`poolshift.plan/v1`, PRODUCT §6) as the review tools need them.

The review tools read plans written by any version of the planner, so the models check the fields §6
requires and the optional ones the review uses (`summary.staging_moves`, `summary.waves`,
`summary.blocked_by`, `subnets`), and keep every other field as it is. They never write plans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import InputError
from planner.review._io import load_json_mapping
from planner.spec import loc_to_path

PLAN_FORMAT = "poolshift.plan/v1"


class _Lenient(BaseModel):
    """Known fields are checked; fields added by later planners are kept, not rejected."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Summary(_Lenient):
    moves: int = Field(ge=0)
    requests: int = Field(ge=0)
    deviation_before: int = Field(ge=0)
    deviation_after: int = Field(ge=0)
    status: str
    bound: int | float | None = None
    solve_seconds: float | None = None
    staging_moves: int = Field(default=0, ge=0)
    waves: int | None = Field(default=None, ge=0)
    blocked_by: list[str] = []


class PoolRow(_Lenient):
    before: int = Field(ge=0)
    after: int = Field(ge=0)
    target: int | None = None
    by_flavor: dict[str, tuple[int, int]] = {}


class Excluded(_Lenient):
    node: str
    pool: str
    reason: str


class CreatingStep(_Lenient):
    step: int = Field(ge=1)
    type: str


class ResourceSpec(_Lenient):
    flavor: str
    creatingStep: CreatingStep | None = None


class StepBody(_Lenient):
    migrateNodeNames: list[str] = Field(min_length=1)
    fromClusterName: str
    toClusterName: str
    toPoolName: str
    resourceSpec: ResourceSpec


class Step(_Lenient):
    id: int
    wave: int = Field(ge=1)
    staging: bool = False
    pool_name: str
    body: StepBody

    @property
    def source(self) -> str:
        return self.pool_name

    @property
    def target(self) -> str:
        return self.body.toPoolName

    @property
    def flavor(self) -> str:
        return self.body.resourceSpec.flavor

    @property
    def nodes(self) -> list[str]:
        return self.body.migrateNodeNames


class Subnet(_Lenient):
    free_before: int
    free_after: int
    reserve: int = 0


class PlanDoc(_Lenient):
    format: str
    project_id: str
    inventory_fingerprint: str
    spec_fingerprint: str
    summary: Summary
    pools: dict[str, PoolRow]
    excluded: list[Excluded] = []
    steps: list[Step] = []
    subnets: dict[str, Subnet] = {}

    def pool_names(self) -> dict[str, str]:
        """Pool id -> the name to show: its display name when the plan carries display names that tell
        the pools apart, else the id."""
        display = {}
        for pool, row in self.pools.items():
            value = (row.model_extra or {}).get("display_name")
            display[pool] = value if isinstance(value, str) and value else pool
        names = list(display.values())
        if len(set(names)) != len(names):
            return {pool: pool for pool in self.pools}
        return display

    def pool_name(self, pool: str) -> str:
        """The name to show for a pool id (the id itself for pools the plan does not list)."""
        return self.pool_names().get(pool, pool)

    @property
    def wave_count(self) -> int:
        """`summary.waves` when the plan states it, else the highest wave of its steps."""
        if self.summary.waves is not None:
            return self.summary.waves
        return max((s.wave for s in self.steps), default=0)


def error_path(loc: tuple[int | str, ...]) -> str:
    """`('steps', 2, 'body', 'toPoolName')` -> `steps[2].body.toPoolName` (the spec's key-path rule); () -> ""."""
    return loc_to_path(loc) if loc else ""


def describe_error(err: Any) -> str:
    """One readable phrase for a pydantic error entry."""
    kind = err.get("type", "")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    return str(err.get("msg", "invalid value"))


def parse_plan(data: dict[str, Any], *, source: str) -> PlanDoc:
    """Check a plan document (already parsed JSON) and return its typed view."""
    fmt = data.get("format")
    if fmt != PLAN_FORMAT:
        raise InputError(f"expected format {PLAN_FORMAT!r}, got {fmt!r}", source=source, path="format")
    try:
        return PlanDoc.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(describe_error(err), source=source, path=error_path(err["loc"])) from None


def load_plan(path: Path) -> PlanDoc:
    """Read and check a plan file; any problem is an InputError naming the file and key path."""
    return parse_plan(load_json_mapping(path), source=str(path))
