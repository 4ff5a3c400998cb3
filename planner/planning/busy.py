"""Busy nodes in planning (PRODUCT §9): which movable units are busy, what moving them ends, what a plan disrupts.

Owns: the unit-level busy rule — a super node moves whole, so it is busy when any member is, and moving it ends
every workload running on any member — the reason a busy node is kept under `busy_nodes: keep` ("busy: runs …"),
the workloads each busy node's move ends (a node whose accelerators are in use with no listed workload ends an
`UNLISTED` one), and each step's `disrupts` with B (`summary.busy_moves`): the nodes moved while busy. A node
runs nothing once it has moved (its workloads ended), so a staging hop's onward move disrupts nothing.
Must not: decide which units move (the solver does, from `UnitClass.busy`) or read raw API objects (the inventory
has the facts: `busy`, `workloads`, `busy_reason` per node).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from planner.inventory import Inventory, Workload
from planner.planning.moves import Step

UNLISTED = Workload("(unlisted: accelerators in use)", "unknown", None)
"""What a busy node without a listed workload runs: its accelerators are in use, ListWorkloads shows nothing."""

BUSY_PREFIX = "busy: "


@dataclass(frozen=True)
class BusyFacts:
    """The busy units of an inventory, under the spec's `busy_nodes` policy."""

    policy: str                                                       # keep | drain | ignore
    known: bool                                                       # the snapshot has a `workloads` key
    node_reason: dict[str, str] = field(default_factory=dict)         # node of a busy unit -> "busy: …"
    ends: dict[str, tuple[Workload, ...]] = field(default_factory=dict)  # node of a busy unit -> what moving it ends
    busy_units: frozenset[str] = frozenset()

    @property
    def keeps(self) -> bool:
        """Busy nodes may not move (`keep`)."""
        return self.policy == "keep"

    @property
    def splits(self) -> bool:
        """Busy units form classes of their own, counted in B (`drain`)."""
        return self.policy == "drain"


def busy_facts(inv: Inventory, policy: str) -> BusyFacts:
    """Busy units, each member's reason and the workloads moving it ends (a super node's: every member's)."""
    col = inv.columns["nodes"]
    names, units, sizes = col["node"], col["unit"], col["unit_size"]
    reasons, workloads = col["busy_reason"], col["workloads"]
    busy = list(compress(range(len(names)), col["busy"]))  # the busy nodes only
    if not busy:
        return BusyFacts(policy, inv.workloads_known)
    node_reason: dict[str, str] = {}
    ends: dict[str, tuple[Workload, ...]] = {}
    members: dict[str, list[tuple[str, str, tuple[Workload, ...]]]] = {}  # busy super node -> its busy members
    for k in busy:
        if sizes[k] == 1:  # a node alone: its own workloads, already sorted
            node_reason[names[k]] = BUSY_PREFIX + reasons[k]
            ends[names[k]] = workloads[k] or (UNLISTED,)
        else:
            members.setdefault(units[k], []).append((names[k], reasons[k], workloads[k] or (UNLISTED,)))
    if members:
        _busy_super_nodes(names, units, sizes, members, node_reason, ends)
    return BusyFacts(policy, inv.workloads_known, node_reason, ends, frozenset(map(units.__getitem__, busy)))


def _busy_super_nodes(names: list[str], units: list[str], sizes: list[int],
                      members: dict[str, list[tuple[str, str, tuple[Workload, ...]]]], node_reason: dict[str, str],
                      ends: dict[str, tuple[Workload, ...]]) -> None:
    """Every member of a busy super node, busy or not: the reason of its first busy member unless its own, and every
    workload of every member (moving the unit ends them all)."""
    unit_nodes: dict[str, list[str]] = {}
    for k in compress(range(len(names)), map((1).__lt__, sizes)):  # the members of super nodes only
        if units[k] in members:
            unit_nodes.setdefault(units[k], []).append(names[k])
    for unit, busy_members in members.items():
        ended = tuple(sorted({w for _, _, running in busy_members for w in running}, key=_order))
        first, first_reason, _ = min(busy_members)
        own = {name: reason for name, reason, _ in busy_members}
        for name in unit_nodes[unit]:
            node_reason[name] = BUSY_PREFIX + own.get(name, f"super node member {first} {first_reason}")
            ends[name] = ended


def _order(w: Workload) -> tuple[str, str, str]:
    return w.name, w.type, str(w.priority)


def unknown_warning(facts: BusyFacts) -> str | None:
    """The one warning of PRODUCT §9: `keep` with a snapshot that does not say what runs where."""
    if not facts.keeps or facts.known:
        return None
    return ("the snapshot has no `workloads` key, so which nodes run workloads is unknown: busy_nodes: keep can only "
            "keep nodes whose accelerators are in use (pull the inventory again to record the Running workloads)")


def disruptions(steps: Sequence[Step], facts: BusyFacts) -> list[list[dict[str, Any]]]:
    """Per step, `{node, workload, type, priority}` for every workload its move ends (PRODUCT §9 `disrupts`)."""
    moved: set[str] = set()
    out: list[list[dict[str, Any]]] = []
    for step in steps:
        ends: list[dict[str, Any]] = []
        for node in step.nodes:
            if node not in moved:
                ends += [{"node": node, "workload": w.name, "type": w.type, "priority": w.priority}
                         for w in facts.ends.get(node, ())]
                moved.add(node)
        out.append(ends)
    return out


def busy_moves(disrupts: Sequence[Sequence[dict[str, Any]]]) -> int:
    """B: nodes moved while busy, each (step, node) that ends at least one workload."""
    return sum(len({d["node"] for d in step}) for step in disrupts)
