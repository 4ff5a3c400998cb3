"""Pull a `poolshift.inventory/v1` snapshot (PRODUCT §2) from the ModelArts API.

Owns: which calls make a snapshot (ListPools, ListPoolNodes per pool, ShowNetwork and ShowNetworkAvailableIp
for every network a pool names) and its deterministic shape: pools by metadata.name, nodes by name, networks
by name, subnets by networkId. Pool and node objects are kept exactly as the API returned them.
Must not: interpret pools or nodes (that is planner.inventory) or hold credentials.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner.errors import ApiStatusError, InputError
from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = "poolshift.inventory/v1"


def _name(obj: JsonObject) -> str:
    metadata = obj.get("metadata")
    return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""


def pool_network_name(pool: JsonObject) -> str | None:
    """The ModelArts network a pool names in spec.network.name, if any."""
    spec = pool.get("spec")
    network = spec.get("network") if isinstance(spec, dict) else None
    name = network.get("name") if isinstance(network, dict) else None
    return name if isinstance(name, str) and name else None


def pull_network(client: ModelArtsClient, network_name: str) -> JsonObject | None:
    """`{name, subnets: [{networkId, cidr, totalIps, usedIps}]}` for one network; None when it does not exist."""
    try:
        network = client.show_network(network_name)
    except ApiStatusError as exc:
        if exc.status == 404:
            log.warning("network %s named by a pool does not exist (%s); left out of the snapshot",
                        network_name, exc.error_code)
            return None
        raise
    status = network.get("status")
    listed = status.get("subnets") if isinstance(status, dict) else None
    subnets: list[JsonObject] = []
    for subnet in listed if isinstance(listed, list) else []:
        subnet_id = subnet.get("networkId") if isinstance(subnet, dict) else None
        if not isinstance(subnet_id, str) or not subnet_id:
            continue
        answer = client.show_network_available_ip(network_name, subnet_id)
        usage = _ipv4_usage(answer)
        if usage is None:
            raise ApiStatusError(f"ModelArts API ShowNetworkAvailableIp {network_name}/{subnet_id}: "
                                 f"no subnetIpAvailability in the answer", status=200)
        subnets.append({
            "networkId": subnet_id,
            "cidr": str(usage.get("cidr") or subnet.get("cidr") or ""),
            "totalIps": _count(usage, "totalIps", subnet_id),
            "usedIps": _count(usage, "usedIps", subnet_id),
        })
    subnets.sort(key=lambda s: str(s["networkId"]))
    return {"name": network_name, "subnets": subnets}


def _ipv4_usage(answer: JsonObject) -> JsonObject | None:
    entries = [e for e in answer.get("subnetIpAvailability") or [] if isinstance(e, dict)]
    for entry in entries:
        if entry.get("ipVersion") in (4, "4"):
            return entry
    return entries[0] if entries else None


def _count(usage: JsonObject, key: str, subnet_id: str) -> int:
    value = usage.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiStatusError(f"ModelArts API ShowNetworkAvailableIp {subnet_id}: {key} is not an integer",
                             status=200)
    return value


def pull_snapshot(client: ModelArtsClient, region: str, project_id: str, *,
                  captured_at: datetime | None = None) -> dict[str, Any]:
    """Read pools, nodes and networks through `client` into a `poolshift.inventory/v1` snapshot dict."""
    if project_id != client.project_id:
        raise InputError(f"project id {project_id!r} differs from the client's {client.project_id!r}",
                         source="arguments", path="--project-id")
    pools = sorted(client.list_pools(), key=_name)
    nodes = {_name(pool): sorted(client.list_pool_nodes(_name(pool)), key=_name) for pool in pools}
    network_names = sorted({name for pool in pools if (name := pool_network_name(pool))})
    networks = [net for name in network_names if (net := pull_network(client, name)) is not None]
    moment = (captured_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return {
        "format": SNAPSHOT_FORMAT,
        "project_id": project_id,
        "region": region,
        "captured_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "pools": pools,
        "nodes": nodes,
        "networks": networks,
    }


def write_snapshot(snapshot: dict[str, Any], path: str | Path) -> None:
    """Write the snapshot as sorted, indented JSON, atomically (temp file in the same directory, then rename)."""
    target = Path(path)
    text = json.dumps(snapshot, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path("."))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(f"cannot write snapshot ({exc.strerror or exc})", source=str(target)) from None
