"""The emulator's batch-migrate: the service's refusals, and the jobs that carry nodes between pools.

Owns: checking a BatchMigratePoolNodes body the way the service does (modelarts_api.md §5, PRODUCT §2),
including the optional fields (`toPoolName` may be left out when `toClusterName` names exactly one other
pool; `migrateNodeNames` left out would mean "every node", which the emulator does not model and refuses
saying so), starting a job (nodes leave the source at once and arrive as `Creating`, or, with `held`, stay
listed in the source as `Deleting` until the job ends, the sequence modelarts_api.md §4.2 expects; either way
the target subnet takes their addresses at once) and ending it on the clock (`Success`: nodes Available in
the target, source addresses freed; `Failed`: everything undone). Must not: know about HTTP, workloads or
authentication.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from planner.files import JsonObject
from planner.modelarts.emulator.objects import (
    LABEL_BATCH_TYPE,
    LABEL_BATCH_UID,
    LABEL_CLUSTER,
    bad_request,
    dig,
    labels_of,
    name_of,
)
from planner.modelarts.emulator.pools import PoolStore

MIGRATE_JOB_TYPE = "migrate-nodes"  # made up: the real type of migration jobs is not published
MIN_NODES_LEFT = 2
_BODY_KEYS = frozenset({"migrateNodeNames", "fromClusterName", "toClusterName", "toPoolName", "resourceSpec"})


@dataclass
class Job:
    """One batch-migrate job; nodes travel at acceptance and settle (or return) when it ends."""

    job_id: str
    seq: int
    source: str
    target: str
    body: JsonObject
    nodes: list[str]
    originals: list[JsonObject]
    source_subnet: str | None
    target_subnet: str | None
    started: float
    due: float
    fail: bool
    held: bool = False          # its nodes stay listed in the source (Deleting) until it ends
    phase: str = "Running"
    ended: float | None = None
    message: str = ""

    def to_api(self) -> JsonObject:
        """The PoolJob shape of ListJobs (modelarts_api.md §6), with JSON text where the SDK types str."""
        return {
            "jobId": self.job_id,
            "jobName": "batch-migrate-nodes",
            "type": MIGRATE_JOB_TYPE,
            "phase": self.phase,
            "suspend": False,
            "startTimestamp": int(self.started * 1000),
            "endTimestamp": int(self.ended * 1000) if self.ended is not None else 0,
            "involvedObjects": json.dumps({"kind": "Pool", "name": self.source}, separators=(",", ":")),
            "inputs": json.dumps(self.body, separators=(",", ":"), ensure_ascii=False),
            "conditions": "[]",
            "message": self.message,
        }


@dataclass(frozen=True)
class Checked:
    """A batch-migrate request that passed every check."""

    source: str
    target: str
    nodes: list[JsonObject]
    flavor: str
    target_subnet: str | None


def check(store: PoolStore, pool_name: str, body: Any) -> Checked:
    """Refuse the request as the service would (Refusal), or say what it will do."""
    source = store.pool(pool_name)
    names, flavor, step = _check_body(body)
    target_name = _target_pool(store, pool_name, body)
    target = store.pool(target_name)
    if target_name == pool_name:
        raise bad_request("toPoolName must differ from the source pool")
    nodes = _check_nodes(store, pool_name, names)
    _check_super_nodes(store, pool_name, names, step)
    left = len(store.nodes[pool_name]) - len(names)
    if left < MIN_NODES_LEFT:
        raise bad_request(f"pool {pool_name} would keep {left} node(s); at least {MIN_NODES_LEFT} must remain")
    accepted = [r.get("flavor") for r in dig(target, "spec", "resources") or [] if isinstance(r, dict)]
    if flavor not in accepted:
        raise bad_request(f"pool {target_name} does not accept flavor {flavor} "
                          f"(accepts {', '.join(map(str, accepted)) or 'none'})")
    _check_clusters(store, source, target, nodes, body)
    target_subnet = store.pool_subnet(target, strict=True)
    if target_subnet is not None:
        subnet = store.subnets[target_subnet]
        free = subnet["totalIps"] - subnet["usedIps"]
        if free < len(names):
            raise bad_request(f"subnet {target_subnet} of pool {target_name} has {free} free IP address(es); "
                              f"{len(names)} needed")
    return Checked(pool_name, target_name, nodes, flavor, target_subnet)


def _check_body(body: Any) -> tuple[list[str], str, JsonObject | None]:
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(unknown)}")
    if "migrateNodeNames" not in body:
        raise bad_request("migrateNodeNames is required by this emulator: migrating every node of the pool "
                          "(the field left out) is not modelled")
    names = body["migrateNodeNames"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise bad_request("migrateNodeNames must be a non-empty list of node names")
    if len(set(names)) != len(names):
        raise bad_request("migrateNodeNames lists a node twice")
    for key in ("fromClusterName", "toClusterName"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise bad_request(f"{key} is required")
    if "toPoolName" in body and (not isinstance(body["toPoolName"], str) or not body["toPoolName"]):
        raise bad_request("toPoolName must be a pool name when it is given")
    spec = body.get("resourceSpec")
    if not isinstance(spec, dict) or not isinstance(spec.get("flavor"), str) or not spec["flavor"]:
        raise bad_request("resourceSpec.flavor is required for a cross-pool migration")
    step = spec.get("creatingStep")
    if step is not None and (not isinstance(step, dict) or step.get("type") != "hyperinstance"
                             or not isinstance(step.get("step"), int) or isinstance(step.get("step"), bool)
                             or step["step"] < 1):
        raise bad_request('resourceSpec.creatingStep must be {"step": <positive int>, "type": "hyperinstance"}')
    return names, spec["flavor"], step


def _target_pool(store: PoolStore, source: str, body: JsonObject) -> str:
    """`toPoolName`; without it, the one other pool `toClusterName` names (a dedicated pool's cluster is its
    own name; a Lite cluster may hold several pools)."""
    if "toPoolName" in body:
        return str(body["toPoolName"])
    cluster = str(body["toClusterName"])
    if cluster in store.pools and cluster != source:
        return cluster
    holders = sorted(name for name, pool in store.pools.items()
                     if name != source and cluster in store.cluster_names(pool))
    if len(holders) != 1:
        raise bad_request(f"toPoolName is needed: cluster {cluster} holds {len(holders)} other pool(s) "
                          f"(migration between clusters inside one pool is not modelled by this emulator)")
    return holders[0]


def _check_nodes(store: PoolStore, pool_name: str, names: list[str]) -> list[JsonObject]:
    nodes = []
    for name in names:
        where = store.where(name)
        if where is None:
            raise bad_request(f"node {name} not found")
        if where != pool_name:
            raise bad_request(f"node {name} is not in pool {pool_name} (it is in pool {where})")
        node = store.nodes[pool_name][name]
        reason = store.immovable_reason(node)
        if reason:
            raise bad_request(f"node {name} cannot be migrated: {reason}")
        nodes.append(node)
    return nodes


def _check_super_nodes(store: PoolStore, pool_name: str, names: list[str], step: JsonObject | None) -> None:
    members: dict[str, list[str]] = {}
    for name, node in store.nodes[pool_name].items():
        labels = labels_of(node)
        if labels.get(LABEL_BATCH_TYPE) == "hyperinstance" and labels.get(LABEL_BATCH_UID):
            members.setdefault(str(labels[LABEL_BATCH_UID]), []).append(name)
    requested = set(names)
    for uid, group in sorted(members.items()):
        if requested.isdisjoint(group):
            continue
        missing = sorted(set(group) - requested)
        if missing:
            raise bad_request(f"super node {uid} must move whole: {', '.join(missing)} missing from the request")
        if step is None:
            raise bad_request(f"super node {uid} needs resourceSpec.creatingStep "
                              f'{{"step": {len(group)}, "type": "hyperinstance"}}')
        if step["step"] != len(group):
            raise bad_request(f"resourceSpec.creatingStep.step is {step['step']} but super node {uid} has "
                              f"{len(group)} nodes")


def _check_clusters(store: PoolStore, source: JsonObject, target: JsonObject, nodes: list[JsonObject],
                    body: JsonObject) -> None:
    source_name = name_of(source)
    for node in nodes:
        cluster = str(labels_of(node).get(LABEL_CLUSTER) or source_name)
        if body["fromClusterName"] != cluster:
            raise bad_request(f"fromClusterName {body['fromClusterName']} does not match the cluster {cluster} "
                              f"of node {name_of(node)}")
    clusters = store.cluster_names(target)
    if body["toClusterName"] not in clusters:
        raise bad_request(f"toClusterName {body['toClusterName']} does not match the cluster of pool "
                          f"{name_of(target)} ({', '.join(sorted(clusters))})")


def start(store: PoolStore, checked: Checked, body: JsonObject, *, held: bool = False) -> None:
    """Move the checked nodes into the target as `Creating` (with `held`: mark them `Deleting` in the source)
    and take their addresses in the target subnet."""
    for node in checked.nodes:
        if held:
            node.setdefault("status", {})["phase"] = "Deleting"
            continue
        del store.nodes[checked.source][name_of(node)]
        _arrive(node, checked.target_subnet, body)
        node.setdefault("status", {})["phase"] = "Creating"
        store.nodes[checked.target][name_of(node)] = node
    if checked.target_subnet is not None:
        store.subnets[checked.target_subnet]["usedIps"] += len(checked.nodes)


def _arrive(node: JsonObject, target_subnet: str | None, body: JsonObject) -> None:
    """The node as the target pool lists it: the request's flavor, cluster and the target subnet."""
    node.setdefault("spec", {})["flavor"] = body["resourceSpec"]["flavor"]
    labels = labels_of(node)
    if LABEL_CLUSTER in labels:
        labels[LABEL_CLUSTER] = body["toClusterName"]
    host_network = dig(node, "spec", "hostNetwork")
    if target_subnet is not None and isinstance(host_network, dict) and "subnet" in host_network:
        host_network["subnet"] = target_subnet


def finish(store: PoolStore, job: Job) -> None:
    """End a job: nodes become Available and the source addresses are freed, or (Failed) all is undone."""
    job.ended = max(job.due, job.started)
    if job.held and not job.fail:
        for name in job.nodes:
            node = store.nodes[job.source].pop(name)
            _arrive(node, job.target_subnet, job.body)
            store.nodes[job.target][name] = node
    if job.fail:
        for name in job.nodes:
            store.nodes[job.target].pop(name, None)
        for original in job.originals:
            store.nodes[job.source][name_of(original)] = copy.deepcopy(original)
        store.release(job.target_subnet, len(job.nodes))
        job.phase, job.message = "Failed", "node migration failed (injected fault)"
        return
    for name in job.nodes:
        store.nodes[job.target][name]["status"]["phase"] = "Available"
    store.release(job.source_subnet, len(job.nodes))
    job.phase = "Success"
