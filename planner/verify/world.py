"""The verifier's own reading of a raw snapshot: pools, nodes, units, subnets, and the deviation of a state.

Part of the independent verifier (`planner.verify`): it repeats the rules of `planner.modelarts.objects` and
`planner.inventory` with code of its own, on purpose, so that a mistake there cannot hide from the verifier.
Must not: import the inventory, snapshot, API or planning modules, or `solvers`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from planner.spec import Spec

_HYPER = "hyperinstance"


@dataclass
class World:
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)   # name -> facts
    where: dict[str, str] = field(default_factory=dict)              # node -> pool
    flavor: dict[str, str] = field(default_factory=dict)             # node -> flavor
    cluster: dict[str, str] = field(default_factory=dict)            # node -> cluster label or pool
    unit: dict[str, str] = field(default_factory=dict)               # super node member -> its uid (others: absent)
    unit_members: dict[str, set[str]] = field(default_factory=dict)
    free: dict[str, int] = field(default_factory=dict)               # subnet -> free addresses
    raw_node: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> its raw object
    pins: set[str] = field(default_factory=set)                      # nodes the spec pins
    listed_twice: bool = False                                       # some node name is listed more than once
    running: dict[str, set[tuple[str, str, Any]]] | None = None      # read ahead: address -> Running workloads

    def why_not(self, name: str) -> str:
        """Why the node may not move ("" when it may), read from its raw object when asked (plans name few nodes)."""
        node = self.raw_node[name]
        meta = node["metadata"]
        labels = meta.get("labels") or _EMPTY
        if (node.get("status") or _EMPTY).get("phase") != "Available":
            return "not Available"
        if (meta.get("annotations") or _EMPTY).get("os.modelarts.node/lock.action"):
            return "locked"
        if labels.get("os.modelarts/billing.status", "0") != "0":
            return "billing status"
        if "os.modelarts.node/volcano.scheduler.cabinet-exclusive" in labels:
            return "cabinet-exclusive"
        return "pinned" if name in self.pins else ""


_EMPTY: dict[str, Any] = {}


def _labels(obj: dict[str, Any], key: str) -> dict[str, str]:
    meta = obj.get("metadata") or _EMPTY
    labels: dict[str, str] = meta.get(key) or _EMPTY
    return labels


def _pool_keys(raw: dict[str, Any]) -> dict[str, str]:
    """Spec pool key -> pool: every pool id, and each display name only one pool carries (and no id equals)."""
    display_count = Counter(_labels(p, "labels").get("os.modelarts/name", "") for p in raw["pools"])
    by_key = {pool["metadata"]["name"]: pool["metadata"]["name"] for pool in raw["pools"]}
    for pool in raw["pools"]:
        disp = _labels(pool, "labels").get("os.modelarts/name", "")
        if disp and display_count[disp] == 1 and disp not in by_key:
            by_key[disp] = pool["metadata"]["name"]
    return by_key


def _pool_subnet(name: str, net: dict[str, Any], subnets_of: dict[str, list[str]], free: dict[str, int],
                 recorded: dict[str, Any]) -> str | None:
    """spec.network.subnetId; else the subnet `inventory pull` recorded for the pool; else the network's only one."""
    if net.get("subnetId"):
        return str(net["subnetId"]) if net["subnetId"] in free else None
    if name in recorded and isinstance(recorded[name], dict) and "subnet" in recorded[name]:
        found = recorded[name].get("subnet")
        return str(found) if found in free else None
    candidates = subnets_of.get(str(net.get("name")), [])
    return candidates[0] if len(candidates) == 1 else None


def read_world(raw: dict[str, Any], spec: Spec) -> World:
    w = World()
    subnets_of: dict[str, list[str]] = {}
    for net in raw.get("networks") or []:
        subnets_of[net["name"]] = [s["networkId"] for s in net.get("subnets") or []]
        for s in net.get("subnets") or []:
            w.free[s["networkId"]] = int(s["totalIps"]) - int(s["usedIps"])
    by_key = _pool_keys(raw)
    wishes = {by_key[k]: v for k, v in spec.pools.items() if k in by_key}
    recorded = raw.get("pool_subnets") or {}
    for pool in raw["pools"]:
        name = pool["metadata"]["name"]
        spec_part = pool.get("spec") or {}
        status = pool.get("status") or {}
        flavors: dict[str, int | None] = {}
        for res in spec_part.get("resources") or []:
            flavors.setdefault(res["flavor"], res.get("maxCount"))
        wish = wishes.get(name)
        w.pools[name] = {
            "part": status.get("phase") == "Running" and spec_part.get("type") == "Dedicate",
            "flavors": flavors, "wish": wish,
            "subnet": _pool_subnet(name, spec_part.get("network") or {}, subnets_of, w.free, recorded),
            "floor": max(2, spec.defaults.min_nodes, (wish.min if wish and wish.min is not None else 0)),
            "status_cluster": _status_cluster(status, spec_part),
        }
    _read_nodes(w, raw, set(spec.pin))
    members_of: dict[str, Counter[str]] = {}
    # `where` and `cluster` are filled together, node by node, so their values are in the same order
    for (p, cluster), k in Counter(zip(w.where.values(), w.cluster.values(), strict=True)).items():
        members_of.setdefault(p, Counter())[cluster] = k
    for pool_name, facts in w.pools.items():
        members = members_of.get(pool_name)
        if members:
            top = max(members.values())
            facts["cluster"] = min(c for c, k in members.items() if k == top)
        else:
            facts["cluster"] = facts["status_cluster"] or pool_name
    return w


def _read_nodes(w: World, raw: dict[str, Any], pins: set[str]) -> None:
    """Each node's pool, flavor, cluster and super node; why one may not move is read when a step names it."""
    where, flavor, cluster, unit, raw_node = w.where, w.flavor, w.cluster, w.unit, w.raw_node
    w.pins = pins
    empty, hyper, listed = _EMPTY, _HYPER, 0
    for pool_name, items in (raw.get("nodes") or empty).items():
        listed += len(items)
        for node in items:
            meta = node["metadata"]
            name = meta["name"]
            labels = meta.get("labels") or empty
            where[name] = pool_name
            flavor[name] = node["spec"]["flavor"]
            cluster[name] = labels.get("os.modelarts.node/cluster") or pool_name
            raw_node[name] = node
            uid = labels.get("os.modelarts.node/batch.uid", "") \
                if labels.get("os.modelarts.node/batch.type") == hyper else ""
            if uid:
                unit[name] = uid
                w.unit_members.setdefault(uid, set()).add(name)
    w.listed_twice = len(where) < listed
    if w.listed_twice:
        _last_units(w, raw)  # a node name listed twice: its last listing decides, as for the other facts


def _last_units(w: World, raw: dict[str, Any]) -> None:
    """The super node uid of each node by its last listing (only for a snapshot that lists a node name twice)."""
    for items in (raw.get("nodes") or _EMPTY).values():
        for node in items:
            meta = node["metadata"]
            labels = meta.get("labels") or _EMPTY
            if labels.get("os.modelarts.node/batch.type") == _HYPER and labels.get("os.modelarts.node/batch.uid", ""):
                w.unit[meta["name"]] = labels["os.modelarts.node/batch.uid"]
            else:
                w.unit.pop(meta["name"], None)


def _status_cluster(status: dict[str, Any], spec_part: dict[str, Any]) -> str | None:
    c = status.get("clusters")
    if isinstance(c, list):
        c = c[0] if c else None
    if isinstance(c, dict) and c.get("name"):
        return str(c["name"])
    sc = spec_part.get("clusters")
    if isinstance(sc, list) and sc and isinstance(sc[0], dict) and sc[0].get("name"):
        return str(sc[0]["name"])
    return None


def expected_flavor(spec: Spec, flavor: str, accepted: dict[str, Any]) -> str | None:
    for cand in [flavor, *spec.flavor_compat.get(flavor, [])]:  # its own flavor whenever it fits
        if cand in accepted:
            return cand
    return None


def counts(w: World) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    per_pool: Counter[str] = Counter(w.where.values())
    # `where` and `flavor` are filled together, node by node, so their values are in the same order
    per_cell: Counter[tuple[str, str]] = Counter(zip(w.where.values(), w.flavor.values(), strict=True))
    return per_pool, per_cell


def deviation(w: World, spec: Spec, per_pool: Counter[str], per_cell: Counter[tuple[str, str]],
               start_cell: Counter[tuple[str, str]]) -> int:
    total = 0
    for name, facts in w.pools.items():
        wish = facts["wish"]
        if wish is not None and wish.target is not None:
            total += abs(per_pool[name] - wish.target)
        if wish is not None:
            for flavor, want in wish.flavors.items():
                total += abs(per_cell[(name, flavor)] - want)
    if spec.balance == "even":
        untargeted = [n for n, f in w.pools.items() if f["part"] and (f["wish"] is None or f["wish"].target is None)]
        for flavor in sorted({fl for n in untargeted for fl in w.pools[n]["flavors"]}):
            group = [n for n in untargeted if flavor in w.pools[n]["flavors"]
                     and not (w.pools[n]["wish"] is not None and flavor in w.pools[n]["wish"].flavors)]
            if not group:
                continue
            held = sum(start_cell[(n, flavor)] for n in group)
            low, high = held // len(group), (held + len(group) - 1) // len(group)
            for n in group:
                v = per_cell[(n, flavor)]
                total += max(0, low - v) + max(0, v - high)
    return total
