"""Live state for apply: what the API says now, and what in it matters to a plan.

Owns: a small view of pools, nodes and subnet headroom (from a full snapshot or from a few targeted reads,
whose subnets are found as `inventory pull` finds them, so the documented API shape, without
`status.subnets`, still gives free addresses), the staleness check of a plan against it (only what the plan
depends on: its nodes, its pools, their counts and its target subnets), the preconditions one step must meet
just before it is sent, and a step's effect on the view (`LiveView.land`, for replaying steps ahead).
Must not: send a request other than a read, or decide what to do about a problem (that is the runner).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from planner.errors import ApiStatusError
from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.objects import (
    dig,
    labels_of,
    name_of,
    node_cluster,
    node_reason,
    pool_flavors,
    pool_network,
    pool_status_cluster,
    resolve_pool_subnet,
)
from planner.modelarts.subnets import SubnetDiscovery
from planner.planfile import PlanDocument, PlanStep


def node_phase(node: Mapping[str, Any]) -> str:
    return str(dig(node, "status", "phase"))


def why_immovable(node: Mapping[str, Any]) -> str:
    """Why the API would refuse to move this node now ("" when it may move): the inventory's reasons."""
    return node_reason(node)


@dataclass
class LiveView:
    """Pools (raw objects), their nodes by name, and free addresses per subnet, as read just now."""

    pools: dict[str, JsonObject] = field(default_factory=dict)
    nodes: dict[str, dict[str, JsonObject]] = field(default_factory=dict)
    free: dict[str, int] = field(default_factory=dict)
    network_subnets: dict[str, list[str]] = field(default_factory=dict)
    pool_subnets: dict[str, Any] = field(default_factory=dict)  # the snapshot's `pool_subnets` record, if any
    partial: bool = False   # only some pools were read: a node not found may be elsewhere

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any], *, partial: bool = False) -> LiveView:
        view = cls(partial=partial)
        for pool in snapshot.get("pools") or []:
            view.pools[name_of(pool)] = pool
        for pool_name, items in (snapshot.get("nodes") or {}).items():
            view.nodes[pool_name] = {name_of(n): n for n in items}
        for net in snapshot.get("networks") or []:
            view.add_network(net)
        recorded = snapshot.get("pool_subnets")
        view.pool_subnets = dict(recorded) if isinstance(recorded, dict) else {}
        return view

    def add_network(self, network: Mapping[str, Any]) -> None:
        subnets = [s for s in network.get("subnets") or [] if isinstance(s, dict)]
        self.network_subnets[str(network.get("name"))] = [str(s["networkId"]) for s in subnets]
        for s in subnets:
            self.free[str(s["networkId"])] = int(s["totalIps"]) - int(s["usedIps"])

    def where(self, node_name: str) -> str | None:
        return next((pool for pool, nodes in self.nodes.items() if node_name in nodes), None)

    def node(self, node_name: str) -> JsonObject | None:
        pool = self.where(node_name)
        return self.nodes[pool][node_name] if pool is not None else None

    def count(self, pool_name: str) -> int:
        return len(self.nodes.get(pool_name, {}))

    def flavors(self, pool_name: str) -> dict[str, int | None]:
        """Flavors the pool accepts, with their maxCount (None: no cap)."""
        return pool_flavors(self.pools.get(pool_name))

    def subnet(self, pool_name: str) -> str | None:
        """The pool's subnet by the inventory's rule (planner.modelarts.objects.resolve_pool_subnet)."""
        network, subnet_id = pool_network(self.pools.get(pool_name))
        if subnet_id:  # named by the pool itself: its free addresses may still be unknown here
            return subnet_id
        found, _ = resolve_pool_subnet(network, None, self.pool_subnets.get(pool_name), self.network_subnets,
                                       self.free)
        return found

    def cluster_of(self, node: Mapping[str, Any], pool_name: str) -> str:
        return node_cluster(labels_of(node), pool_name)

    def clusters(self, pool_name: str) -> set[str]:
        """The clusters of the pool's nodes; for an empty pool status.clusters / spec.clusters[0], else its name."""
        found = {self.cluster_of(n, pool_name) for n in self.nodes.get(pool_name, {}).values()}
        return found or {pool_status_cluster(self.pools.get(pool_name)) or pool_name}


    def land(self, step: PlanStep, ips_per_node: int) -> None:
        """The view after `step` arrived: its nodes in the target pool (as its flavor, in its cluster) and their
        addresses taken in the target subnet; the source addresses are freed by `free_sources` (wave end)."""
        for name in step.nodes:
            where = self.where(name)
            node: JsonObject = dict(self.nodes[where].pop(name)) if where is not None else {"metadata": {"name": name}}
            node["spec"] = {**(node.get("spec") or {}), "flavor": step.flavor}
            labels = dict(labels_of(node))
            if "os.modelarts.node/cluster" in labels:
                labels["os.modelarts.node/cluster"] = step.body.toClusterName
            node["metadata"] = {**(node.get("metadata") or {}), "labels": labels}
            self.nodes.setdefault(step.target, {})[name] = node
        subnet = self.subnet(step.target)
        if subnet is not None and subnet in self.free:
            self.free[subnet] -= step.size * ips_per_node

    def free_sources(self, steps: Iterable[PlanStep], ips_per_node: int) -> None:
        """The old addresses of finished steps given back to their source subnets."""
        for step in steps:
            subnet = self.subnet(step.source)
            if subnet is not None and subnet in self.free:
                self.free[subnet] += step.size * ips_per_node


def read_pools(client: ModelArtsClient, pool_names: Iterable[str], *, networks: bool = True) -> JsonObject:
    """A partial snapshot of just these pools (ShowPool and ListPoolNodes each) and, with `networks`, their
    subnets and free addresses, found as `inventory pull` finds them (planner.modelarts.subnets: the subnet
    the pool names, ShowNetwork, the pool's resources, its nodes, ShowNetworkAvailableIp)."""
    pools: list[JsonObject] = []
    nodes: dict[str, list[JsonObject]] = {}
    for name in sorted(set(pool_names)):
        try:
            pools.append(client.show_pool(name))
        except ApiStatusError as exc:
            if exc.status != 404:
                raise
            continue
        nodes[name] = client.list_pool_nodes(name)
    snapshot: JsonObject = {"pools": pools, "nodes": nodes, "networks": []}
    if networks:
        snapshot["networks"], snapshot["pool_subnets"] = SubnetDiscovery(client, []).run(pools, nodes)
    return snapshot


def read_view(client: ModelArtsClient, pool_names: Iterable[str], *, networks: bool = True) -> LiveView:
    """A view of just these pools (see `read_pools`)."""
    return LiveView.from_snapshot(read_pools(client, pool_names, networks=networks), partial=True)


# -- checks ----------------------------------------------------------------------------------------------


def _pool_problems(view: LiveView, pool_name: str) -> list[str]:
    pool = view.pools.get(pool_name)
    if pool is None:
        return [f"pool {pool_name} is gone"]
    problems = []
    phase = dig(pool, "status", "phase")
    if phase != "Running":
        problems.append(f"pool {pool_name} is {phase}, not Running")
    ptype = dig(pool, "spec", "type")
    if ptype != "Dedicate":
        problems.append(f"pool {pool_name} is of type {ptype}, not Dedicate")
    return problems


def _node_problems(view: LiveView, step: PlanStep, name: str, expected_pool: str) -> list[str]:
    where = view.where(name)
    if where is None:
        if view.partial:
            return [f"node {name} (step {step.id}) is no longer in pool {expected_pool}"]
        return [f"node {name} (step {step.id}) is gone"]
    if where != expected_pool:
        return [f"node {name} (step {step.id}) moved: it is in pool {where}, the plan expects pool {expected_pool}"]
    node = view.nodes[where][name]
    problems = []
    reason = why_immovable(node)
    if reason:
        problems.append(f"node {name} (step {step.id}) may not move: {reason}")
    cluster = view.cluster_of(node, where)
    wanted = step.body.fromClusterName
    if cluster != wanted:
        problems.append(f"node {name} (step {step.id}) is in cluster {cluster}, the request says {wanted}")
    return problems


def step_problems(view: LiveView, step: PlanStep, plan: PlanDocument) -> list[str]:
    """Why this step cannot be sent now (empty: it can), from a fresh view of its two pools and their subnets."""
    src, tgt, flavor, size = step.source, step.target, step.flavor, step.size
    problems = _pool_problems(view, src) + _pool_problems(view, tgt)
    if src not in view.pools or tgt not in view.pools:
        return problems
    for name in step.nodes:
        problems += _node_problems(view, step, name, src)
    spec = plan.spec
    source_row, target_row = plan.pools.get(src), plan.pools.get(tgt)
    floor = source_row.floor if source_row is not None else max(2, spec.defaults.min_nodes)
    left = view.count(src) - size
    if left < floor:
        problems.append(f"pool {src} would keep {left} node(s), below its floor {floor}")
    ceiling = target_row.max if target_row is not None else None
    if ceiling is not None and view.count(tgt) + size > ceiling:
        problems.append(f"pool {tgt} would have {view.count(tgt) + size} nodes, above its max {ceiling}")
    caps = view.flavors(tgt)
    if flavor not in caps:
        problems.append(f"pool {tgt} does not accept flavor {flavor}")
    else:
        cap = caps[flavor]
        have = sum(1 for n in view.nodes.get(tgt, {}).values() if dig(n, "spec", "flavor") == flavor)
        if cap is not None and have + size > cap:
            problems.append(f"pool {tgt} would have {have + size} {flavor} nodes, above its maxCount {cap}")
    if step.body.toClusterName not in view.clusters(tgt):
        problems.append(f"toClusterName {step.body.toClusterName} is not the cluster of pool {tgt} "
                        f"({', '.join(sorted(view.clusters(tgt)))})")
    subnet = view.subnet(tgt)
    planned = target_row.subnet if target_row is not None else None
    if planned and subnet != planned:
        problems.append(f"pool {tgt} now uses subnet {subnet}, the plan has {planned}")
    if subnet is not None and subnet in view.free:
        need = size * spec.defaults.ips_per_node
        room = view.free[subnet] - spec.defaults.ip_reserve
        if room < need:
            problems.append(f"subnet {subnet} of pool {tgt} has {room} free address(es) above its reserve, "
                            f"the step needs {need}")
    return problems


def stale_changes(view: LiveView, plan: PlanDocument, *, moved: Iterable[PlanStep],
                  remaining: list[PlanStep]) -> list[str]:
    """What changed since the plan that matters to the steps still to run (empty: nothing that matters).

    `moved` are the steps whose nodes have already moved (done, or accepted and in flight); `remaining`
    the steps still to send, in plan order. Checked: each remaining node exists, is where the plan will
    have it when its step comes (its first remaining step's source pool), may move and is in the request's
    cluster; each pool the remaining steps use is there, Running and Dedicate, accepts the request's flavor
    and keeps the subnet the plan knew; each pool the plan touches has the node count the plan expects
    (`pools[p].before` plus what moved); and each target subnet has the addresses the remaining steps need.
    """
    moved = list(moved)
    changes: list[str] = []
    involved = sorted({s.source for s in remaining} | {s.target for s in remaining})
    for pool_name in involved:
        changes += _pool_problems(view, pool_name)
    for s in remaining:
        if s.target in view.pools and s.flavor not in view.flavors(s.target):
            changes.append(f"pool {s.target} no longer accepts flavor {s.flavor} (step {s.id})")
    for pool_name in involved:
        row = plan.pools.get(pool_name)
        planned = row.subnet if row is not None else None
        if pool_name in view.pools and planned and view.subnet(pool_name) != planned:
            changes.append(f"pool {pool_name} now uses subnet {view.subnet(pool_name)}, the plan has {planned}")
    changes += _count_changes(view, plan, moved, remaining)
    seen: set[str] = set()
    for s in remaining:  # nodes, at their first remaining step
        for name in s.nodes:
            if name not in seen:
                seen.add(name)
                changes += _node_problems(view, s, name, s.source)
    changes += _subnet_shortage(view, plan, remaining)
    return changes


def _count_changes(view: LiveView, plan: PlanDocument, moved: list[PlanStep], remaining: list[PlanStep]) -> list[str]:
    """Pools the plan touches whose node count is not `pools[p].before` plus what already moved."""
    delta: Counter[str] = Counter()
    for s in moved:
        delta[s.source] -= s.size
        delta[s.target] += s.size
    changes = []
    for pool_name in sorted({s.source for s in moved + remaining} | {s.target for s in moved + remaining}):
        row = plan.pools.get(pool_name)
        if row is None or pool_name not in view.pools:
            continue
        expected = row.before + delta[pool_name]
        if view.count(pool_name) != expected:
            done = f" after {len(moved)} finished step(s)" if moved else ""
            changes.append(f"pool {pool_name} has {view.count(pool_name)} nodes, the plan expects {expected}{done} "
                           f"(before: {row.before})")
    return changes


def _subnet_shortage(view: LiveView, plan: PlanDocument, remaining: list[PlanStep]) -> list[str]:
    ips, reserve = plan.spec.defaults.ips_per_node, plan.spec.defaults.ip_reserve
    free = dict(view.free)
    lowest: dict[str, int] = {}
    unknown: set[str] = set()
    waves: dict[int, list[PlanStep]] = {}
    for s in remaining:
        waves.setdefault(s.wave, []).append(s)
    for wave in sorted(waves):
        for s in waves[wave]:
            sub = view.subnet(s.target)
            if sub is None or sub not in free:
                if s.target in view.pools:
                    unknown.add(f"pool {s.target} (step {s.id})")
                continue
            free[sub] -= s.size * ips
            lowest[sub] = min(lowest.get(sub, free[sub]), free[sub])
        for s in waves[wave]:
            sub = view.subnet(s.source)
            if sub is not None and sub in free:
                free[sub] += s.size * ips
    changes = []
    for sub in sorted(lowest):
        if lowest[sub] < reserve:
            need = view.free[sub] - lowest[sub] + reserve
            entry = plan.subnets.get(sub)
            then = f" (the plan saw {entry.free_before})" if entry is not None else ""
            changes.append(f"subnet {sub} has {view.free[sub]} free addresses now{then}; the remaining steps need "
                           f"{need} (reserve {reserve} included)")
    changes += [f"the free addresses of the target subnet of {what} cannot be read" for what in sorted(unknown)]
    return changes
