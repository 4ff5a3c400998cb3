"""A snapshot's pools and networks read into rows: one per pool, (pool, flavor) and subnet (PRODUCT §2).

Part of reading a snapshot (`planner.snapshot`, which calls these): every field the planner reads is checked, with
its JSON path in the error (exit 2), and raw pools are read through `planner.modelarts.objects`. Must not: derive
facts that need several rows at once (that is `planner.inventory`), know about the spec, or solve.
"""

from __future__ import annotations

import json
from typing import Any

from planner.jsonshape import Checker, kind_of
from planner.modelarts.objects import pool_display_name, pool_excluded_reason, pool_status_cluster, resolve_pool_subnet

SubnetRow = tuple[str, str, str | None, int, int, int]  # subnet, network, cidr, total, used, free


def read_networks(c: Checker, raw_networks: list[Any]) -> tuple[list[SubnetRow], dict[str, list[str]]]:
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


def pool_subnets(c: Checker, raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
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


def read_pools(c: Checker, raw_pools: list[Any], network_subnets: dict[str, list[str]], known: set[str],
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
