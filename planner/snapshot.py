"""Snapshot files and dicts (`poolshift.inventory/v1`, PRODUCT §2): reading, validation and the raw rows.

Owns: reading a snapshot file (JSON, one-line errors naming the file), checking every field the planner reads
with its JSON path in the error (exit 2), and turning the raw API objects into plain rows — one per pool,
(pool, flavor), node and subnet — through the one reading of raw objects in `planner.modelarts.objects`; and
the snapshot's fingerprint. Must not: derive facts that need several rows at once (units, pool clusters: that
is `planner.inventory`), know about the spec, or solve.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from planner.errors import InputError
from planner.files import check_depth, decode_text, parse_json, read_bytes
from planner.modelarts.objects import (
    name_of as pool_name_of,
)
from planner.modelarts.objects import (
    node_cluster,
    node_immovable_reason,
    node_unit_uid,
    pool_display_name,
    pool_excluded_reason,
    pool_network,
    pool_status_cluster,
    resolve_pool_subnet,
)

FORMAT = "poolshift.inventory/v1"


def fingerprint_snapshot(raw: dict[str, Any]) -> str:
    """sha256 over the canonical JSON (sorted keys, compact, UTF-8) of the snapshot's content (`canonical_content`).

    A function of the inventory only: the same pools, nodes, networks and workloads give the same fingerprint
    whatever order a file or an API listed them in, and whenever they were captured.
    """
    blob = orjson.dumps(canonical_content(raw), option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def canonical_content(raw: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without `captured_at`, lists in a canonical order (pools, nodes and workloads by name, networks
    by name, subnets by id), and of `pool_subnets` only the subnets that decide something: a subnet `inventory pull`
    recorded for a pool whose own fields and network would not name it (source and attempts are provenance)."""
    data = {k: v for k, v in raw.items() if k not in ("captured_at", "pool_subnets")}
    if isinstance(data.get("pools"), list):
        data["pools"] = sorted(data["pools"], key=_sort_name)
    for key in ("nodes", "workloads"):
        if isinstance(data.get(key), dict):
            data[key] = {pool: sorted(items, key=_sort_name) if isinstance(items, list) else items
                         for pool, items in data[key].items()}
    networks = data.get("networks")
    if isinstance(networks, list):
        data["networks"] = sorted(
            ({**net, "subnets": sorted(net["subnets"], key=lambda sub: str(sub.get("networkId")) if isinstance(
                sub, dict) else "")} if isinstance(net, dict) and isinstance(net.get("subnets"), list) else net
             for net in networks), key=lambda net: str(net.get("name")) if isinstance(net, dict) else "")
    decisive = _decisive_subnets(raw)
    if decisive:
        data["pool_subnets"] = decisive
    return data


def _sort_name(obj: Any) -> str:
    """Sort key of a raw object: `metadata.name` (nodes, pools), else `name` (workloads)."""
    if not isinstance(obj, dict):
        return ""
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else obj.get("name")
    return name if isinstance(name, str) else json.dumps(obj, sort_keys=True)


def _decisive_subnets(raw: dict[str, Any]) -> dict[str, Any]:
    """Pool -> recorded subnet, for pools whose subnet only the pull's record tells."""
    recorded = raw.get("pool_subnets")
    if not isinstance(recorded, dict):
        return {}
    only: dict[str, str | None] = {}
    for net in raw.get("networks") or []:
        if isinstance(net, dict) and isinstance(net.get("subnets"), list):
            ids = [sub.get("networkId") for sub in net["subnets"] if isinstance(sub, dict)]
            only[str(net.get("name"))] = ids[0] if len(ids) == 1 else None
    out: dict[str, Any] = {}
    for pool in raw.get("pools") or []:
        name = pool_name_of(pool)
        entry = recorded.get(name)
        if not isinstance(entry, dict):
            continue
        network, subnet_id = pool_network(pool)
        if not subnet_id and entry.get("subnet") != only.get(network or ""):
            out[name] = entry.get("subnet")
    return out


def read_snapshot_file(path: str | Path) -> dict[str, Any]:
    """Read a snapshot file as JSON; an unreadable or non-JSON file is an InputError naming the file."""
    source = str(path)
    blob = read_bytes(path, "snapshot")
    try:
        data = orjson.loads(blob)
        check_depth(data, source)  # orjson accepts 1,024 levels: more than the code downstream can walk
    except orjson.JSONDecodeError:
        # orjson is fast but terse: the standard parser names the line and column of the problem
        data = parse_json(decode_text(blob, source), source)
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object at the top level, got {_kind(data)}", source=source, path="$")
    return data




def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


class _Checker:
    """Small typed accessors that raise InputError with a JSON path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> InputError:
        return InputError(message, source=self.source, path=path)

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {_kind(value)}")
        return value

    def field(self, parent: dict[str, Any], key: str, path: str, kind: type | tuple[type, ...],
              *, required: bool = True) -> Any:
        where = f"{path}.{key}"
        if key not in parent or parent[key] is None:
            if required:
                raise self.fail(where, "required field is missing")
            return None
        value = parent[key]
        if isinstance(value, bool) and kind in (int, (int,)):
            raise self.fail(where, f"expected integer, got {_kind(value)}")
        if not isinstance(value, kind):
            names = kind if isinstance(kind, tuple) else (kind,)
            expected = " or ".join(_kind(t()) for t in names)
            raise self.fail(where, f"expected {expected}, got {_kind(value)}")
        return value

    def count(self, parent: dict[str, Any], key: str, path: str, *, required: bool = True) -> Any:
        """A whole number that must not be negative (None when optional and absent)."""
        value = self.field(parent, key, path, int, required=required)
        if value is not None and value < 0:
            raise self.fail(f"{path}.{key}", f"must not be negative (got {value})")
        return value

    def string_map(self, parent: dict[str, Any], key: str, path: str) -> dict[str, str]:
        value = self.field(parent, key, path, dict, required=False)
        if value is None:
            return {}
        has_null = False
        for k, v in value.items():
            if v is None:
                has_null = True
            elif not isinstance(v, str):
                raise self.fail(f"{path}.{key}[{json.dumps(k)}]", f"expected string, got {_kind(v)}")
        return {k: v for k, v in value.items() if v is not None} if has_null else value


def _string_values(mapping: Any) -> bool:
    if type(mapping) is not dict:
        return False
    for v in mapping.values():  # noqa: SIM110  (a plain loop: measurably faster than all() on 100k nodes)
        if type(v) is not str:
            return False
    return True


def _node_fast(node: Any) -> tuple[str, dict[str, str], dict[str, str], str, str] | None:
    """(name, labels, annotations, flavor, phase) of a well-formed node, or None to take the checked path."""
    try:
        meta, spec, status = node["metadata"], node["spec"], node["status"]
        name, flavor, phase = meta["name"], spec["flavor"], status["phase"]
        labels = meta.get("labels") or {}
        annotations = meta.get("annotations") or {}
    except (KeyError, TypeError, AttributeError):
        return None
    if type(name) is not str or type(flavor) is not str or type(phase) is not str:
        return None
    if not (_string_values(labels) and _string_values(annotations)):
        return None
    return name, labels, annotations, flavor, phase


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


def read_rows(raw: dict[str, Any], *, source: str = "<snapshot>") -> SnapshotRows:
    """Validate a snapshot dict (InputError with the JSON path) and read its objects into rows."""
    c = _Checker(source)
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
    return SnapshotRows(project_id, region, pool_rows, flavor_rows, status_cluster, node_rows, subnet_rows)


SubnetRow = tuple[str, str, str | None, int, int, int]  # subnet, network, cidr, total, used, free


def _read_networks(c: _Checker, raw_networks: list[Any]) -> tuple[list[SubnetRow], dict[str, list[str]]]:
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


def _pool_subnets(c: _Checker, raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
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
                raise c.fail(f"{path}.tried[{k}]", f"expected string, got {_kind(item)}")
    return value


def _read_pool_flavors(c: _Checker, spec: dict[str, Any], path: str, name: str,
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


def _read_pools(c: _Checker, raw_pools: list[Any], network_subnets: dict[str, list[str]], known: set[str],
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
                    raise c.fail(f"{path}.status.resources.{key}", f"expected array or object, got {_kind(val)}")
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


NodeRow = tuple[str, str, str, str, str, str, str]  # node, pool, flavor, phase, cluster, super-node uid, why not


def _read_nodes(c: _Checker, raw_nodes: dict[str, Any], pool_names: set[str]) -> list[NodeRow]:
    """One row per node; a malformed node is reported with its JSON path."""
    node_names: set[str] = set()
    node_rows: list[NodeRow] = []
    for pool_name, items in raw_nodes.items():
        ppath = f"$.nodes[{json.dumps(pool_name)}]"
        if pool_name not in pool_names:
            raise c.fail(ppath, f"nodes listed under pool {pool_name!r}, which $.pools does not list")
        if not isinstance(items, list):
            raise c.fail(ppath, f"expected an array of nodes, got {_kind(items)}")
        for j, node in enumerate(items):
            fast = _node_fast(node)
            name, labels, annotations, flavor, phase = fast if fast is not None else _node_checked(
                c, node, f"{ppath}[{j}]")
            if not name:
                raise c.fail(f"{ppath}[{j}].metadata.name", "must not be empty")
            if name in node_names:
                raise c.fail(f"{ppath}[{j}].metadata.name", f"duplicate node name {name!r}")
            node_names.add(name)
            node_rows.append((name, pool_name, flavor, phase, node_cluster(labels, pool_name), node_unit_uid(labels),
                              node_immovable_reason(phase, labels, annotations)))
    return node_rows


def _node_checked(c: _Checker, node: Any, path: str) -> tuple[str, dict[str, str], dict[str, str], str, str]:
    """The slow path for a node `_node_fast` refused: names the JSON path of the problem."""
    node = c.obj(node, path)
    meta = c.field(node, "metadata", path, dict)
    name = c.field(meta, "name", f"{path}.metadata", str)
    labels = c.string_map(meta, "labels", f"{path}.metadata")
    annotations = c.string_map(meta, "annotations", f"{path}.metadata")
    spec = c.field(node, "spec", path, dict)
    flavor = c.field(spec, "flavor", f"{path}.spec", str)
    status = c.field(node, "status", path, dict)
    phase = c.field(status, "phase", f"{path}.status", str)
    return name, labels, annotations, flavor, phase


