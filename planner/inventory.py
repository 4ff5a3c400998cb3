"""The planning facts of an inventory snapshot (PRODUCT §2), as plain columns and pandas DataFrames.

Owns: turning the validated rows of a snapshot (`planner.snapshot`) into every fact of PRODUCT §2 that needs
several rows at once — super-node units and whether each may move, pool clusters and node counts — and the
`Inventory` that holds them, with the pool names (ids and display names) resolved by one rule.
Must not: know about the spec (pins and spec bounds are applied in the planning core) or the solver.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.modelarts.objects import PoolNames
from planner.snapshot import FORMAT, fingerprint_snapshot, read_rows, read_snapshot_file

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMAT", "Inventory", "build_inventory", "fingerprint_snapshot", "flavor_counts", "load_snapshot",
           "read_snapshot_file"]

POOL_COLUMNS = ["pool", "display_name", "type", "phase", "takes_part", "excluded_reason", "network",
                "subnet", "subnet_reason", "cluster", "node_count"]
POOL_FLAVOR_COLUMNS = ["pool", "flavor", "max_count"]
NODE_COLUMNS = ["node", "pool", "flavor", "phase", "cluster", "unit", "unit_size", "movable", "reason"]
SUBNET_COLUMNS = ["subnet", "network", "cidr", "total_ips", "used_ips", "free_ips"]


Columns = dict[str, list[Any]]


@dataclass(frozen=True)
class Inventory:
    """A validated snapshot and its derived facts.

    The facts are kept as plain columns (`columns["pools" | "pool_flavors" | "nodes" | "subnets"]`, each a
    mapping of column name to values, sorted by their keys); the planner reads those. `pools`,
    `pool_flavors`, `nodes` and `subnets` give the same facts as pandas DataFrames (columns listed in this
    module), built on first use, so that planning alone never pays for importing pandas.
    """

    raw: dict[str, Any]
    source: str
    project_id: str
    region: str | None
    columns: dict[str, Columns]

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
    def fingerprint(self) -> str:
        """sha256 of the canonical snapshot without its capture time (computed once)."""
        return fingerprint_snapshot(self.raw)


def _frame(columns: Columns, names: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: columns[name] for name in names}, columns=names)


def load_snapshot(path: str | Path) -> Inventory:
    """Read, validate and derive the facts of a snapshot file."""
    return build_inventory(read_snapshot_file(path), source=str(path))


def build_inventory(raw: dict[str, Any], *, source: str = "<snapshot>") -> Inventory:
    """Validate a snapshot dict and derive the planning facts of PRODUCT §2."""
    rows = read_rows(raw, source=source)
    pool_rows, node_rows = rows.pools, rows.nodes
    pool_rows.sort(key=lambda r: r["pool"])
    node_rows.sort(key=lambda r: r[0])
    nodes = _derive_units(node_rows, {r["pool"]: bool(r["takes_part"]) for r in pool_rows})
    _derive_pool_clusters(pool_rows, node_rows, rows.status_cluster)
    flavor_rows = sorted(rows.flavors, key=lambda r: (r[0], r[1]))
    subnet_rows = sorted(rows.subnets, key=lambda r: r[0])
    columns: dict[str, Columns] = {
        "pools": {name: [r[name] for r in pool_rows] for name in POOL_COLUMNS},
        "pool_flavors": {name: [r[k] for r in flavor_rows] for k, name in enumerate(POOL_FLAVOR_COLUMNS)},
        "nodes": nodes,
        "subnets": {name: [r[k] for r in subnet_rows] for k, name in enumerate(SUBNET_COLUMNS)},
    }
    return Inventory(raw=raw, source=source, project_id=rows.project_id, region=rows.region, columns=columns)


def _derive_pool_clusters(pool_rows: list[dict[str, Any]], node_rows: Sequence[tuple[str, ...]],
                          status_cluster: dict[str, str | None]) -> None:
    """Pool cluster: the most common cluster of its nodes (ties: by name); with no nodes, the status/spec
    cluster, else the pool's own name. Also the node count of each pool."""
    by_pool: dict[str, Counter[str]] = {}
    for row in node_rows:
        by_pool.setdefault(row[1], Counter())[row[4]] += 1
    for r in pool_rows:
        clusters = by_pool.get(r["pool"])
        r["node_count"] = sum(clusters.values()) if clusters else 0
        if clusters:
            top = max(clusters.values())
            r["cluster"] = min(c for c, n in clusters.items() if n == top)
        else:
            r["cluster"] = status_cluster.get(r["pool"]) or r["pool"]


def _derive_units(node_rows: Sequence[tuple[str, ...]], takes_part: dict[str, bool]) -> Columns:
    """Node columns with move units: a super node (same hyperinstance uid) moves whole, only if every member may."""
    names, pools, flavors, phases, clusters, units, reasons = [], [], [], [], [], [], []
    for name, pool, flavor, phase, cluster, uid, why in node_rows:
        if not takes_part.get(pool, False):
            why = "; ".join(x for x in (why, f"pool {pool} does not take part") if x)
        names.append(name)
        pools.append(pool)
        flavors.append(flavor)
        phases.append(phase)
        clusters.append(cluster)
        units.append(f"hyperinstance:{uid}" if uid else name)
        reasons.append(why)
    size = Counter(units)
    spans: dict[str, set[tuple[str, str]]] = {}
    for unit, pool, flavor in zip(units, pools, flavors, strict=True):
        if size[unit] > 1:
            spans.setdefault(unit, set()).add((pool, flavor))
    for k, unit in enumerate(units):
        if unit in spans and len(spans[unit]) > 1:
            reasons[k] = "; ".join(x for x in (reasons[k], "super node spans several pools or flavors") if x)
    blocked: dict[str, str] = {}
    for unit, name, why in zip(units, names, reasons, strict=True):
        if why and size[unit] > 1 and (unit not in blocked or name < blocked[unit]):
            blocked[unit] = name
    for k, unit in enumerate(units):
        if not reasons[k] and unit in blocked:
            reasons[k] = f"super node member {blocked[unit]} may not move"
    return {
        "node": names, "pool": pools, "flavor": flavors, "phase": phases, "cluster": clusters, "unit": units,
        "unit_size": [size[u] for u in units], "movable": [not r for r in reasons], "reason": reasons,
    }


def flavor_counts(inventory: Inventory) -> dict[tuple[str, str], int]:
    """Nodes per (pool, flavor) as a plain dict."""
    nodes = inventory.columns["nodes"]
    return dict(Counter(zip(nodes["pool"], nodes["flavor"], strict=True)))
