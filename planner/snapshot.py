"""Snapshot files and dicts (`poolshift.inventory/v1`, PRODUCT §2 and §9): reading, validation and the raw rows.

Owns: reading a snapshot file (JSON, one-line errors naming the file), checking every field the planner reads
with its JSON path in the error (exit 2), and turning the raw API objects into plain rows — one per pool,
(pool, flavor), node, subnet and Running workload — through the one reading of raw objects in
`planner.modelarts.objects`. Must not: derive facts that need several rows at once (units, pool clusters, which
nodes are busy, the fingerprint: that is `planner.inventory`), know about the spec, or solve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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
    workload_host_ips,
    workload_identity,
)
from planner.snapshot_pools import SubnetRow, pool_subnets, read_networks, read_pools

FORMAT = "poolshift.inventory/v1"


def read_snapshot_file(path: str | Path) -> dict[str, Any]:
    """Read a snapshot file as JSON; an unreadable or non-JSON file is an InputError naming the file."""
    source = str(path)
    data = read_json_file(path, "snapshot")  # (refuses more than MAX_DEPTH levels: orjson would take 1,024)
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object at the top level, got {kind_of(data)}", source=source, path="$")
    return data


T = TypeVar("T")


@dataclass
class Readings:
    """The rows read from each pool's raw node and workload lists, kept with the list read. In a snapshot edited
    copy-on-write from this one (planner.review.scenarios), the very same list was not edited (an edit copies a
    list before it writes to it): its rows are taken instead of read again."""

    nodes: dict[str, tuple[list[Any], list[NodeRow]]] = field(default_factory=dict)
    workloads: dict[str, tuple[list[Any], list[WorkloadRow]]] = field(default_factory=dict)


def _taken(readings: dict[str, tuple[list[Any], list[T]]], pool: str, items: list[Any]) -> list[T] | None:
    """The rows read from `items` when `readings` holds that very list for the pool, else None."""
    known = readings.get(pool)
    return known[1] if known is not None and known[0] is items else None


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
    readings: Readings = field(default_factory=Readings)  # the same rows, by the raw list each was read from


def read_rows(raw: dict[str, Any], *, source: str = "<snapshot>", reuse: Readings | None = None) -> SnapshotRows:
    """Validate a snapshot dict (InputError with the JSON path) and read its objects into rows; the rows of a
    node or workload list that `reuse` read (the same list object) are taken from it."""
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
    recorded = pool_subnets(c, raw)
    subnet_rows, network_subnets = read_networks(c, raw_networks)
    known = {row[0] for row in subnet_rows}
    pool_rows, flavor_rows, status_cluster = read_pools(c, raw_pools, network_subnets, known, recorded)
    readings = Readings()
    reuse = reuse or Readings()
    node_rows = _read_nodes(c, raw_nodes, set(status_cluster), reuse, readings)
    workload_rows = _read_workloads(c, raw, set(status_cluster), reuse, readings)
    return SnapshotRows(project_id, region, pool_rows, flavor_rows, status_cluster, node_rows, subnet_rows,
                        workload_rows, readings)


NodeRow = tuple[str, str, str, str, str, str, str, str | None, tuple[str, ...]]
# node, pool, flavor, phase, cluster, super-node uid, why not, private IP, accelerators in use


def _read_nodes(c: Checker, raw_nodes: dict[str, Any], pool_names: set[str], reuse: Readings,
                readings: Readings) -> list[NodeRow]:
    """One row per node, in one pass over the raw nodes; a malformed node is reported with its JSON path.

    The label facts repeat (a few thousand label sets in 100,000 nodes), so each distinct label set is read once
    through `planner.modelarts.objects` and remembered (`_NodeFacts`). A pool's list that `reuse` read is not read
    again: its rows are taken (its names still checked against the other pools').
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
        rows = _taken(reuse.nodes, pool_name, items)
        if rows is None:
            rows = _read_pool_nodes(c, items, ppath, pool_name, facts, node_names)
        else:
            for j, row in enumerate(rows):
                if row[0] in node_names:
                    raise _duplicate(c, ppath, j, row[0])
                node_names.add(row[0])
        node_rows += rows
        readings.nodes[pool_name] = (items, rows)
    return node_rows


def _read_pool_nodes(c: Checker, items: list[Any], ppath: str, pool_name: str, facts: _NodeFacts,
                     node_names: set[str]) -> list[NodeRow]:
    """The rows of one pool's raw nodes (`node_names`: the names read so far, this pool's added)."""
    rows: list[NodeRow] = []
    add_row = rows.append
    for j, node in enumerate(items):
        read = facts.fast(node)
        if read is None:
            read = _node_checked(c, node, f"{ppath}[{j}]")
        name, flavor, phase, status, cluster, uid, reason = read
        if not name:
            raise c.fail(f"{ppath}[{j}].metadata.name", "must not be empty")
        if name in node_names:
            raise _duplicate(c, ppath, j, name)
        node_names.add(name)
        ip = status.get("privateIp")
        if ip is not None and type(ip) is not str:
            raise c.fail(f"{ppath}[{j}].status.privateIp", f"expected string, got {kind_of(ip)}")
        held = _accelerators(c, status, ppath, j) if "resources" in status else ()
        add_row((name, pool_name, flavor, phase, cluster or pool_name, uid, reason, ip or None, held))
    return rows


def _duplicate(c: Checker, ppath: str, j: int, name: str) -> InputError:
    """The refusal of node `j` of a pool's list (`ppath`) whose name an earlier node already has."""
    return c.fail(f"{ppath}[{j}].metadata.name", f"duplicate node name {name!r}")


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


def _read_workloads(c: Checker, raw: dict[str, Any], pool_names: set[str], reuse: Readings,
                    readings: Readings) -> list[WorkloadRow] | None:
    """The optional `workloads` key (PRODUCT §9): pool -> raw ListWorkloads items, each with a `name` and a `status`.
    Rows for the Running ones only; None when the snapshot has no `workloads` key (nothing is known). A pool's list
    that `reuse` read is not read again."""
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
        running = _taken(reuse.workloads, pool_name, items)
        if running is None:
            running = []
            for j, item in enumerate(items):
                if not _workload_fast(item):
                    _workload_checked(c, item, f"{ppath}[{j}]")
                if item["status"] == RUNNING:
                    running.append((pool_name, workload_identity(item), workload_host_ips(item)))
        rows += running
        readings.workloads[pool_name] = (items, running)
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
