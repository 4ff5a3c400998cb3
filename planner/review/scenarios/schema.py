"""What-if scenario files (`poolshift.scenarios/v1`, YAML): the models and their validation.

A scenario file lists scenarios; each has a `name`, optional `inventory` overrides and an optional
`spec` overlay:

```yaml
format: poolshift.scenarios/v1
scenarios:
  - name: baseline                      # neither inventory nor spec: the plain plan
  - name: four-more-v100
    inventory:
      add_nodes: [{pool: pool-train, flavor: modelarts.vm.gpu.8xv100, count: 4}]
    spec:
      pools: {pool-train: {target: 16}}
```

Owns: the frozen pydantic models of that format, reading a file, and turning the first validation problem
into an InputError that names the file, the scenario (`scenarios[2] (drain)`) and the key path.
Must not: look at an inventory or a spec (names are resolved when the edits are applied, planner.review.
scenarios.edits), or change its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from planner.errors import InputError
from planner.review._io import load_yaml_mapping
from planner.spec import describe_error, error_path

SCENARIOS_FORMAT = "poolshift.scenarios/v1"
_UNION_TAGS = {"by-name", "by-count", "existing", "new"}

Name = Annotated[str, Field(min_length=1, strict=True)]
Count = Annotated[int, Field(ge=1, strict=True)]
NonNeg = Annotated[int, Field(ge=0, strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeBatch(_Strict):
    """`count` nodes of `flavor` in `pool`."""

    pool: Name
    flavor: Name
    count: Count


def _by_name_or_count(value: Any) -> str:
    return "by-name" if isinstance(value, str) else "by-count"


RemoveItem = Annotated[
    Annotated[Name, Tag("by-name")] | Annotated[NodeBatch, Tag("by-count")],
    Discriminator(_by_name_or_count),
]


class NewSubnet(_Strict):
    """A subnet that does not exist yet (added to `network`)."""

    id: Name
    total_ips: Count
    used_ips: NonNeg = 0
    cidr: str | None = None

    @model_validator(mode="after")
    def _used_within_total(self) -> NewSubnet:
        if self.used_ips > self.total_ips:
            raise ValueError(f"used_ips ({self.used_ips}) is greater than total_ips ({self.total_ips})")
        return self


def _existing_or_new(value: Any) -> str:
    return "existing" if isinstance(value, str) else "new"


SubnetRef = Annotated[
    Annotated[Name, Tag("existing")] | Annotated[NewSubnet, Tag("new")],
    Discriminator(_existing_or_new),
]


class PoolResource(_Strict):
    flavor: Name
    maxCount: NonNeg | None = None
    nodePool: str | None = None


class AddPool(_Strict):
    """A new Running, Dedicate pool with no nodes."""

    name: Name
    display_name: str | None = None
    flavors: list[Name] | None = None
    resources: list[PoolResource] | None = None
    network: str | None = None
    subnet: SubnetRef | None = None
    cluster: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> AddPool:
        if bool(self.flavors) == bool(self.resources):
            raise ValueError("give exactly one of flavors (a list of flavors) or resources (a list of {flavor, ...})")
        if self.network is None and self.subnet is None:
            raise ValueError("give network, subnet or both")
        if isinstance(self.subnet, NewSubnet) and self.network is None:
            raise ValueError("a new subnet needs the network it belongs to")
        return self

    def flavor_names(self) -> list[str]:
        return list(self.flavors) if self.flavors else [r.flavor for r in self.resources or []]


class InventoryOverrides(_Strict):
    add_pool: list[AddPool] = []
    remove_nodes: list[RemoveItem] = []
    add_nodes: list[NodeBatch] = []
    set_free_ips: dict[Name, NonNeg] = {}
    lock_nodes: list[Name] = []

    @field_validator("add_pool", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, Mapping) else value

    @property
    def empty(self) -> bool:
        return not (self.add_pool or self.remove_nodes or self.add_nodes or self.set_free_ips or self.lock_nodes)


class Scenario(_Strict):
    name: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    description: str | None = None
    inventory: InventoryOverrides | None = None
    spec: dict[str, Any] | None = None

    @property
    def is_baseline(self) -> bool:
        """No inventory override and no spec overlay: the plain plan."""
        return (self.inventory is None or self.inventory.empty) and not self.spec


class ScenarioFile(_Strict):
    format: Literal["poolshift.scenarios/v1"]
    scenarios: list[Scenario] = Field(min_length=1)

    @field_validator("scenarios")
    @classmethod
    def _unique_names(cls, scenarios: list[Scenario]) -> list[Scenario]:
        seen: set[str] = set()
        for s in scenarios:
            if s.name in seen:
                raise ValueError(f"scenario name {s.name!r} is used twice")
            seen.add(s.name)
        return scenarios


def scenario_key(index: int, name: str | None) -> str:
    """How messages name a scenario: `scenarios[2] (drain-infer)`."""
    return f"scenarios[{index}] ({name})" if name else f"scenarios[{index}]"


def parse_scenarios(data: dict[str, Any], *, source: str) -> ScenarioFile:
    """Check a parsed scenario file; the first problem names the scenario and the key path."""
    if data.get("format") != SCENARIOS_FORMAT:
        raise InputError(
            f"expected format {SCENARIOS_FORMAT!r}, got {data.get('format')!r}", source=source, path="format"
        )
    try:
        return ScenarioFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if p not in _UNION_TAGS)
        path = error_path(loc)
        raw = data.get("scenarios")
        if len(loc) >= 2 and loc[0] == "scenarios" and isinstance(loc[1], int) and isinstance(raw, list):
            item = raw[loc[1]] if loc[1] < len(raw) else None
            name = item.get("name") if isinstance(item, dict) and isinstance(item.get("name"), str) else None
            path = scenario_key(loc[1], name) + ("." + error_path(loc[2:]) if loc[2:] else "")
        message = describe_error(err)
        if err.get("type") == "value_error":
            message = str(err.get("ctx", {}).get("error", message))
        elif err.get("type") == "string_pattern_mismatch" and loc[-1:] == ("name",):
            message = "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        raise InputError(message, source=source, path=path) from exc


def load_scenarios(path: Path) -> ScenarioFile:
    """Read and check a scenario file."""
    return parse_scenarios(load_yaml_mapping(path), source=str(path))
