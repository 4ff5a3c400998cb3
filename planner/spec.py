"""The rebalancing spec (`poolshift.spec/v1`, YAML): models, validation and error messages.

Owns: parsing YAML, validating with pydantic v2 (unknown keys, negative numbers, `min > max`, format, the
`workloads:` section of PRODUCT §9), and
turning pydantic errors into one-line InputErrors that name the file, the key path and the problem.
Checks that need the inventory (unknown pools/nodes, flavor targets for flavors a pool does not accept)
live in `planner.planning.problem`. Must not: read the inventory or call the solver.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from planner.errors import InputError
from planner.files import load_yaml_mapping

FORMAT = "poolshift.spec/v1"

NonNegInt = Annotated[int, Field(ge=0, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Model):
    """Project-wide defaults."""

    min_nodes: Annotated[int, Field(ge=2, strict=True)] = 2
    ips_per_node: Annotated[int, Field(ge=1, strict=True)] = 1
    ip_reserve: NonNegInt = 0


class PoolSpec(_Model):
    """What the user wants of one pool."""

    target: NonNegInt | None = None
    min: NonNegInt | None = None
    max: NonNegInt | None = None
    flavors: dict[str, NonNegInt] = Field(default_factory=dict)
    accept: bool = True
    give: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> PoolSpec:
        """A pool's wishes must not contradict its hard bounds (PRODUCT §3): the hard bound would win silently."""
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.target is not None and self.max is not None and self.target > self.max:
            raise ValueError(f"target ({self.target}) is above max ({self.max})")
        if self.target is not None and self.min is not None and self.target < self.min:
            raise ValueError(f"target ({self.target}) is below min ({self.min})")
        wanted = sum(self.flavors.values())
        if self.max is not None and wanted > self.max:
            raise ValueError(f"flavor targets add up to {wanted}, above max ({self.max})")
        return self


class Limits(_Model):
    """Hard limits on one plan."""

    max_moves: NonNegInt | None = None
    max_batch_size: Annotated[int, Field(ge=1, strict=True)] = 20
    allow_cross_cluster: bool = True


BusyNodes = Literal["keep", "drain", "ignore"]


class WorkloadRules(_Model):
    """What to do with busy nodes (PRODUCT §9): `keep` never moves one (default), `drain` may move them (fewest
    first: the objective is (D, B, M)), `ignore` plans as if they were idle (and still reports them).
    `drain_timeout`: seconds apply waits for drained nodes to become idle."""

    busy_nodes: BusyNodes = "keep"
    drain_timeout: Annotated[int, Field(ge=1, strict=True)] = 1800


class Spec(_Model):
    """A validated `poolshift.spec/v1` document.

    `workloads` is None when the spec has no `workloads:` section; `workload_rules` is what applies either way
    (the defaults: `keep`). A spec without the section dumps, and so fingerprints, as it did before §9 existed.
    """

    format: Literal["poolshift.spec/v1"]
    defaults: Defaults = Field(default_factory=Defaults)
    pools: dict[str, PoolSpec] = Field(default_factory=dict)
    flavor_compat: dict[str, list[str]] = Field(default_factory=dict)
    pin: list[str] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    balance: Literal["none", "even"] = "none"
    auto: dict[str, Any] | None = None  # the `auto:` gates; validated by planner.auto
    workloads: WorkloadRules | None = None

    @model_serializer(mode="wrap")
    def _omit_absent_workloads(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("workloads") is None:
            data.pop("workloads", None)
        return data

    @property
    def workload_rules(self) -> WorkloadRules:
        """The `workloads:` section, or its defaults (`busy_nodes: keep`) when the spec has none."""
        return self.workloads or WorkloadRules()

    def warnings(self) -> list[str]:
        """What the spec asks that the hard rules will overrule, one line each (the plan goes ahead)."""
        floor = max(2, self.defaults.min_nodes)
        return [f"pools.{key}: target {p.target} is below the floor {floor} every pool keeps (defaults.min_nodes, "
                f"at least 2); it will not go below {floor} nodes"
                for key, p in self.pools.items() if p.target is not None and p.target < floor]

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical spec content."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(blob).hexdigest()


def loc_to_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a key path: `('pools', 'a', 'flavors')` -> `pools.a.flavors`, `[2]` for items."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def error_path(loc: tuple[int | str, ...]) -> str:
    """`('steps', 2, 'body')` -> `steps[2].body` (the key-path rule of every file poolshift reads); () -> ""."""
    return loc_to_path(loc) if loc else ""


def describe_error(err: Any) -> str:
    """One readable phrase for a pydantic error entry (without the key path)."""
    kind = err.get("type", "")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    return str(err.get("msg", "invalid value"))


def describe_validation_error(err: Any) -> tuple[str, str]:
    """(key path, problem) for one pydantic error, in the user's terms."""
    loc = tuple(err["loc"])
    etype = err["type"]
    # drop pydantic's internal tags for unions / literals
    loc = tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("function-") or p in {
        "int", "bool", "str", "none", "literal['poolshift.spec/v1']"})))
    path = loc_to_path(loc)
    got = err.get("input")
    if etype == "extra_forbidden":
        return path, "unknown key"
    if etype == "missing":
        return path, "required key is missing"
    if etype in ("greater_than_equal", "greater_than"):
        limit = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("gt"))
        if limit == 0:
            return path, f"must not be negative (got {got!r})"
        return path, f"must be at least {limit} (got {got!r})"
    if etype == "literal_error":
        if loc and loc[-1] == "format":
            return path, f"unsupported format {got!r} (expected {FORMAT!r})"
        return path, f"must be one of {err.get('ctx', {}).get('expected', '')} (got {got!r})"
    if etype.startswith("int") or etype == "int_type":
        return path, f"expected a whole number, got {got!r}"
    if etype.startswith("bool"):
        return path, f"expected true or false, got {got!r}"
    if etype in ("dict_type", "model_type"):
        return path, f"expected a mapping, got {type(got).__name__}"
    if etype == "list_type":
        return path, f"expected a list, got {type(got).__name__}"
    if etype == "string_type":
        return path, f"expected a string, got {got!r}"
    if etype == "value_error":
        return path, str(err.get("ctx", {}).get("error", err["msg"]))
    return path, str(err["msg"])


def parse_spec(data: Any, *, source: str = "<spec>") -> Spec:
    """Validate a spec mapping; the first problem becomes an InputError naming source and key path."""
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping at the top level, got {type(data).__name__}", source=source)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        path, problem = describe_validation_error(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise InputError(problem + more, source=source, path=path) from exc
    for flavor, targets in spec.flavor_compat.items():
        if not targets:
            raise InputError("lists no target flavor", source=source, path=f"flavor_compat.{flavor}")
    if len(set(spec.pin)) != len(spec.pin):
        dup = sorted({n for n in spec.pin if spec.pin.count(n) > 1})[0]
        raise InputError(f"node {dup!r} is pinned twice", source=source, path="pin")
    return spec


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML spec file into a mapping; unreadable or non-YAML files are InputErrors naming the file."""
    return load_yaml_mapping(path, "spec")


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file."""
    return parse_spec(read_spec_file(path), source=str(path))
