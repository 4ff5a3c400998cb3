"""Busy nodes at apply time (PRODUCT §9): which of a step's nodes run something now, read from the live API.

A node is busy when a Running workload names its `status.privateIp` (in `hostIps` or `nodes[].hostIp`), or when
its accelerators are in use (`status.availableResources` below `status.resources`) with no listed workload to
explain it: the rule of `planner.inventory`, applied here to objects read just now.

Owns: `BusyNodeError` (exit 4: a step not sent under `keep`), `BusyNode` (a node, the Running workloads on it,
the accelerators nothing listed explains) and its one-line description; the pure rule over node objects and
workload items (`busy_among`); the reads of a step's re-check (`read_busy`: ListWorkloads of the source pool
with `hostip=` for the nodes' addresses, the accelerators of the node objects just read) and of the wait for
drained nodes (`show_nodes`: ShowPoolNode per node); the same facts from a pulled snapshot (`busy_in_snapshot`:
the staleness gate and the dry-run); and the entries of a drain's `ends` (`ends_of`, the shape of a plan step's
`disrupts`).
Must not: decide what to do about a busy node (`keep`, `drain`, `ignore`: planner.apply.submit and
planner.apply.drain do), or send anything but reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from planner.errors import ApiAuthError, ApiStatusError, StalePlanError
from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.objects import (
    Workload,
    name_of,
    node_accelerators_in_use,
    node_private_ip,
    workload_host_ips,
    workload_identity,
    workload_is_running,
)

# What a node whose accelerators are in use runs when ListWorkloads lists nothing on it: the words a plan
# step's `disrupts` uses for it (planner.planning.busy.UNLISTED), so that both read alike.
UNLISTED = Workload("(unlisted: accelerators in use)", "unknown", None)


class BusyNodeError(StalePlanError):
    """A step was not sent because a node of it runs something now and the spec says `keep` (exit 4): its one
    line names the node and the workload, `changes` lists every such node."""


@dataclass(frozen=True)
class BusyNode:
    """A node that runs something now: the Running workloads on it, else the accelerators in use."""

    node: str
    workloads: tuple[Workload, ...]
    accelerators: tuple[str, ...] = ()

    def describe(self) -> str:
        """`node a-03 runs job-x (train, priority 3)`, or what its accelerators tell."""
        if self.workloads:
            return f"node {self.node} runs {describe_workloads(self.workloads)}"
        return (f"node {self.node} has accelerators in use ({', '.join(self.accelerators)}) that no listed "
                f"workload explains")

    @property
    def ended(self) -> tuple[Workload, ...]:
        """What moving (or draining) the node ends: its workloads, else the unlisted placeholder."""
        return self.workloads or (UNLISTED,)


def describe_workloads(workloads: Iterable[Workload]) -> str:
    """`job-x (train, priority 3), svc (infer)`: how messages name workloads."""
    parts = []
    for w in workloads:
        facts = [f for f in (w.type, f"priority {w.priority}" if w.priority is not None else "") if f]
        parts.append(f"{w.name} ({', '.join(facts)})" if facts else w.name)
    return ", ".join(parts)


def busy_among(nodes: Mapping[str, Any], workloads: Iterable[Any]) -> dict[str, BusyNode]:
    """The busy nodes among `nodes` (name -> raw node object), given workload items of any state (only Running
    ones count). A node without an address can only be told busy by its accelerators."""
    by_ip = {ip: name for name, node in nodes.items() if (ip := node_private_ip(node))}
    running: dict[str, list[Workload]] = {}
    for item in workloads:
        if not workload_is_running(item):
            continue
        for ip in workload_host_ips(item):
            if ip in by_ip and workload_identity(item) not in running.setdefault(by_ip[ip], []):
                running[by_ip[ip]].append(workload_identity(item))
    found: dict[str, BusyNode] = {}
    for name in sorted(nodes):
        listed = tuple(sorted(running.get(name, ()), key=lambda w: (w.name, w.type)))
        held = () if listed else node_accelerators_in_use(nodes[name]).held
        if listed or held:
            found[name] = BusyNode(name, listed, tuple(held))
    return found


def read_busy(client: ModelArtsClient, pool_name: str, nodes: Mapping[str, Any]) -> dict[str, BusyNode]:
    """The busy nodes among `nodes` (just read from pool `pool_name`): ListWorkloads of that pool, Running, with
    `hostip=` their addresses (no call when none has one). A pool whose ListWorkloads answers 404 lists none."""
    ips = sorted({ip for node in nodes.values() if (ip := node_private_ip(node))})
    items: list[JsonObject] = []
    if ips:
        try:
            items = client.list_workloads(pool_name, status="Running", host_ips=ips)
        except ApiStatusError as exc:
            if isinstance(exc, ApiAuthError) or exc.status != 404:
                raise
    return busy_among(nodes, items)


def show_nodes(client: ModelArtsClient, pool_name: str, names: Iterable[str]) -> dict[str, JsonObject | None]:
    """ShowPoolNode for each node: its object, or None when it is not (any more) in the pool (404)."""
    found: dict[str, JsonObject | None] = {}
    for name in names:
        try:
            found[name] = client.show_pool_node(pool_name, name)
        except ApiStatusError as exc:
            if isinstance(exc, ApiAuthError) or exc.status != 404:
                raise
            found[name] = None
    return found


def busy_in_snapshot(snapshot: Mapping[str, Any], names: Iterable[str]) -> dict[str, BusyNode]:
    """The busy nodes among `names` in a pulled snapshot: its `workloads` of every pool, its node objects."""
    wanted = set(names)
    nodes = {name_of(n): n for items in (snapshot.get("nodes") or {}).values() for n in items or []
             if name_of(n) in wanted}
    listed = snapshot.get("workloads")
    items = [w for pool in (listed.values() if isinstance(listed, dict) else []) for w in pool or []]
    return busy_among(nodes, items)


def ends_of(busy: Iterable[BusyNode]) -> list[dict[str, Any]]:
    """`[{node, workload, type, priority}]`, as a plan step's `disrupts` lists them: what draining these ends."""
    return [{"node": b.node, "workload": w.name, "type": w.type, "priority": w.priority}
            for b in sorted(busy, key=lambda b: b.node) for w in b.ended]
