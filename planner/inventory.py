"""The planning facts of an inventory snapshot (PRODUCT §2, §9), as plain columns and pandas DataFrames.

Owns: turning the validated rows of a snapshot (`planner.snapshot`) into every fact of PRODUCT §2 and §9 that
needs several rows at once — super-node units and whether each may move, pool clusters and node counts, which
nodes are busy and the Running workloads on each — the `Inventory` that holds them, with the pool names (ids and
display names) resolved by one rule, and the snapshot's fingerprint.
Must not: know about the spec (pins, spec bounds and the `workloads:` policy are applied in the planning core) or
the solver.

Busy (PRODUCT §9): a node is busy when a Running workload of the snapshot lists its `status.privateIp` (in
`hostIps` or `nodes[].hostIp`, whichever pool lists the workload), or when it has accelerators in use
(`status.availableResources` below `status.resources`) that no listed workload explains.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, islice, repeat
from operator import itemgetter, le, not_
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from planner.modelarts.objects import PoolNames, Workload, pool_network
from planner.modelarts.objects import name_of as pool_name_of
from planner.snapshot import FORMAT, Readings, WorkloadRow, read_rows, read_snapshot_file

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMAT", "Inventory", "Workload", "build_inventory", "canonical_content", "describe_workloads",
           "fingerprint_snapshot", "flavor_counts", "load_snapshot", "read_snapshot_file"]

POOL_COLUMNS = ["pool", "display_name", "type", "phase", "takes_part", "excluded_reason", "network",
                "subnet", "subnet_reason", "cluster", "node_count"]
POOL_FLAVOR_COLUMNS = ["pool", "flavor", "max_count"]
NODE_COLUMNS = ["node", "pool", "flavor", "phase", "cluster", "unit", "unit_size", "movable", "reason", "private_ip",
                "busy", "workloads", "busy_reason"]
SUBNET_COLUMNS = ["subnet", "network", "cidr", "total_ips", "used_ips", "free_ips"]


Columns = dict[str, list[Any]]


@dataclass(frozen=True)
class Inventory:
    """A validated snapshot and its derived facts.

    The facts are kept as plain columns (`columns["pools" | "pool_flavors" | "nodes" | "subnets"]`, each a
    mapping of column name to values, sorted by their keys); the planner reads those. `pools`,
    `pool_flavors`, `nodes` and `subnets` give the same facts as pandas DataFrames (columns listed in this
    module), built on first use, so that planning alone never pays for importing pandas.

    Nodes' `busy` (bool), `workloads` (the Running workloads on the node, `Workload` tuples sorted by name) and
    `busy_reason` ("" when idle) are PRODUCT §9's facts; `workloads_known` says whether the snapshot has a
    `workloads` key at all (without one, only accelerators in use tell a busy node).
    """

    raw: dict[str, Any]
    source: str
    project_id: str
    region: str | None
    columns: dict[str, Columns]
    workloads_known: bool = False
    # What was read from each pool's node and workload lists, kept when asked (`build_inventory(keep_readings=True)`)
    # for the snapshots edited copy-on-write from this one, which take the rows of the lists they share with it.
    readings: Readings | None = field(default=None, repr=False, compare=False)
    # What the planner derived from this inventory and a few of a spec's settings, kept for its next plan of the
    # same inventory (whatif's scenarios that share the caller's): planner/planning/problem.py `_units_of`.
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @functools.cached_property
    def pools(self) -> pd.DataFrame:
        """One row per pool: POOL_COLUMNS."""
        return _frame(self.columns["pools"], POOL_COLUMNS)

    @functools.cached_property
    def pool_flavors(self) -> pd.DataFrame:
        """One row per (pool, accepted flavor): POOL_FLAVOR_COLUMNS; `max_count` is a nullable integer."""
        frame = _frame(self.columns["pool_flavors"], POOL_FLAVOR_COLUMNS)
        frame["max_count"] = frame["max_count"].astype("Int64")
        return frame

    @functools.cached_property
    def nodes(self) -> pd.DataFrame:
        """One row per node: NODE_COLUMNS."""
        return _frame(self.columns["nodes"], NODE_COLUMNS)

    @functools.cached_property
    def subnets(self) -> pd.DataFrame:
        """One row per subnet: SUBNET_COLUMNS."""
        return _frame(self.columns["subnets"], SUBNET_COLUMNS)

    @functools.cached_property
    def pool_names(self) -> PoolNames:
        """Pool ids and display names, resolved by the one rule of `planner.modelarts.objects.PoolNames`."""
        pools = self.columns["pools"]
        return PoolNames.of(zip(pools["pool"], pools["display_name"], strict=True))

    @functools.cached_property
    def cell_counts(self) -> dict[tuple[str, str], int]:
        """Nodes per (pool, flavor), counted once (read it through `flavor_counts`, which copies it)."""
        nodes = self.columns["nodes"]
        return dict(Counter(zip(nodes["pool"], nodes["flavor"], strict=True)))

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical snapshot without its capture time (computed once)."""
        return fingerprint_snapshot(self.raw)


def fingerprint_snapshot(raw: dict[str, Any]) -> str:
    """sha256 over the canonical JSON (sorted keys, compact, UTF-8) of the snapshot's content (`canonical_content`).

    A function of the inventory only: the same pools, nodes, networks and workloads give the same fingerprint
    whatever order a file or an API listed them in, and whenever they were captured.
    """
    digest = hashlib.sha256()
    for piece in _canonical_pieces(canonical_content(raw)):  # (pieces: no 90 MB text is built at once)
        digest.update(piece)
    return "sha256:" + digest.hexdigest()


def _canonical_pieces(content: dict[str, Any]) -> Iterator[bytes]:
    """`orjson.dumps(content, option=OPT_SORT_KEYS)` in pieces: the top level and the `nodes` object key by key
    (orjson sorts keys by code point, as `sorted` does), a piece a pool's nodes. Keys that are not all strings
    (orjson refuses them): the whole text in one piece, as orjson writes it or refuses it."""
    sort = orjson.OPT_SORT_KEYS
    nodes = content.get("nodes")
    if not (set(map(type, content)) <= _STR and type(nodes) is dict and set(map(type, nodes)) <= _STR):
        yield orjson.dumps(content, option=sort)
        return
    opening = b"{"
    for key in sorted(content):
        yield opening + orjson.dumps(key) + b":"
        if key == "nodes":
            inner = b"{"
            for pool in sorted(nodes):
                yield inner + orjson.dumps(pool) + b":" + orjson.dumps(nodes[pool], option=sort)
                inner = b","
            yield b"{}" if inner == b"{" else b"}"
        else:
            yield orjson.dumps(content[key], option=sort)
        opening = b","
    yield b"}" if opening == b"," else b"{}"


def canonical_content(raw: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without `captured_at`, lists in a canonical order (pools, nodes and workloads by name, networks
    by name, subnets by id), and of `pool_subnets` only the subnets that decide something: a subnet `inventory pull`
    recorded for a pool whose own fields and network would not name it (source and attempts are provenance)."""
    data = {k: v for k, v in raw.items() if k not in ("captured_at", "pool_subnets")}
    if isinstance(data.get("pools"), list):
        data["pools"] = _by_name(data["pools"])
    for key, name in (("nodes", "metadata"), ("workloads", "name")):
        if isinstance(data.get(key), dict):
            data[key] = {pool: _by_name(items, name) if isinstance(items, list) else items
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


_STR = frozenset({str})


def _by_name(items: list[Any], key: str = "metadata") -> list[Any]:
    """`items` ordered by name (`metadata.name`, or a workload's `name` with `key="name"`): as they are when already
    in order (the common case, checked cheaply); the order `sorted(items, key=_sort_name)` gives."""
    try:
        names = [item["metadata"]["name"] for item in items] if key == "metadata" else [item["name"] for item in items]
    except (KeyError, TypeError):
        return sorted(items, key=_sort_name)
    if not set(map(type, names)) <= _STR:
        return sorted(items, key=_sort_name)
    if all(map(le, names, islice(names, 1, None))):  # already in order (C-level comparisons)
        return items
    return [items[i] for i in sorted(range(len(items)), key=names.__getitem__)]  # stable, like sorted(items)


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


def _frame(columns: Columns, names: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: columns[name] for name in names}, columns=names)


def load_snapshot(path: str | Path) -> Inventory:
    """Read, validate and derive the facts of a snapshot file."""
    return build_inventory(read_snapshot_file(path), source=str(path))


def build_inventory(raw: dict[str, Any], *, source: str = "<snapshot>", reuse: Inventory | None = None,
                    keep_readings: bool = False) -> Inventory:
    """Validate a snapshot dict and derive the planning facts of PRODUCT §2.

    `reuse`: an inventory kept with its readings, of the snapshot `raw` was edited from copy-on-write (whatif's
    scenarios): the node and workload lists `raw` shares with it (the same objects) are not read again."""
    rows = read_rows(raw, source=source, reuse=reuse.readings if reuse is not None else None)
    pool_rows, node_rows = rows.pools, rows.nodes
    pool_rows.sort(key=itemgetter("pool"))
    node_rows.sort(key=itemgetter(0))
    node_columns = [list(column) for column in zip(*node_rows, strict=True)] or [[] for _ in range(9)]
    names, pools, flavors, phases, clusters, uids, reasons, ips, held = node_columns
    nodes = _derive_units(names, pools, flavors, phases, clusters, uids, reasons,
                          {r["pool"] for r in pool_rows if not r["takes_part"]})
    nodes.update(_derive_busy(ips, held, rows.workloads or []))
    _derive_pool_clusters(pool_rows, pools, clusters, rows.status_cluster)
    flavor_rows = sorted(rows.flavors, key=lambda r: (r[0], r[1]))
    subnet_rows = sorted(rows.subnets, key=itemgetter(0))
    columns: dict[str, Columns] = {
        "pools": {name: [r[name] for r in pool_rows] for name in POOL_COLUMNS},
        "pool_flavors": {name: [r[k] for r in flavor_rows] for k, name in enumerate(POOL_FLAVOR_COLUMNS)},
        "nodes": nodes,
        "subnets": {name: [r[k] for r in subnet_rows] for k, name in enumerate(SUBNET_COLUMNS)},
    }
    return Inventory(raw=raw, source=source, project_id=rows.project_id, region=rows.region, columns=columns,
                     workloads_known=rows.workloads is not None, readings=rows.readings if keep_readings else None)


def _derive_pool_clusters(pool_rows: list[dict[str, Any]], pools: list[str], clusters: list[str],
                          status_cluster: dict[str, str | None]) -> None:
    """Pool cluster: the most common cluster of its nodes (ties: by name); with no nodes, the status/spec
    cluster, else the pool's own name. Also the node count of each pool."""
    by_pool: dict[str, dict[str, int]] = {}
    for (pool, cluster), n in Counter(zip(pools, clusters, strict=True)).items():  # one Counter, not one a pool
        by_pool.setdefault(pool, {})[cluster] = n
    for r in pool_rows:
        counted = by_pool.get(r["pool"])
        r["node_count"] = sum(counted.values()) if counted else 0
        if counted:
            top = max(counted.values())
            r["cluster"] = min(c for c, n in counted.items() if n == top)
        else:
            r["cluster"] = status_cluster.get(r["pool"]) or r["pool"]


def _derive_units(names: list[str], pools: list[str], flavors: list[str], phases: list[str], clusters: list[str],
                  uids: list[str], reasons: list[str], left_out: set[str]) -> Columns:
    """Node columns with move units: a super node (same hyperinstance uid) moves whole, only if every member may.

    The lists are the node rows' columns (sorted by node); `reasons` is completed in place. Nodes alone (the
    common case) cost no Python work per node but in the unit names; super nodes are looked at one by one.
    """
    if left_out:
        for k, pool in enumerate(pools):
            if pool in left_out:
                reasons[k] = "; ".join(x for x in (reasons[k], f"pool {pool} does not take part") if x)
    units = [f"hyperinstance:{uid}" if uid else name for name, uid in zip(names, uids, strict=True)]
    size = Counter(compress(units, uids))  # the units of super-node members (a node alone is a unit of one)...
    if size and not size.keys().isdisjoint(names):  # ...unless a node is named like a super node's unit
        size = Counter(units)
    sizes = list(map(size.get, units, repeat(1)))
    if max(size.values(), default=1) > 1:  # some unit has several members
        _block_super_nodes(names, pools, flavors, units, sizes, reasons)
    return {
        "node": names, "pool": pools, "flavor": flavors, "phase": phases, "cluster": clusters, "unit": units,
        "unit_size": sizes, "movable": list(map(not_, reasons)), "reason": reasons,
    }


def _block_super_nodes(names: list[str], pools: list[str], flavors: list[str], units: list[str], sizes: list[int],
                       reasons: list[str]) -> None:
    """A super node spanning several pools or flavors may not move; nor may any of its members when one may not."""
    multi = [k for k, n in enumerate(sizes) if n > 1]
    spans: dict[str, set[tuple[str, str]]] = {}
    for k in multi:
        spans.setdefault(units[k], set()).add((pools[k], flavors[k]))
    for k in multi:
        if len(spans[units[k]]) > 1:
            reasons[k] = "; ".join(x for x in (reasons[k], "super node spans several pools or flavors") if x)
    blocked: dict[str, str] = {}
    for k in multi:
        unit, name = units[k], names[k]
        if reasons[k] and (unit not in blocked or name < blocked[unit]):
            blocked[unit] = name
    for k in multi:
        if not reasons[k] and units[k] in blocked:
            reasons[k] = f"super node member {blocked[units[k]]} may not move"


def _derive_busy(ips: list[str | None], held: list[tuple[str, ...]], workload_rows: Sequence[WorkloadRow]) -> Columns:
    """Per node: its address, whether it is busy, the Running workloads listing that address, and why it is busy."""
    on_ip = _workloads_on(workload_rows)
    n = len(ips)
    none: tuple[Workload, ...] = ()
    if not on_ip and not any(held):  # nothing runs anywhere (no Running workload, no accelerator in use)
        return {"private_ip": ips, "busy": [False] * n, "workloads": [none] * n, "busy_reason": [""] * n}
    found = list(map(on_ip.get, ips))  # (workloads, "runs …") of each node's address, None when none lists it
    workloads = [f[0] if f else none for f in found]
    busy = list(map(any, zip(workloads, held, strict=True)))  # any((own, use)): runs a listed workload or holds some
    reasons = [f[1] if f else "" for f in found]
    for k in compress(range(n), held):
        if not found[k]:
            reasons[k] = f"has accelerators in use ({', '.join(held[k])}) that no listed workload explains"
    return {"private_ip": ips, "busy": busy, "workloads": workloads, "busy_reason": reasons}


Running = tuple[tuple[Workload, ...], str]  # the Running workloads on an address, and "runs …" (describe_workloads)


def _workloads_on(workload_rows: Sequence[WorkloadRow]) -> dict[str | None, Running]:
    """Address -> the Running workloads listing it (each once, sorted by name, type and priority) with "runs …".

    Usually each address is listed by one workload: then every address of a workload shares one answer."""
    answers = [((identity,), "runs " + describe_workloads((identity,))) for _, identity, _ in workload_rows]
    on_ip: dict[str | None, Running] = {host: answer for answer, (_, _, hosts) in zip(answers, workload_rows,
                                                                                      strict=True) for host in hosts}
    if len(on_ip) == sum(len(hosts) for _, _, hosts in workload_rows):
        return on_ip  # no address is listed twice
    listed: dict[str | None, dict[Workload, None]] = {}
    for _, identity, hosts in workload_rows:
        for host in hosts:
            listed.setdefault(host, {})[identity] = None
    runs: dict[tuple[Workload, ...], Running] = {}
    for ip, named in listed.items():
        own = tuple(sorted(named, key=_workload_key))
        on_ip[ip] = runs.get(own) or runs.setdefault(own, (own, "runs " + describe_workloads(own)))
    return on_ip


def _workload_key(w: Workload) -> tuple[str, str, str]:
    return w.name, w.type, str(w.priority)


def describe_workloads(workloads: Sequence[Workload]) -> str:
    """`name (type), name (type)`: how messages name the workloads on a node."""
    return ", ".join(f"{w.name} ({w.type})" if w.type else w.name for w in workloads)


def flavor_counts(inventory: Inventory) -> dict[tuple[str, str], int]:
    """Nodes per (pool, flavor) as a plain dict (a new one each call, counted once per inventory)."""
    return dict(inventory.cell_counts)
