"""The emulator's workloads and the node operations around a migration: drain, lock, unlock.

Owns: the workloads seeded from the snapshot's `workloads` (PRODUCT §9) and ListWorkloads over them
(`status`, `type`, `hostip` unpaged, else `limit`/`offset`); batch-drain (at most 10 nodes; a drained
node's workloads end `drain_seconds` later on the emulator clock and its accelerators become available);
batch-lock/unlock (the `os.modelarts.node/lock.action` annotation); the fault that starts a Running
workload on a node; and ending the workloads of nodes that migrate anyway, each recorded in `disrupted`
so tests can prove nothing was killed. A node runs a workload when the workload lists the node's
`status.privateIp` in `hostIps` ("ip,ip") or `nodes[].hostIp`.
Must not: decide whether a migration is allowed (the service does not refuse a busy node) or know HTTP.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from planner.files import JsonObject
from planner.modelarts.emulator.faults import StartWorkload
from planner.modelarts.emulator.objects import (
    ANNOTATION_LOCK,
    accelerators,
    annotations_of,
    bad_request,
    dig,
    name_of,
)
from planner.modelarts.emulator.pools import PoolStore

DRAIN_LIMIT = 10
WORKLOAD_PAGE = 500
RUNNING = "Running"
ENDED = "Terminated"


def workload_ips(workload: JsonObject) -> set[str]:
    """The node addresses a workload runs on: `hostIps` ("a,b") and `nodes[].hostIp`."""
    ips = {ip.strip() for ip in str(workload.get("hostIps") or "").split(",") if ip.strip()}
    ips |= {str(n["hostIp"]) for n in workload.get("nodes") or [] if isinstance(n, dict) and n.get("hostIp")}
    return ips


def _ip(node: JsonObject) -> str | None:
    ip = dig(node, "status", "privateIp")
    return ip if isinstance(ip, str) and ip else None


def _node_names(names: Any, operation: str, limit: int | None = None) -> list[str]:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise bad_request(f"{operation}: nodeNames must be a non-empty list of node names")
    if limit is not None and len(names) > limit:
        raise bad_request(f"{operation}: at most {limit} nodes per request ({len(names)} given)")
    return list(dict.fromkeys(names))


class WorkloadStore:
    """Workloads per pool, drains in progress, and the record of workloads ended by drains and migrations."""

    def __init__(self, snapshot: JsonObject, store: PoolStore) -> None:
        self._store = store
        seeded = snapshot.get("workloads") or {}
        self.items: dict[str, list[JsonObject]] = {
            pool: copy.deepcopy(list(seeded.get(pool) or [])) for pool in store.pools}
        self.drains: list[JsonObject] = []
        self.disrupted: list[JsonObject] = []
        self._drain_due: dict[str, float] = {}
        self._started = 0

    # -- reads -----------------------------------------------------------------------------------------------

    def list_pool(self, pool_name: str, *, status: str | None, workload_type: str | None, hostip: str | None,
             offset: int, limit: int) -> JsonObject:
        """ListWorkloads: filtered by status and type; by `hostip` unpaged, else `limit` from `offset`."""
        self._store.pool(pool_name)
        if not 0 <= limit <= WORKLOAD_PAGE or offset < 0:
            raise bad_request(f"limit must be 0-{WORKLOAD_PAGE} and offset not negative")
        items = [w for w in self.items[pool_name] if (status is None or w.get("status") == status)
                 and (workload_type is None or w.get("type") == workload_type)]
        if hostip is not None:
            wanted = {ip.strip() for ip in hostip.split(",") if ip.strip()}
            items = [w for w in items if workload_ips(w) & wanted]
        else:
            items = items[offset:offset + (limit or WORKLOAD_PAGE)]
        return {"apiVersion": "v1", "kind": "WorkloadList", "items": copy.deepcopy(items)}

    def running(self) -> dict[str, list[JsonObject]]:
        """`{pool: [Running workloads]}`, as `inventory pull` records them."""
        return {pool: [copy.deepcopy(w) for w in items if w.get("status") == RUNNING]
                for pool, items in sorted(self.items.items())}

    def _running_on(self, nodes: Iterable[JsonObject]) -> list[tuple[str, JsonObject, list[str]]]:
        """(pool, workload, node names) for each Running workload on any of `nodes`."""
        by_ip = {ip: name_of(n) for n in nodes if (ip := _ip(n))}
        found = []
        for pool, items in sorted(self.items.items()):
            for workload in items:
                hit = sorted(by_ip[ip] for ip in workload_ips(workload) if ip in by_ip)
                if workload.get("status") == RUNNING and hit:
                    found.append((pool, workload, hit))
        return found

    # -- what ends a workload ---------------------------------------------------------------------------------

    def _end(self, workload: JsonObject) -> None:
        """The workload stops; every node it ran on and nothing else runs on gets its resources back."""
        workload["status"] = ENDED
        ips = workload_ips(workload)
        for pool_nodes in self._store.nodes.values():
            for node in pool_nodes.values():
                if _ip(node) in ips and not self._running_on([node]):
                    resources = dig(node, "status", "resources")
                    if isinstance(resources, dict):
                        node["status"]["availableResources"] = copy.deepcopy(resources)

    def end_for_migration(self, nodes: list[JsonObject], *, job_id: str, now: float) -> None:
        """A migration took these nodes away while workloads ran on them: end those workloads and record it."""
        for pool, workload, names in self._running_on(nodes):
            for node in names:
                self.disrupted.append({"job_id": job_id, "pool": pool, "node": node, "at": now,
                                       "workload": workload.get("name"), "type": workload.get("type")})
            self._end(workload)

    def tick(self, now: float) -> None:
        """End the workloads of drained nodes whose drain time has come."""
        names = [name for name, when in self._drain_due.items() if when <= now]
        if not names:
            return
        due = [self._store.nodes[pool][name] for name in names if (pool := self._store.where(name)) is not None]
        for _, workload, _ in self._running_on(due):
            self._end(workload)

    # -- node operations -------------------------------------------------------------------------------------

    def drain(self, pool_name: str, names: Any, *, now: float, drain_seconds: float) -> JsonObject:
        """batch-drain: the nodes' workloads end `drain_seconds` from now."""
        self._store.pool(pool_name)
        nodes = _node_names(names, "batch-drain", DRAIN_LIMIT)
        for name in nodes:
            if name not in self._store.nodes[pool_name]:
                raise bad_request(f"batch-drain: node {name} is not in pool {pool_name}")
        for name in nodes:
            self._drain_due[name] = min(self._drain_due.get(name, float("inf")), now + drain_seconds)
        self.drains.append({"pool": pool_name, "nodes": nodes, "at": now})
        self.tick(now)
        return {"nodes": [{"name": name, "status": "success"} for name in nodes]}

    def lock(self, pool_name: str, body: Any, *, lock: bool) -> JsonObject:
        """batch-lock / batch-unlock: add or remove the actions in the lock annotation of each node."""
        self._store.pool(pool_name)
        operation = "batch-lock" if lock else "batch-unlock"
        if not isinstance(body, dict):
            raise bad_request(f"{operation}: the body must be a JSON object")
        nodes = _node_names(body.get("nodeNames"), operation)
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, str) and a for a in actions):
            raise bad_request(f"{operation}: actions must be a non-empty list")
        results = []
        for name in nodes:
            node = self._store.nodes[pool_name].get(name)
            if node is None:
                results.append({"name": name, "status": "failed"})
                continue
            annotations = node.setdefault("metadata", {}).setdefault("annotations", {})
            held = {a for a in str(annotations_of(node).get(ANNOTATION_LOCK) or "").split(",") if a}
            held = held | set(actions) if lock else held - set(actions)
            if held:
                annotations[ANNOTATION_LOCK] = ",".join(sorted(held))
            else:
                annotations.pop(ANNOTATION_LOCK, None)
            results.append({"name": name, "status": "success"})
        return {"nodes": results}

    def start(self, fault: StartWorkload, *, now: float) -> None:
        """The fault: a Running workload appears on a node, holding all its accelerators."""
        pool = self._store.where(fault.node)
        if pool is None:
            return
        node = self._store.nodes[pool][fault.node]
        ip = _ip(node) or f"emulator-ip-of-{fault.node}"
        self._started += 1
        self.items[pool].append({
            "apiVersion": "v1", "kind": "Workload", "type": fault.type, "namespace": "default",
            "name": fault.name, "jobName": fault.name, "uid": f"emu-workload-{self._started:04d}",
            "status": RUNNING, "priority": fault.priority, "runningDuration": 0, "createTime": int(now * 1000),
            "hostIps": ip, "nodes": [{"hostIp": ip}]})
        resources = dig(node, "status", "resources")
        available = node.setdefault("status", {}).setdefault("availableResources", {})
        for key in accelerators(resources):
            available[key] = "0"
