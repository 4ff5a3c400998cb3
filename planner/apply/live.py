"""Live state for apply: what the API says now, and what in it matters to a plan.

Owns: a small view of pools, nodes and subnet headroom (from a full snapshot or from a few targeted reads),
the staleness check of a plan against it (only what the plan depends on: its nodes, its pools, their
counts and its target subnets), and the preconditions one step must meet just before it is sent.
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
from planner.modelarts.pull import pull_network
from planner.spec import Spec


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
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> LiveView:
        view = cls()
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


def read_view(client: ModelArtsClient, pool_names: Iterable[str], *, networks: bool = True) -> LiveView:
    """A view of just these pools (ShowPool and ListPoolNodes each) and, with `networks`, their networks."""
    view = LiveView(partial=True)
    for name in sorted(set(pool_names)):
        try:
            view.pools[name] = client.show_pool(name)
        except ApiStatusError as exc:
            if exc.status != 404:
                raise
            continue
        view.nodes[name] = {name_of(n): n for n in client.list_pool_nodes(name)}
    if networks:
        for net_name in sorted({str(n) for p in view.pools.values() if (n := dig(p, "spec", "network", "name"))}):
            network = pull_network(client, net_name)
            if network is not None:
                view.add_network(network)
    return view


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


def _node_problems(view: LiveView, step: Mapping[str, Any], name: str, expected_pool: str) -> list[str]:
    sid = step.get("id")
    where = view.where(name)
    if where is None:
        if view.partial:
            return [f"node {name} (step {sid}) is no longer in pool {expected_pool}"]
        return [f"node {name} (step {sid}) is gone"]
    if where != expected_pool:
        return [f"node {name} (step {sid}) moved: it is in pool {where}, the plan expects pool {expected_pool}"]
    node = view.nodes[where][name]
    problems = []
    reason = why_immovable(node)
    if reason:
        problems.append(f"node {name} (step {sid}) may not move: {reason}")
    cluster = view.cluster_of(node, where)
    wanted = (step.get("body") or {}).get("fromClusterName")
    if cluster != wanted:
        problems.append(f"node {name} (step {sid}) is in cluster {cluster}, the request says {wanted}")
    return problems


def step_problems(view: LiveView, step: Mapping[str, Any], plan_pools: Mapping[str, Any], spec: Spec) -> list[str]:
    """Why this step cannot be sent now (empty: it can), from a fresh view of its two pools and their subnets."""
    body = step.get("body") or {}
    src, tgt = str(step.get("pool_name")), str(body.get("toPoolName"))
    names = [str(n) for n in body.get("migrateNodeNames") or []]
    flavor = str((body.get("resourceSpec") or {}).get("flavor"))
    size = len(names)
    problems = _pool_problems(view, src) + _pool_problems(view, tgt)
    if src not in view.pools or tgt not in view.pools:
        return problems
    for name in names:
        problems += _node_problems(view, step, name, src)
    floor = _plan_int(plan_pools, src, "floor", max(2, spec.defaults.min_nodes))
    left = view.count(src) - size
    if floor is not None and left < floor:
        problems.append(f"pool {src} would keep {left} node(s), below its floor {floor}")
    ceiling = _plan_int(plan_pools, tgt, "max", None)
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
    if body.get("toClusterName") not in view.clusters(tgt):
        problems.append(f"toClusterName {body.get('toClusterName')} is not the cluster of pool {tgt} "
                        f"({', '.join(sorted(view.clusters(tgt)))})")
    subnet = view.subnet(tgt)
    planned = _plan_str(plan_pools, tgt, "subnet")
    if planned and subnet != planned:
        problems.append(f"pool {tgt} now uses subnet {subnet}, the plan has {planned}")
    if subnet is not None and subnet in view.free:
        need = size * spec.defaults.ips_per_node
        room = view.free[subnet] - spec.defaults.ip_reserve
        if room < need:
            problems.append(f"subnet {subnet} of pool {tgt} has {room} free address(es) above its reserve, "
                            f"the step needs {need}")
    return problems


def _plan_int(plan_pools: Mapping[str, Any], pool: str, key: str, default: int | None) -> int | None:
    entry = plan_pools.get(pool)
    value = entry.get(key) if isinstance(entry, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _plan_str(plan_pools: Mapping[str, Any], pool: str, key: str) -> str | None:
    entry = plan_pools.get(pool)
    value = entry.get(key) if isinstance(entry, dict) else None
    return value if isinstance(value, str) else None


def stale_changes(view: LiveView, plan: Mapping[str, Any], spec: Spec, *, moved: Iterable[Mapping[str, Any]],
                  remaining: list[Mapping[str, Any]]) -> list[str]:
    """What changed since the plan that matters to the steps still to run (empty: nothing that matters).

    `moved` are the steps whose nodes have already moved (done, or accepted and in flight); `remaining`
    the steps still to send, in plan order. Checked: each remaining node exists, is where the plan will
    have it when its step comes (its first remaining step's source pool), may move and is in the request's
    cluster; each pool the remaining steps use is there, Running and Dedicate, accepts the request's flavor
    and keeps the subnet the plan knew; each pool the plan touches has the node count the plan expects
    (`pools[p].before` plus what moved); and each target subnet has the addresses the remaining steps need.
    """
    plan_pools: Mapping[str, Any] = plan.get("pools") or {}
    changes: list[str] = []
    moved = list(moved)
    all_steps = list(moved) + list(remaining)
    # Pools.
    involved = sorted({str(s.get("pool_name")) for s in remaining}
                      | {str((s.get("body") or {}).get("toPoolName")) for s in remaining})
    for pool_name in involved:
        changes += _pool_problems(view, pool_name)
    for s in remaining:
        body = s.get("body") or {}
        tgt = str(body.get("toPoolName"))
        flavor = str((body.get("resourceSpec") or {}).get("flavor"))
        if tgt in view.pools and flavor not in view.flavors(tgt):
            changes.append(f"pool {tgt} no longer accepts flavor {flavor} (step {s.get('id')})")
    for pool_name in involved:
        planned = _plan_str(plan_pools, pool_name, "subnet")
        if pool_name in view.pools and planned and view.subnet(pool_name) != planned:
            changes.append(f"pool {pool_name} now uses subnet {view.subnet(pool_name)}, the plan has {planned}")
    # Node counts of every pool the plan touches.
    delta: Counter[str] = Counter()
    for s in moved:
        size = len((s.get("body") or {}).get("migrateNodeNames") or [])
        delta[str(s.get("pool_name"))] -= size
        delta[str((s.get("body") or {}).get("toPoolName"))] += size
    touched = sorted({str(s.get("pool_name")) for s in all_steps}
                     | {str((s.get("body") or {}).get("toPoolName")) for s in all_steps})
    for pool_name in touched:
        before = _plan_int(plan_pools, pool_name, "before", None)
        if before is None or pool_name not in view.pools:
            continue
        expected = before + delta[pool_name]
        if view.count(pool_name) != expected:
            done = f" after {len(moved)} finished step(s)" if moved else ""
            changes.append(f"pool {pool_name} has {view.count(pool_name)} nodes, the plan expects {expected}{done} "
                           f"(before: {before})")
    # Nodes, at their first remaining step.
    seen: set[str] = set()
    for s in remaining:
        for name in (s.get("body") or {}).get("migrateNodeNames") or []:
            if name in seen:
                continue
            seen.add(name)
            changes += _node_problems(view, s, str(name), str(s.get("pool_name")))
    # Subnet headroom for the remaining steps, wave by wave (a wave holds all its new addresses at once).
    changes += _subnet_shortage(view, plan, spec, remaining)
    return changes


def _subnet_shortage(view: LiveView, plan: Mapping[str, Any], spec: Spec,
                     remaining: list[Mapping[str, Any]]) -> list[str]:
    ips, reserve = spec.defaults.ips_per_node, spec.defaults.ip_reserve
    free = dict(view.free)
    lowest: dict[str, int] = {}
    unknown: set[str] = set()
    waves: dict[int, list[Mapping[str, Any]]] = {}
    for s in remaining:
        waves.setdefault(int(s.get("wave") or 0), []).append(s)
    for wave in sorted(waves):
        for s in waves[wave]:
            body = s.get("body") or {}
            tgt = str(body.get("toPoolName"))
            sub = view.subnet(tgt)
            if sub is None or sub not in free:
                if tgt in view.pools:
                    unknown.add(f"pool {tgt} (step {s.get('id')})")
                continue
            free[sub] -= len(body.get("migrateNodeNames") or []) * ips
            lowest[sub] = min(lowest.get(sub, free[sub]), free[sub])
        for s in waves[wave]:
            sub = view.subnet(str(s.get("pool_name")))
            if sub is not None and sub in free:
                free[sub] += len((s.get("body") or {}).get("migrateNodeNames") or []) * ips
    changes = []
    planned: Mapping[str, Any] = plan.get("subnets") or {}
    for sub in sorted(lowest):
        if lowest[sub] < reserve:
            need = view.free[sub] - lowest[sub] + reserve
            entry = planned.get(sub)
            was = entry.get("free_before") if isinstance(entry, dict) else None
            then = f" (the plan saw {was})" if was is not None else ""
            changes.append(f"subnet {sub} has {view.free[sub]} free addresses now{then}; the remaining steps need "
                           f"{need} (reserve {reserve} included)")
    changes += [f"the free addresses of the target subnet of {what} cannot be read" for what in sorted(unknown)]
    return changes
