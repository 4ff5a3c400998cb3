"""Pull a `poolshift.inventory/v1` snapshot (PRODUCT §2, §9) from the ModelArts API.

Owns: which calls make a snapshot and its deterministic shape. ListPools (for one workspace, or for every
workspace ListWorkspace shows with `all`); ListPoolNodes per pool; the networks and subnets with their
address counts and each pool's subnet provenance (`planner.modelarts.subnets`); the Running workloads of
every pool (ListWorkloads, paged). Pools are ordered by metadata.name, nodes by name, networks by name,
subnets by networkId; pool, node and workload objects are kept exactly as the API returned them. Warnings
(an unknown subnet, a missing network) are appended to the caller's list, which shows them (and logged at
INFO, so they do not print twice); nothing is printed here.
Must not: interpret pools or nodes beyond subnet provenance (that is planner.inventory) or hold credentials.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner.errors import ApiAuthError, ApiStatusError, InputError
from planner.files import JsonObject, canonical_json, write_atomic
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.settings import ALL_WORKSPACES, DEFAULT_WORKSPACE
from planner.modelarts.subnets import SubnetDiscovery, pool_network_name, unknown_subnet_warnings

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = "poolshift.inventory/v1"
__all__ = ["SNAPSHOT_FORMAT", "pool_network_name", "pull_network", "pull_snapshot", "pull_workloads",
           "write_snapshot"]


def _name(obj: JsonObject) -> str:
    metadata = obj.get("metadata")
    return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""


def pull_network(client: ModelArtsClient, network_name: str, subnet_ids: tuple[str, ...] = ()) -> JsonObject | None:
    """`{name, subnets: [{networkId, cidr, totalIps, usedIps}]}` for one network: the subnets it lists (when
    ShowNetwork lists any) plus `subnet_ids`; None when the network does not exist (logged)."""
    return SubnetDiscovery(client, []).network(network_name, subnet_ids)


def pull_workloads(client: ModelArtsClient, pool_names: list[str]) -> dict[str, list[JsonObject]]:
    """`{pool: [Running workloads as the API gives them]}`, an empty list for a pool with none."""
    workloads: dict[str, list[JsonObject]] = {}
    for pool in sorted(pool_names):
        try:
            items = client.list_workloads(pool, status="Running")
        except ApiStatusError as exc:
            if isinstance(exc, ApiAuthError) or exc.status != 404:
                raise
            log.debug("ListWorkloads for pool %s answered 404; no workloads recorded", pool)
            items = []
        workloads[pool] = sorted(items, key=lambda w: (str(w.get("namespace") or ""), str(w.get("name") or ""),
                                                       str(w.get("uid") or "")))
    return workloads


def _list_pools(client: ModelArtsClient, workspace: str) -> tuple[list[JsonObject], list[str] | None]:
    """The pools of one workspace, or of every workspace ListWorkspace shows (with the ids read)."""
    if workspace != ALL_WORKSPACES:
        return client.list_pools(workspace_id=workspace), None
    try:
        listed = client.list_workspaces()
    except ApiStatusError as exc:
        if exc.status not in (403, 404):
            raise
        error_type = ApiAuthError if exc.status == 403 else ApiStatusError
        raise error_type(f"--workspace-id all: ListWorkspace was refused ({exc}); name one workspace with "
                         f"--workspace-id instead", status=exc.status, error_code=exc.error_code,
                         error_msg=exc.error_msg, request_id=exc.request_id, method=exc.method,
                         path=exc.path) from exc
    ids = sorted({str(w.get("id")) for w in listed if w.get("id") not in (None, "")} | {DEFAULT_WORKSPACE})
    pools: dict[str, JsonObject] = {}
    for workspace_id in ids:
        for pool in client.list_pools(workspace_id=workspace_id):
            pools.setdefault(_name(pool), pool)
    return list(pools.values()), ids


def pull_snapshot(client: ModelArtsClient, region: str | None, project_id: str, *,
                  workspace_id: str | None = None, captured_at: datetime | None = None,
                  warnings: list[str] | None = None, workloads: bool = True) -> dict[str, Any]:
    """Read pools, nodes, networks and workloads through `client` into a `poolshift.inventory/v1` dict.

    `workspace_id` defaults to the client's (else "0"); `all` reads every workspace the credentials may
    access. Every pool whose subnet stays unknown adds a line to `warnings` (and the log).
    """
    if project_id != client.project_id:
        raise InputError(f"project id {project_id!r} differs from the client's {client.project_id!r}",
                         source="arguments", path="--project-id")
    notes: list[str] = [] if warnings is None else warnings
    workspace = workspace_id or client.workspace_id or DEFAULT_WORKSPACE
    listed, workspace_ids = _list_pools(client, workspace)
    pools = sorted(listed, key=_name)
    nodes = {_name(pool): sorted(client.list_pool_nodes(_name(pool)), key=_name) for pool in pools}
    networks, pool_subnets = SubnetDiscovery(client, notes).run(pools, nodes)
    for line in unknown_subnet_warnings(pool_subnets):
        log.info("%s", line)
        notes.append(line)
    moment = (captured_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    snapshot: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "project_id": project_id,
        "captured_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "workspace_id": workspace,
        "pools": pools,
        "nodes": nodes,
        "networks": networks,
        "pool_subnets": pool_subnets,
    }
    if region:
        snapshot["region"] = region
    if workspace_ids is not None:
        snapshot["workspace_ids"] = workspace_ids
    if workloads:
        snapshot["workloads"] = pull_workloads(client, [_name(pool) for pool in pools])
    return snapshot


def write_snapshot(snapshot: dict[str, Any], path: str | Path) -> None:
    """Write the snapshot as sorted, indented JSON, atomically (planner.files.write_atomic: fsync, rename)."""
    write_atomic(path, canonical_json(snapshot))
