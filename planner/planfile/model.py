"""The plan file model (`poolshift.plan/v1`, PRODUCT §6): one typed, frozen description of everything a plan holds.

Owns: `PlanDocument` and its parts, with the checks that need nothing but the model itself (one known format,
distinct step ids, waves that never decrease, non-empty node lists, a node named once per request, super-node
requests shaped as §5 requires), the canonical JSON form, and the digest of a plan's content.
Must not: read or write files (`planner.planfile.io`), compute plans, or know how one was computed.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    ValidationError,
    model_serializer,
    model_validator,
    with_config,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before Python 3.12

from planner.files import canonical_json, compact_json
from planner.jsontext import plain_floats
from planner.spec import Spec

FORMAT = "poolshift.plan/v1"

Count = Annotated[int, Field(ge=0, strict=True)]
Positive = Annotated[int, Field(ge=1, strict=True)]
Name = Annotated[str, Field(min_length=1, strict=True)]


def _error_at(loc: tuple[str | int, ...], kind: str, template: str, **values: Any) -> ValidationError:
    """A validation error at `loc` inside the model being checked (a plain ValueError would point at the model)."""
    error = PydanticCustomError(kind, template, values)
    return ValidationError.from_exception_data("PlanDocument", [InitErrorDetails(type=error, loc=loc, input=None)])


class _Model(BaseModel):
    """Frozen, no unknown keys; numbers and flags are strict (a wave written as "1" is refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _OmitNone(_Model):
    """Optional keys listed in `omit_if_none` are left out of the JSON when unset (as the planner writes them)."""

    omit_if_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in self.omit_if_none:
            if data.get(key) is None:
                data.pop(key, None)
        return data


# -- steps ------------------------------------------------------------------------------------------------


class CreatingStep(_Model):
    """`resourceSpec.creatingStep` of a super-node request: its node count and `hyperinstance`."""

    step: Positive
    type: Literal["hyperinstance"]


class ResourceSpec(_OmitNone):
    """`resourceSpec`: the flavor the nodes run as in the target pool, and `creatingStep` for a super node."""

    omit_if_none = ("creatingStep",)
    flavor: Name
    creatingStep: CreatingStep | None = None


class StepBody(_Model):
    """Exactly the batch-migrate request body (PRODUCT §6)."""

    migrateNodeNames: Annotated[list[Name], Field(min_length=1)]
    fromClusterName: Name
    toClusterName: Name
    toPoolName: Name
    resourceSpec: ResourceSpec

    @model_validator(mode="after")
    def _distinct_nodes(self) -> StepBody:
        seen: set[str] = set()
        for j, name in enumerate(self.migrateNodeNames):
            if name in seen:
                raise _error_at(("migrateNodeNames", j), "node_twice", "node {node} is listed twice", node=name)
            seen.add(name)
        return self


class Disruption(_Model):
    """A Running workload a step ends on one of its nodes (PRODUCT §9)."""

    node: Name
    workload: Name
    type: str
    priority: str | int | None


class Relabel(_Model):
    """A node that runs as another flavor in the target pool (`flavor_compat`, PRODUCT §3): only where its own
    flavor does not fit."""

    node: Name
    from_flavor: Name = Field(alias="from")
    to_flavor: Name = Field(alias="to")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)


class PlanStep(_Model):
    """One request: sent as `POST .../pools/{pool_name}/nodes/batch-migrate` with `body`."""

    id: Positive
    wave: Positive
    staging: StrictBool
    pool_name: Name
    body: StepBody
    disrupts: list[Disruption] = Field(default_factory=list)  # empty when every node of the step is idle
    relabels: list[Relabel] = Field(default_factory=list)     # nodes whose flavor changes (empty: none)

    @model_validator(mode="after")
    def _super_node_shape(self) -> PlanStep:
        creating = self.body.resourceSpec.creatingStep
        if creating is not None and creating.step != len(self.body.migrateNodeNames):
            raise ValueError(f"creatingStep.step is {creating.step} but the request moves "
                             f"{len(self.body.migrateNodeNames)} node(s)")
        if self.pool_name == self.body.toPoolName:
            raise ValueError("the source and target pool are the same")
        return self

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

    @property
    def size(self) -> int:
        return len(self.body.migrateNodeNames)

    @property
    def super_node(self) -> bool:
        return self.body.resourceSpec.creatingStep is not None

    @property
    def crosses_clusters(self) -> bool:
        return self.body.fromClusterName != self.body.toClusterName

    def body_json(self) -> dict[str, Any]:
        """The request body as JSON data, exactly as it is sent."""
        return self.body.model_dump(mode="json")


# -- pools, subnets, summary -------------------------------------------------------------------------------


class Residual(_Model):
    """What is left of a pool's targets after the plan, and the rules that keep it there."""

    deviation: Count
    short: Count
    over: Count
    limited_by: list[str]


class PoolRow(_OmitNone):
    """One pool before and after the plan, with the bounds the plan kept."""

    omit_if_none = ("flavor_targets", "excluded_reason", "residual")
    before: Count
    after: Count
    target: Count | None
    floor: Count
    max: Count | None
    display_name: str
    by_flavor: dict[str, tuple[Count, Count]]
    accepts: dict[str, Count | None]  # flavor -> maxCount (None: no cap)
    takes_part: StrictBool
    cluster: str
    subnet: str | None
    flavor_targets: dict[str, Count | tuple[Count, Count]] | None = None
    excluded_reason: str | None = None
    residual: Residual | None = None


class SubnetRow(_Model):
    """Free addresses of a subnet before and after the plan, and the reserve it must keep."""

    free_before: StrictInt
    free_after: StrictInt
    reserve: Count


@with_config(ConfigDict(extra="forbid"))
class Excluded(TypedDict):
    """A node that may not move, and why: a typed dict, not a model (a plan lists tens of thousands of them when
    nodes are busy, and pydantic checks dicts five times faster than it builds models: 0.04 against 0.19 s for the
    63,493 of hard 100k s1, benchmarks/RESULTS.md). Read it as `entry["node"]`."""

    node: Name
    pool: Name
    reason: str


class Summary(_Model):
    """The figures of PRODUCT §5/§6: D and M before and after, the status and its proof."""

    moves: Count
    requests: Count
    waves: Count
    staging_moves: Count
    deviation_before: Count
    deviation_after: Count
    status: Literal["OPTIMAL", "FEASIBLE"]
    bound: Count
    solve_seconds: Annotated[float, Field(ge=0)]
    cross_cluster_requests: Count
    busy_moves: Count = 0  # B of PRODUCT §9: nodes moved while a workload runs on them
    blocked_by: list[str]


class Generator(_Model):
    """Which poolshift and solver settings made the plan."""

    poolshift: str
    backend: str
    workers: Positive
    seed: StrictInt
    time_limit: Annotated[float, Field(gt=0)]


class PlanDocument(_Model):
    """A whole plan file. Build it once, complete; it never changes afterwards."""

    format: Literal["poolshift.plan/v1"]
    project_id: Name
    region: str | None
    created_at: str
    generator: Generator
    inventory_fingerprint: Name
    spec_fingerprint: Name
    spec: Spec
    summary: Summary
    pools: dict[str, PoolRow]
    subnets: dict[str, SubnetRow]
    excluded: list[Excluded]
    steps: list[PlanStep]
    digest: str  # sha256 of the rest of the plan (`content_digest`): the plan that was reviewed is the plan that runs

    @model_validator(mode="after")
    def _steps_in_order(self) -> PlanDocument:
        seen: set[int] = set()
        last_wave = 0
        for i, step in enumerate(self.steps):
            if step.id in seen:
                raise _error_at(("steps", i, "id"), "step_id_twice", "step id {id} is used twice", id=step.id)
            if step.wave < last_wave:
                raise _error_at(("steps", i, "wave"), "wave_order", "wave {wave} comes after wave {last}",
                                wave=step.wave, last=last_wave)
            seen.add(step.id)
            last_wave = step.wave
        return self

    def to_json(self) -> str:
        """The canonical JSON text of the plan (sorted keys, two-space indentation, trailing newline)."""
        data = self.model_dump(mode="json")
        return canonical_json(data, floats=_dumped_floats(data))

    def sealed_json(self) -> str:
        """`to_json()` of a sealed plan, from one dump that also checks the seal: a ValueError when the digest does
        not match the content (the plan was changed after `.sealed()`, or never sealed).

        The plan `.sealed()` returned last is written from the dump its digest was computed on (kept until then,
        `_LAST_SEALED`): what is written is exactly what was sealed. Any other plan is dumped and checked here."""
        last = _LAST_SEALED.pop(0) if _LAST_SEALED else None
        if last is not None and last[0]() is self:
            return canonical_json(last[1], floats=last[2])
        data = self.model_dump(mode="json")
        floats = _dumped_floats(data)
        if self.digest != content_digest(data, floats=floats):
            raise ValueError("the plan's digest does not match its content (seal it with .sealed())")
        return canonical_json(data, floats=floats)

    def sealed(self) -> PlanDocument:
        """The same plan with `digest` set to the digest of its content."""
        data = self.model_dump(mode="json")
        floats = _dumped_floats(data)
        data["digest"] = content_digest(data, floats=floats)
        done = self.model_copy(update={"digest": data["digest"]})
        _LAST_SEALED[:] = [(weakref.ref(done, _forget), data, floats)]
        return done

    def display_names(self) -> dict[str, str]:
        """Pool id -> the name to show: its display name when display names tell the pools apart, else the id."""
        names = {pool: row.display_name or pool for pool, row in self.pools.items()}
        if len(set(names.values())) != len(names):
            return {pool: pool for pool in self.pools}
        return names

    def pool_name(self, pool: str) -> str:
        """The name to show for a pool id (the id itself for pools the plan does not list)."""
        return self.display_names().get(pool, pool)

    def waves(self) -> Iterator[tuple[int, list[PlanStep]]]:
        """(wave number, its steps), in order."""
        current: list[PlanStep] = []
        for step in self.steps:
            if current and step.wave != current[0].wave:
                yield current[0].wave, current
                current = []
            current.append(step)
        if current:
            yield current[0].wave, current


def content_digest(data: dict[str, Any], *, floats: list[float] | None = None) -> str:
    """sha256 over the canonical JSON (sorted keys, compact, UTF-8) of a plan's data without its `digest`.

    `floats`: every float of `data` when it is known to be plain JSON (`_dumped_floats`); None: any data (a file
    read back), walked to find out."""
    content = {key: value for key, value in data.items() if key != "digest"}
    blob = compact_json(content, floats=floats).encode("utf-8")  # the standard library's compact text, by whoever
    return "sha256:" + hashlib.sha256(blob).hexdigest()


# The plan sealed last, with the dump its digest was computed on (and its floats), until it is written: one slot,
# held by a weak reference (a plan dropped unwritten empties it). A plan is frozen: nothing changes it in between.
_LAST_SEALED: list[tuple[weakref.ref[PlanDocument], dict[str, Any], list[float] | None]] = []


def _forget(ref: weakref.ref[PlanDocument]) -> None:
    """A sealed plan was dropped before it was written: its dump goes too (unless a later plan took the slot)."""
    if _LAST_SEALED and _LAST_SEALED[0][0] is ref:
        _LAST_SEALED.clear()


# The parts of a plan whose models declare no float and no `Any` (strings, strict integers, flags, None, lists and
# objects of them only): their dump need not be walked for floats or odd types (tests/core/test_overhead.py checks).
TYPED_PARTS = {"pools": PoolRow, "subnets": SubnetRow, "excluded": Excluded, "steps": PlanStep}


def _dumped_floats(data: dict[str, Any]) -> list[float] | None:
    """Every float of a plan's `model_dump(mode="json")`, walking only what is not a typed part (the summary, the
    generator, the embedded spec, whose `auto` may hold any YAML); None when that is not plain JSON."""
    return plain_floats({key: value for key, value in data.items() if key not in TYPED_PARTS})
