"""Applying a scenario: its inventory edits to a raw snapshot, then its spec overlay (planner.review.
scenarios.merge).

Inventory overrides work on the RAW snapshot dict (PRODUCT §2: raw Pool and Node API objects) and are
applied in this order, each seeing the result of the previous ones:

1. `add_pool` (a mapping or a list): a new Running, Dedicate pool with no nodes. `network` names an
   existing network (or a new one, with a new `subnet`); `subnet` is an existing subnet id, or
   `{id, total_ips, used_ips?, cidr?}` for a new subnet.
2. `remove_nodes`: node names, or `{pool, flavor, count}` (plain nodes before super-node members, then
   by name). A removed node frees its address in its pool's subnet.
3. `add_nodes`: `[{pool, flavor, count}]`. New Available nodes named `os-node-whatif-<pool>-<n>`, modelled
   on a node of the same pool (same flavor first): its cluster label, node pool labels, host network,
   OS and volumes. Each takes one address in the pool's subnet; the subnet must have room unless the
   scenario also sets that subnet's free addresses.
4. `set_free_ips`: `{subnet id: n}` makes the subnet have exactly n free addresses (`usedIps = totalIps - n`).
5. `lock_nodes`: node names that get annotation `os.modelarts.node/lock.action: whatif`.

Pools are named by `metadata.name` or display name (label `os.modelarts/name`), looked up in the copy the
edits work on (planner.review.scenarios.snapshot). Owns: those edits, in that order, then the spec overlay.
Every problem is an InputError that names the scenario file, the scenario and the key path.
Must not: mutate its inputs, or plan.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from planner.modelarts.objects import (
    ANNOTATION_LOCK,
    LABEL_BATCH_UID,
    LABEL_CLUSTER,
    LABEL_DISPLAY_NAME,
    LABEL_NODEPOOL,
    LABEL_NODEPOOL_NAME,
)
from planner.review.scenarios.merge import merge_spec
from planner.review.scenarios.schema import AddPool, InventoryOverrides, NewSubnet, NodeBatch, Scenario
from planner.review.scenarios.snapshot import EditableSnapshot, NodeIndex, Where

LOCK_VALUE = "whatif"
_COPIED_NODE_LABELS = (LABEL_CLUSTER, LABEL_NODEPOOL, LABEL_NODEPOOL_NAME)
_COPIED_NODE_SPEC = ("hostNetwork", "os", "rootVolume", "dataVolumes", "extendParams")


def _add_pool(snap: EditableSnapshot, item: AddPool, key: str) -> None:
    where = snap.where
    for pool in snap.pools():
        if item.name in (snap.pool_id(pool), snap.display(pool)):
            raise where.fail(f"{key}.name", f"pool {item.name!r} already exists")
        if item.display_name and item.display_name in (snap.pool_id(pool), snap.display(pool)):
            raise where.fail(f"{key}.display_name", f"pool {item.display_name!r} already exists")
    network = _new_pool_network(snap, item, key)
    if item.resources:
        resources = [
            {
                "flavor": r.flavor,
                "count": 0,
                **({"maxCount": r.maxCount} if r.maxCount is not None else {}),
                **({"nodePool": r.nodePool} if r.nodePool else {}),
            }
            for r in item.resources
        ]
    else:
        resources = [{"flavor": f, "count": 0} for f in item.flavor_names()]
    status: dict[str, Any] = {"phase": "Running", "root": item.name, "resources": {"available": []}}
    if item.cluster:
        status["clusters"] = {"name": item.cluster}
    snap.append_pool(
        {
            "apiVersion": "v2",
            "kind": "Pool",
            "metadata": {
                "name": item.name,
                "creationTimestamp": snap.raw.get("captured_at", "1970-01-01T00:00:00Z"),
                "labels": {LABEL_DISPLAY_NAME: item.display_name or item.name},
                "annotations": {"os.modelarts/description": "added by poolshift whatif"},
            },
            "spec": {"type": "Dedicate", "scope": ["Train"], "resources": resources, "network": network},
            "status": status,
        }
    )


def _new_pool_network(snap: EditableSnapshot, item: AddPool, key: str) -> dict[str, Any]:
    """The new pool's `spec.network`: an existing subnet, a new subnet (added to its network), or a network
    with exactly one subnet."""
    where = snap.where
    subnets = snap.subnets()
    networks = {str(n.get("name")): n for n in snap.networks()}
    network: dict[str, Any]
    if isinstance(item.subnet, NewSubnet):
        assert item.network is not None  # checked by the model
        if item.subnet.id in subnets:
            raise where.fail(f"{key}.subnet.id", f"subnet {item.subnet.id!r} already exists; name it as a string")
        new_subnet: dict[str, Any] = {
            "networkId": item.subnet.id,
            "totalIps": item.subnet.total_ips,
            "usedIps": item.subnet.used_ips,
        }
        if item.subnet.cidr:
            new_subnet["cidr"] = item.subnet.cidr
        if item.network in networks:
            snap.network_for_write(item.network).setdefault("subnets", []).append(new_subnet)
        else:
            snap.raw["networks"].append({"name": item.network, "subnets": [new_subnet]})
        network = {"name": item.network, "subnetId": item.subnet.id}
    elif isinstance(item.subnet, str):
        if item.subnet not in subnets:
            raise where.fail(
                f"{key}.subnet", f"unknown subnet {item.subnet!r} (subnets: {', '.join(sorted(subnets)) or 'none'})"
            )
        owner = subnets[item.subnet][1]
        if item.network is not None and item.network != owner:
            raise where.fail(f"{key}.network", f"subnet {item.subnet!r} belongs to network {owner!r}")
        network = {"name": owner, "subnetId": item.subnet}
    else:
        assert item.network is not None  # checked by the model
        if item.network not in networks:
            raise where.fail(
                f"{key}.network",
                f"unknown network {item.network!r} (networks: "
                f"{', '.join(sorted(networks)) or 'none'}); to add one, give a new "
                "subnet as {id, total_ips}",
            )
        count = len(networks[item.network].get("subnets") or [])
        if count != 1:
            raise where.fail(f"{key}.subnet", f"network {item.network!r} has {count} subnets; name one")
        network = {"name": item.network}
    return network


def _remove_node(snap: EditableSnapshot, node: dict[str, Any], pool_id: str, key: str) -> None:
    snap.remove_node(pool_id, node)
    pool = snap.find_pool(pool_id, key)
    subnet = snap.pool_subnet(pool)
    if subnet is not None and isinstance(subnet.get("usedIps"), int):
        subnet["usedIps"] = max(0, subnet["usedIps"] - 1)
    flavor = node.get("spec", {}).get("flavor")
    if isinstance(flavor, str):
        snap.adjust_resource_count(pool, flavor, -1)


def _remove_nodes(snap: EditableSnapshot, items: list[str | NodeBatch]) -> None:
    for i, item in enumerate(items):
        key = f"inventory.remove_nodes[{i}]"
        if isinstance(item, str):
            node, pool_id = snap.find_node(item, key)
            _remove_node(snap, node, pool_id, key)
            continue
        pool = snap.find_pool(item.pool, f"{key}.pool")
        pool_id = snap.pool_id(pool)
        candidates = [n for n in snap.pool_nodes(pool_id) if n.get("spec", {}).get("flavor") == item.flavor]
        if len(candidates) < item.count:
            raise snap.where.fail(
                f"{key}.count",
                f"pool {pool_id} has {len(candidates)} node(s) of flavor {item.flavor}, cannot remove {item.count}",
            )

        def order(node: dict[str, Any]) -> tuple[bool, str]:
            labels = node["metadata"].get("labels") or {}
            return (LABEL_BATCH_UID in labels, str(node["metadata"].get("name")))

        for node in sorted(candidates, key=order)[: item.count]:
            _remove_node(snap, node, pool_id, key)


def _short_name(text: str) -> str:
    short = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:24].strip("-")
    return short or "pool"


def _add_nodes(snap: EditableSnapshot, items: list[NodeBatch], explicit_subnets: set[str]) -> None:
    for i, item in enumerate(items):
        key = f"inventory.add_nodes[{i}]"
        pool = snap.find_pool(item.pool, f"{key}.pool")
        pool_id = snap.pool_id(pool)
        accepted = [r.get("flavor") for r in pool.get("spec", {}).get("resources") or [] if isinstance(r, dict)]
        if item.flavor not in accepted:
            raise snap.where.fail(
                f"{key}.flavor",
                f"pool {pool_id} does not take flavor {item.flavor} "
                f"(it takes: {', '.join(map(str, accepted)) or 'none'})",
            )
        subnet = snap.pool_subnet(pool)
        if subnet is not None and subnet.get("networkId") not in explicit_subnets:
            free = snap.free_ips(subnet)
            if item.count > free:
                raise snap.where.fail(
                    f"{key}.count",
                    f"subnet {subnet.get('networkId')} of pool {pool_id} has "
                    f"{free} free address(es) for {item.count} new node(s); "
                    "raise it with set_free_ips",
                )
        captured_at = snap.raw.get("captured_at")
        ordered = sorted(snap.pool_nodes(pool_id), key=lambda n: str(n["metadata"].get("name")))
        same_flavor = [n for n in ordered if n.get("spec", {}).get("flavor") == item.flavor]
        template = same_flavor[0] if same_flavor else ordered[0] if ordered else None
        short = _short_name(snap.display(pool) or pool_id)
        n = 0
        for _ in range(item.count):
            n += 1
            while snap.has_node(f"os-node-whatif-{short}-{n}"):
                n += 1
            name = f"os-node-whatif-{short}-{n}"
            snap.add_node(pool_id, _new_node(name, item.flavor, template, bool(same_flavor), captured_at))
        if subnet is not None and isinstance(subnet.get("usedIps"), int):
            subnet["usedIps"] = min(int(subnet.get("totalIps", 0)), subnet["usedIps"] + item.count)
        snap.adjust_resource_count(pool, item.flavor, item.count)


def _new_node(
    name: str, flavor: str, template: dict[str, Any] | None, same_flavor: bool, captured_at: Any
) -> dict[str, Any]:
    """A raw Node object modelled on `template` (a node of the same pool), Available and unlocked."""
    labels: dict[str, str] = {}
    spec: dict[str, Any] = {"flavor": flavor}
    status: dict[str, Any] = {"phase": "Available"}
    if template is not None:
        t_labels = template["metadata"].get("labels") or {}
        copied = _COPIED_NODE_LABELS if same_flavor else (LABEL_CLUSTER,)
        labels = {k: str(t_labels[k]) for k in copied if k in t_labels}
        t_spec = template.get("spec") or {}
        spec.update({k: copy.deepcopy(t_spec[k]) for k in _COPIED_NODE_SPEC if k in t_spec})
        t_status = template.get("status") or {}
        if "az" in t_status:
            status["az"] = t_status["az"]
        if same_flavor and "resources" in t_status:
            status["resources"] = copy.deepcopy(t_status["resources"])
            status["availableResources"] = copy.deepcopy(t_status.get("availableResources", t_status["resources"]))
    return {
        "apiVersion": "v2",
        "kind": "Node",
        "metadata": {
            "name": name,
            "creationTimestamp": captured_at if isinstance(captured_at, str) else "1970-01-01T00:00:00Z",
            "labels": labels,
            "annotations": {},
        },
        "spec": spec,
        "status": status,
    }


def _set_free_ips(snap: EditableSnapshot, free: Mapping[str, int]) -> None:
    subnets = snap.subnets()
    for sid, n in free.items():
        key = f"inventory.set_free_ips.{sid}"
        if sid not in subnets:
            raise snap.where.fail(key, f"unknown subnet {sid!r} (subnets: {', '.join(sorted(subnets)) or 'none'})")
        total = subnets[sid][0].get("totalIps")
        if not isinstance(total, int) or n > total:
            raise snap.where.fail(key, f"{n} free addresses is more than the subnet's totalIps ({total})")
        snap.subnet_for_write(sid, subnets[sid][1])["usedIps"] = total - n


def _lock_nodes(snap: EditableSnapshot, names: list[str]) -> None:
    for i, name in enumerate(names):
        shared, pool_id = snap.find_node(name, f"inventory.lock_nodes[{i}]")
        node = snap.node_for_write(pool_id, shared)
        annotations = node["metadata"].get("annotations")
        if not isinstance(annotations, dict):
            annotations = node["metadata"]["annotations"] = {}
        annotations[ANNOTATION_LOCK] = LOCK_VALUE


def apply_inventory_overrides(
    snapshot: Mapping[str, Any], overrides: InventoryOverrides, where: Where, index: NodeIndex | None = None
) -> dict[str, Any]:
    """A new raw snapshot with the overrides applied in the documented order (the input is not changed).

    `index`: the node index of `snapshot`, when several scenarios edit it (built once for all of them)."""
    snap = EditableSnapshot(snapshot, where, index)
    for i, item in enumerate(overrides.add_pool):
        _add_pool(snap, item, f"inventory.add_pool[{i}]")
    _remove_nodes(snap, overrides.remove_nodes)
    _add_nodes(snap, overrides.add_nodes, set(overrides.set_free_ips))
    _set_free_ips(snap, overrides.set_free_ips)
    _lock_nodes(snap, overrides.lock_nodes)
    return snap.raw


def apply_scenario(
    snapshot: Mapping[str, Any], spec: Mapping[str, Any], scenario: Scenario, where: Where,
    index: NodeIndex | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scenario's (snapshot, spec): inventory overrides first, then the spec overlay.

    A scenario without inventory overrides gets the caller's snapshot itself, not a copy: planning only reads it,
    so scenarios that share it also share the inventory derived from it (planner.review.whatif)."""
    snap = (
        apply_inventory_overrides(snapshot, scenario.inventory, where, index)
        if scenario.inventory
        else snapshot if isinstance(snapshot, dict) else dict(snapshot)
    )
    merged = merge_spec(spec, scenario.spec, snap) if scenario.spec else copy.deepcopy(dict(spec))
    return snap, merged
