"""Snapshot files and dicts (`poolshift.inventory/v1`, PRODUCT §2 and §9): reading, validation and the raw rows.

Owns: reading a snapshot file (JSON, one-line errors naming the file), checking every field the planner reads
with its JSON path in the error (exit 2), and turning the raw API objects into plain rows — one per pool,
(pool, flavor), node, subnet and Running workload — through the one reading of raw objects in
`planner.modelarts.objects`. Must not: derive facts that need several rows at once (units, pool clusters, which
nodes are busy, the fingerprint: that is `planner.inventory`), know about the spec, or solve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.files import read_json_file
from planner.jsonshape import Checker, kind_of, string_values
from planner.modelarts.objects import (
    ANNOTATION_LOCK,
    AVAILABLE,
    RUNNING,
    Workload,
    accelerators_in_use,
    node_cluster,
    node_immovable_reason,
    node_unit_uid,
    pool_display_name,
    pool_excluded_reason,
    pool_status_cluster,
    resolve_pool_subnet,
    workload_host_ips,
    workload_identity,
)

FORMAT = "poolshift.inventory/v1"


def read_snapshot_file(path: str | Path) -> dict[str, Any]:
    """Read a snapshot file as JSON; an unreadable or non-JSON file is an InputError naming the file."""
    source = str(path)
    data = read_json_file(path, "snapshot")  # (refuses more than MAX_DEPTH levels: orjson would take 1,024)
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object at the top level, got {kind_of(data)}", source=source, path="$")
    return data


@dataclass
class SnapshotRows:
    """A validated snapshot as plain rows, in the snapshot's own order."""

    project_id: str
    region: str | None
    pools: list[dict[str, Any]]                    # POOL_COLUMNS of planner.inventory but cluster and node count
    flavors: list[tuple[str, str, int | None]]      # pool, flavor, maxCount
    status_cluster: dict[str, str | None]           # pool -> status.clusters / spec.clusters name
    nodes: list[NodeRow]
    subnets: list[SubnetRow]
    workloads: list[WorkloadRow] | None = None      # Running workloads; None: the snapshot has no `workloads` key


def read_rows(raw: dict[str, Any], *, source: str = "<snapshot>") -> SnapshotRows:
    """Validate a snapshot dict (InputError with the JSON path) and read its objects into rows."""
    c = Checker(source)
    c.obj(raw, "$")
    fmt = c.field(raw, "format", "$", str)
    if fmt != FORMAT:
        raise c.fail("$.format", f"unsupported format {fmt!r} (expected {FORMAT!r})")
    project_id = c.field(raw, "project_id", "$", str)
    region = c.field(raw, "region", "$", str, required=False)
    c.field(raw, "captured_at", "$", str, required=False)
    raw_pools = c.field(raw, "pools", "$", list)
    raw_nodes = c.field(raw, "nodes", "$", dict)
    raw_networks = c.field(raw, "networks", "$", list, required=False) or []
    recorded = _pool_subnets(c, raw)
    subnet_rows, network_subnets = _read_networks(c, raw_networks)
    known = {row[0] for row in subnet_rows}
    pool_rows, flavor_rows, status_cluster = _read_pools(c, raw_pools, network_subnets, known, recorded)
    node_rows = _read_nodes(c, raw_nodes, set(status_cluster))
    workload_rows = _read_workloads(c, raw, set(status_cluster))
    return SnapshotRows(project_id, region, pool_rows, flavor_rows, status_cluster, node_rows, subnet_rows,
                        workload_rows)


SubnetRow = tuple[str, str, str | None, int, int, int]  # subnet, network, cidr, total, used, free


def _read_networks(c: Checker, raw_networks: list[Any]) -> tuple[list[SubnetRow], dict[str, list[str]]]:
    """Subnet rows, and the subnet ids of each network (in the snapshot's order)."""
    subnet_rows: list[SubnetRow] = []
    network_subnets: dict[str, list[str]] = {}
    seen: set[str] = set()
    for i, net in enumerate(raw_networks):
        path = f"$.networks[{i}]"
        net = c.obj(net, path)
        name = c.field(net, "name", path, str)
        if name in network_subnets:
            raise c.fail(f"{path}.name", f"duplicate network name {name!r}")
        ids: list[str] = []
        for j, sub in enumerate(c.field(net, "subnets", path, list)):
            spath = f"{path}.subnets[{j}]"
            sub = c.obj(sub, spath)
            sid = c.field(sub, "networkId", spath, str)
            cidr = c.field(sub, "cidr", spath, str, required=False)
            total = c.count(sub, "totalIps", spath)
            used = c.count(sub, "usedIps", spath)
            if sid in seen:
                raise c.fail(f"{spath}.networkId", f"duplicate subnet id {sid!r}")
            seen.add(sid)
            ids.append(sid)
            subnet_rows.append((sid, name, cidr, total, used, total - used))
        network_subnets[name] = ids
    return subnet_rows, network_subnets


def _pool_subnets(c: Checker, raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The optional `pool_subnets` record of `inventory pull`: pool -> {subnet, source, tried} (docs/api.md)."""
    value = c.field(raw, "pool_subnets", "$", dict, required=False) or {}
    for pool, entry in value.items():
        path = f"$.pool_subnets[{json.dumps(pool)}]"
        entry = c.obj(entry, path)
        c.field(entry, "subnet", path, str, required=False)
        c.field(entry, "source", path, str, required=False)
        tried = c.field(entry, "tried", path, list, required=False) or []
        for k, item in enumerate(tried):
            if not isinstance(item, str):
                raise c.fail(f"{path}.tried[{k}]", f"expected string, got {kind_of(item)}")
    return value


def _read_pool_flavors(c: Checker, spec: dict[str, Any], path: str, name: str,
                       flavor_rows: list[tuple[str, str, int | None]]) -> None:
    """Check `spec.resources[]` and add one (pool, flavor, maxCount) row per flavor (the first listing wins)."""
    seen: set[str] = set()
    for j, res in enumerate(c.field(spec, "resources", f"{path}.spec", list, required=False) or []):
        rpath = f"{path}.spec.resources[{j}]"
        res = c.obj(res, rpath)
        flavor = c.field(res, "flavor", rpath, str)
        max_count = c.count(res, "maxCount", rpath, required=False)
        c.count(res, "count", rpath, required=False)
        if flavor not in seen:  # a flavor listed twice (e.g. two node pools): keep the first cap
            seen.add(flavor)
            flavor_rows.append((name, flavor, max_count))


def _read_pools(c: Checker, raw_pools: list[Any], network_subnets: dict[str, list[str]], known: set[str],
                recorded: dict[str, dict[str, Any]]
                ) -> tuple[list[dict[str, Any]], list[tuple[str, str, int | None]], dict[str, str | None]]:
    """Pool rows (POOL_COLUMNS but the derived cluster and node count), flavor rows, and each pool's status cluster."""
    pool_rows: list[dict[str, Any]] = []
    flavor_rows: list[tuple[str, str, int | None]] = []
    status_cluster: dict[str, str | None] = {}
    for i, pool in enumerate(raw_pools):
        path = f"$.pools[{i}]"
        pool = c.obj(pool, path)
        meta = c.obj(c.field(pool, "metadata", path, dict), f"{path}.metadata")
        name = c.field(meta, "name", f"{path}.metadata", str)
        if not name:
            raise c.fail(f"{path}.metadata.name", "must not be empty")
        if name in status_cluster:
            raise c.fail(f"{path}.metadata.name", f"duplicate pool name {name!r}")
        c.string_map(meta, "labels", f"{path}.metadata")
        spec = c.field(pool, "spec", path, dict)
        status = c.field(pool, "status", path, dict)
        ptype = c.field(spec, "type", f"{path}.spec", str, required=False)
        phase = c.field(status, "phase", f"{path}.status", str)
        _read_pool_flavors(c, spec, path, name, flavor_rows)
        # status.resources may be an object of arrays or of objects; only its shape is checked
        sres = c.field(status, "resources", f"{path}.status", (dict, list), required=False)
        if isinstance(sres, dict):
            for key, val in sres.items():
                if val is not None and not isinstance(val, (dict, list)):
                    raise c.fail(f"{path}.status.resources.{key}", f"expected array or object, got {kind_of(val)}")
        network = c.field(spec, "network", f"{path}.spec", dict, required=False) or {}
        net_name = c.field(network, "name", f"{path}.spec.network", str, required=False)
        subnet_id = c.field(network, "subnetId", f"{path}.spec.network", str, required=False)
        subnet, subnet_reason = resolve_pool_subnet(net_name or None, subnet_id or None, recorded.get(name),
                                                    network_subnets, known)
        excluded = pool_excluded_reason(phase, ptype)
        status_cluster[name] = pool_status_cluster(pool)
        pool_rows.append({
            "pool": name, "display_name": pool_display_name(pool), "type": ptype or "", "phase": phase,
            "takes_part": not excluded, "excluded_reason": excluded,
            "network": net_name or "", "subnet": subnet, "subnet_reason": subnet_reason,
        })
    return pool_rows, flavor_rows, status_cluster


NodeRow = tuple[str, str, str, str, str, str, str, str | None, tuple[str, ...]]
# node, pool, flavor, phase, cluster, super-node uid, why not, private IP, accelerators in use


def _read_nodes(c: Checker, raw_nodes: dict[str, Any], pool_names: set[str]) -> list[NodeRow]:
    """One row per node, in one pass over the raw nodes; a malformed node is reported with its JSON path.

    The label facts repeat (a few thousand label sets in 100,000 nodes), so each distinct label set is read once
    through `planner.modelarts.objects` and remembered (`_NodeFacts`).
    """
    node_names: set[str] = set()
    node_rows: list[NodeRow] = []
    facts = _NodeFacts()
    for pool_name, items in raw_nodes.items():
        ppath = f"$.nodes[{json.dumps(pool_name)}]"
        if pool_name not in pool_names:
            raise c.fail(ppath, f"nodes listed under pool {pool_name!r}, which $.pools does not list")
        if not isinstance(items, list):
            raise c.fail(ppath, f"expected an array of nodes, got {kind_of(items)}")
        add_row = node_rows.append
        for j, node in enumerate(items):
            read = facts.fast(node)
            if read is None:
                read = _node_checked(c, node, f"{ppath}[{j}]")
            name, flavor, phase, status, cluster, uid, reason = read
            if not name:
                raise c.fail(f"{ppath}[{j}].metadata.name", "must not be empty")
            if name in node_names:
                raise c.fail(f"{ppath}[{j}].metadata.name", f"duplicate node name {name!r}")
            node_names.add(name)
            ip = status.get("privateIp")
            if ip is not None and type(ip) is not str:
                raise c.fail(f"{ppath}[{j}].status.privateIp", f"expected string, got {kind_of(ip)}")
            held = _accelerators(c, status, ppath, j) if "resources" in status else ()
            add_row((name, pool_name, flavor, phase, cluster or pool_name, uid, reason, ip or None, held))
    return node_rows


NodeRead = tuple[str, str, str, dict[str, Any], str, str, str]
# name, flavor, phase, status, cluster label ("" when absent: the pool's id), super-node uid, why it may not move

_EMPTY: dict[str, str] = {}


class _NodeFacts:
    """The facts of raw nodes, each distinct label set read once (the read of 100,000 nodes).

    A remembered label set holds strings only, so a node with a label value that is not a string never matches
    one (it is read, and checked, on its own): a hit is exactly a repeat of a read already done.
    """

    def __init__(self) -> None:
        # label set -> cluster label, super-node uid, and the labels' reasons not to move (of an Available node)
        self.labels: dict[tuple[tuple[str, str], ...], tuple[str, str, str]] = {}

    def fast(self, node: Any) -> NodeRead | None:
        """The facts of a well-formed node, or None to take the checked path (which names the problem)."""
        try:
            meta, spec, status = node["metadata"], node["spec"], node["status"]
            name, flavor, phase = meta["name"], spec["flavor"], status["phase"]
            labels = meta.get("labels") or _EMPTY
            annotations = meta.get("annotations") or _EMPTY
            known = self.labels.get(tuple(labels.items()))
        except (KeyError, TypeError, AttributeError):  # TypeError: not an object, or an unhashable label value
            return None
        if type(name) is not str or type(flavor) is not str or type(phase) is not str:
            return None
        if known is None:
            if not string_values(labels):
                return None
            known = self.labels[tuple(labels.items())] = (node_cluster(labels, ""), node_unit_uid(labels),
                                                          node_immovable_reason(AVAILABLE, labels, _EMPTY))
        if annotations and not string_values(annotations):
            return None
        reason = known[2] if phase == AVAILABLE and not annotations.get(ANNOTATION_LOCK) else \
            node_immovable_reason(phase, labels, annotations)
        return name, flavor, phase, status, known[0], known[1], reason


def _node_checked(c: Checker, node: Any, path: str) -> NodeRead:
    """The slow path for a node `_NodeFacts.fast` refused: names the JSON path of the problem, else reads it."""
    node = c.obj(node, path)
    meta = c.field(node, "metadata", path, dict)
    name = c.field(meta, "name", f"{path}.metadata", str)
    labels = c.string_map(meta, "labels", f"{path}.metadata")
    annotations = c.string_map(meta, "annotations", f"{path}.metadata")
    spec = c.field(node, "spec", path, dict)
    flavor = c.field(spec, "flavor", f"{path}.spec", str)
    status = c.field(node, "status", path, dict)
    phase = c.field(status, "phase", f"{path}.status", str)
    return (name, flavor, phase, status, node_cluster(labels, ""), node_unit_uid(labels),
            node_immovable_reason(phase, labels, annotations))


def _accelerators(c: Checker, status: dict[str, Any], ppath: str, j: int) -> tuple[str, ...]:
    """Accelerators the node has in use (`status.resources` against `status.availableResources`, PRODUCT §9);
    either field, when present, must be an object, and every accelerator amount a quantity ("8", "500m")."""
    resources, available = status["resources"], status.get("availableResources")
    if type(resources) is dict and (available is None or type(available) is dict):
        use = accelerators_in_use(resources, available)
        if use.unreadable is None:
            return use.held
        field, _, key = use.unreadable.partition(".")
        value = (resources if field == "resources" else available or {}).get(key)
        raise c.fail(f"{ppath}[{j}].status.{field}[{json.dumps(key)}]",
                     f'expected a quantity such as "8" or "500m", got {value!r}')
    field = "resources" if type(resources) is not dict else "availableResources"
    raise c.fail(f"{ppath}[{j}].status.{field}", f"expected object, got {kind_of(status[field])}")


WorkloadRow = tuple[str, Workload, frozenset[str]]  # pool, (name, type, priority), the addresses it runs on


def _read_workloads(c: Checker, raw: dict[str, Any], pool_names: set[str]) -> list[WorkloadRow] | None:
    """The optional `workloads` key (PRODUCT §9): pool -> raw ListWorkloads items, each with a `name` and a `status`.
    Rows for the Running ones only; None when the snapshot has no `workloads` key (nothing is known)."""
    value = c.field(raw, "workloads", "$", dict, required=False)
    if value is None:
        return None
    rows: list[WorkloadRow] = []
    for pool_name, items in value.items():
        ppath = f"$.workloads[{json.dumps(pool_name)}]"
        if pool_name not in pool_names:
            raise c.fail(ppath, f"workloads listed under pool {pool_name!r}, which $.pools does not list")
        if not isinstance(items, list):
            raise c.fail(ppath, f"expected an array of workloads, got {kind_of(items)}")
        for j, item in enumerate(items):
            if not _workload_fast(item):
                _workload_checked(c, item, f"{ppath}[{j}]")
            if item["status"] == RUNNING:
                rows.append((pool_name, workload_identity(item), workload_host_ips(item)))
    return rows


def _workload_fast(item: Any) -> bool:
    """A well-formed workload item (checked cheaply); False to take the checked path, which names the problem."""
    if type(item) is not dict:
        return False
    name, status, kind, priority = item.get("name"), item.get("status"), item.get("type"), item.get("priority")
    hosts, members = item.get("hostIps"), item.get("nodes")
    if type(name) is not str or not name or type(status) is not str or not (kind is None or type(kind) is str):
        return False
    if not (priority is None or type(priority) in (str, int)) or not (hosts is None or type(hosts) is str):
        return False
    if members is None:
        return True
    if type(members) is not list:
        return False
    for member in members:  # noqa: SIM110  (a plain loop: faster than all() over a few members)
        if type(member) is not dict or type(member.get("hostIp", "")) is not str:
            return False
    return True


def _workload_checked(c: Checker, item: Any, path: str) -> None:
    """The slow path for a workload `_workload_fast` refused: raises InputError naming the JSON path of the problem."""
    item = c.obj(item, path)
    if not c.field(item, "name", path, str):
        raise c.fail(f"{path}.name", "must not be empty")
    c.field(item, "status", path, str)
    c.field(item, "type", path, str, required=False)
    if isinstance(item.get("priority"), bool):
        raise c.fail(f"{path}.priority", "expected string or integer, got boolean")
    c.field(item, "priority", path, (str, int), required=False)
    c.field(item, "hostIps", path, str, required=False)
    for k, member in enumerate(c.field(item, "nodes", path, list, required=False) or []):
        c.field(c.obj(member, f"{path}.nodes[{k}]"), "hostIp", f"{path}.nodes[{k}]", str, required=False)
