"""Compact builders for raw `poolshift.inventory/v1` snapshots and specs used by the core tests."""

from __future__ import annotations

import copy
from typing import Any

PROJECT = "0123456789abcdef0123456789abcdef"


def node(name: str, flavor: str = "f.a", *, phase: str = "Available", cluster: str | None = None,
         labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
         super_node: str | None = None, ip: str | None = None, resources: dict[str, Any] | None = None,
         available: dict[str, Any] | None = None) -> dict[str, Any]:
    """A raw node; `ip` sets `status.privateIp`, `resources`/`available` its capacity and what is free (PRODUCT §9)."""
    lab = dict(labels or {})
    if cluster:
        lab["os.modelarts.node/cluster"] = cluster
    if super_node:
        lab["os.modelarts.node/batch.type"] = "hyperinstance"
        lab["os.modelarts.node/batch.uid"] = super_node
    status: dict[str, Any] = {"phase": phase}
    if ip is not None:
        status["privateIp"] = ip
    if resources is not None:
        status["resources"] = dict(resources)
        status["availableResources"] = dict(resources if available is None else available)
    return {"apiVersion": "v2", "kind": "Node",
            "metadata": {"name": name, "labels": lab, "annotations": dict(annotations or {})},
            "spec": {"flavor": flavor}, "status": status}


def workload(name: str, ips: list[str], *, status: str = "Running", kind: str = "train", priority: Any = "2",
             as_members: bool = False) -> dict[str, Any]:
    """A raw ListWorkloads item running on `ips`: in `hostIps`, or (`as_members`) only in `nodes[].hostIp`."""
    item: dict[str, Any] = {"apiVersion": "v1", "kind": "Workload", "name": name, "jobName": name, "type": kind,
                            "status": status, "priority": priority, "runningDuration": 3600}
    if as_members:
        item["nodes"] = [{"hostIp": ip, "resourceRequirement": {"cpu": "1"}} for ip in ips]
    else:
        item["hostIps"] = ",".join(ips)
    return item


def pool(name: str, flavors: list[str] | dict[str, int | None] = ("f.a",), *, subnet: str | None = "s1",
         network: str | None = None, phase: str = "Running", ptype: str = "Dedicate",
         display: str | None = None, cluster: str | None = None) -> dict[str, Any]:
    caps = flavors if isinstance(flavors, dict) else dict.fromkeys(flavors)
    net: dict[str, str] = {}
    if network:
        net["name"] = network
    if subnet:
        net["subnetId"] = subnet
    status: dict[str, Any] = {"phase": phase}
    if cluster:
        status["clusters"] = {"name": cluster}
    return {"apiVersion": "v2", "kind": "Pool",
            "metadata": {"name": name, "labels": {"os.modelarts/name": display or name.upper()}},
            "spec": {"type": ptype, "network": net,
                     "resources": [{"flavor": f, **({"maxCount": c} if c is not None else {})}
                                   for f, c in caps.items()]},
            "status": status}


def snapshot(pools: list[dict[str, Any]], nodes: dict[str, list[dict[str, Any]]],
             subnets: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    """subnets: id -> (totalIps, usedIps); each becomes a one-subnet network `net-<id>`."""
    subnets = subnets if subnets is not None else {"s1": (100, 0)}
    return {
        "format": "poolshift.inventory/v1", "project_id": PROJECT, "region": "cn-north-4",
        "captured_at": "2026-11-28T00:00:00Z", "pools": pools, "nodes": nodes,
        "networks": [{"name": f"net-{sid}", "subnets": [{"networkId": sid, "cidr": "10.0.0.0/24",
                                                         "totalIps": t, "usedIps": u}]}
                     for sid, (t, u) in subnets.items()],
    }


def nodes_of(prefix: str, n: int, flavor: str = "f.a", **kw: Any) -> list[dict[str, Any]]:
    return [node(f"{prefix}-{i}", flavor, **kw) for i in range(n)]


def spec(pools: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"format": "poolshift.spec/v1", "pools": copy.deepcopy(pools or {})}
    data.update(copy.deepcopy(top))
    return data


def two_pool_snapshot(a: int = 6, b: int = 2, **kw: Any) -> dict[str, Any]:
    """Pools A (a nodes) and B (b nodes), one flavor, one roomy subnet."""
    return snapshot([pool("pool-a"), pool("pool-b")],
                    {"pool-a": nodes_of("a", a), "pool-b": nodes_of("b", b)}, **kw)
