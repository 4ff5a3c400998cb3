"""What the planner moves: a unit (`Move`) and a batch-migrate request (`Step`), as plain frozen values.

Owns: these two data types and the request body of PRODUCT §6 (`Step.body`). Placement makes Moves, ordering
groups them into Steps, the per-step rules and staging check and add Steps, the plan document records them.
Must not: decide anything.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Move:
    """One unit (a node, or a whole super node) going from `source` to `target`, running as `flavor` there."""

    unit: str
    nodes: tuple[str, ...]
    source: str
    target: str
    flavor: str
    source_flavor: str
    from_cluster: str
    to_cluster: str

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def is_super_node(self) -> bool:
        return self.unit.startswith("hyperinstance:")


@dataclass(frozen=True)
class Step:
    """One batch-migrate request: `nodes` leave `source` for `target`, running as `flavor` there."""

    source: str
    target: str
    flavor: str
    nodes: tuple[str, ...]
    source_flavors: tuple[str, ...]
    from_cluster: str
    to_cluster: str
    super_node: bool = False
    staging: bool = False
    deferred: bool = False  # the onward move of a staged unit: runs only when no other request can
    id: int = 0
    wave: int = 0

    @property
    def size(self) -> int:
        return len(self.nodes)

    def body(self) -> dict[str, object]:
        """The exact batch-migrate request body (PRODUCT §6)."""
        resource_spec: dict[str, object] = {"flavor": self.flavor}
        if self.super_node:
            resource_spec["creatingStep"] = {"step": self.size, "type": "hyperinstance"}
        return {
            "migrateNodeNames": list(self.nodes),
            "fromClusterName": self.from_cluster,
            "toClusterName": self.to_cluster,
            "toPoolName": self.target,
            "resourceSpec": resource_spec,
        }
