"""Read calls of the ModelArts API: pools, nodes, networks, workspaces and the workloads on the nodes.

Owns: each read endpoint's path, query and paging (ListPoolNodes by `metadata.continue`; ListWorkloads by
`limit`/`offset`, following `metadata.continue` too when a server sends it; ListWorkspace by page), and
returning the API's raw JSON objects. Must not: interpret an object beyond paging, or write anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from planner.errors import ApiStatusError
from planner.files import JsonObject
from planner.modelarts.base import ClientBase, items_of

WORKLOAD_PAGE = 500  # ListWorkloads' maximum and default `limit` (SDK ListWorkloadsRequest)
_HOSTIPS_PER_CALL = 50  # ListWorkloads `hostip` values per request (paging is ignored with hostip)
_WORKSPACE_PAGE = 1000  # ListWorkspace's default `limit`


class ReadCalls(ClientBase):
    """GET endpoints; every method returns raw API objects and retries like every read."""

    def list_pools(self, *, status: str | None = None, label_selector: str | None = None,
                   workspace_id: str | None = None) -> list[JsonObject]:
        """ListPools: every pool object of one workspace (the API does not page this list; without
        `workspace_id` the service lists workspace "0")."""
        params = {"status": status, "labelSelector": label_selector, "workspaceId": workspace_id}
        body = self._get_json(self._v2("pools"), params)
        return items_of(body, "ListPools")

    def show_pool(self, pool_name: str) -> JsonObject:
        """ShowPool: one pool object by metadata.name."""
        return self._get_json(self._v2("pools", pool_name))

    def list_pool_nodes(self, pool_name: str, *, page_size: int | None = None) -> list[JsonObject]:
        """ListPoolNodes: every node of the pool, following metadata.continue while the server pages."""
        nodes: list[JsonObject] = []
        seen_tokens: set[str] = set()
        token = ""
        path = self._v2("pools", pool_name, "nodes")
        while True:
            params: dict[str, Any] = {"limit": page_size, "continue": token or None}
            body = self._get_json(path, params)
            nodes.extend(items_of(body, "ListPoolNodes"))
            token = _continue_token(body)
            if not token:
                return nodes
            if token in seen_tokens:
                raise ApiStatusError(f"ModelArts API ListPoolNodes {pool_name}: paging does not advance "
                                     f"(continue token repeated)", status=200, method="GET", path=path)
            seen_tokens.add(token)

    def show_pool_node(self, pool_name: str, node_name: str) -> JsonObject:
        """ShowPoolNode: one node of a pool (404 when it is not, or no longer, in that pool)."""
        return self._get_json(self._v2("pools", pool_name, "nodes", node_name))

    def show_network(self, network_name: str) -> JsonObject:
        """ShowNetwork: the network object (the documented schema does not promise `status.subnets`)."""
        return self._get_json(self._v1("networks", network_name))

    def show_network_available_ip(self, network_name: str, subnet_id: str | None = None) -> JsonObject:
        """ShowNetworkAvailableIp: `{name, networkId, subnetIpAvailability: [{cidr, usedIps, totalIps}]}`.

        Without `subnet_id` the network's own answer is asked for (its `networkId` names the subnet).
        """
        return self._get_json(self._v1("networks", network_name, "network-ip-availabilities"),
                              {"network_id": subnet_id})

    def list_workspaces(self) -> list[JsonObject]:
        """ListWorkspace (`GET /v1/{project}/workspaces`): every workspace these credentials may access."""
        found: dict[str, JsonObject] = {}
        page = 0
        while True:
            body = self._get_json(self._v1("workspaces"), {"offset": page, "limit": _WORKSPACE_PAGE,
                                                           "filter_accessible": "true"})
            listed = body.get("workspaces")
            if not isinstance(listed, list) or not all(isinstance(w, dict) for w in listed):
                raise ApiStatusError("ModelArts API ListWorkspace: 'workspaces' is not a list of objects",
                                     status=200)
            new = {str(w.get("id")): w for w in listed if str(w.get("id")) not in found}
            found.update(new)
            total = body.get("total_count")
            if not new or len(listed) < _WORKSPACE_PAGE or (isinstance(total, int) and len(found) >= total):
                return list(found.values())
            page += 1

    def list_workloads(self, pool_name: str, *, status: str | None = "Running", workload_type: str | None = None,
                       host_ips: Iterable[str] | None = None, page_size: int = WORKLOAD_PAGE) -> list[JsonObject]:
        """ListWorkloads of a pool (default: the Running ones).

        By pool: paged with `limit`/`offset` (and `metadata.continue` when the server sends one) until a
        page adds nothing. With `host_ips`: the workloads on those nodes, unpaged as the API documents,
        asking for at most 50 addresses per request.
        """
        path = self._v2("pools", pool_name, "workloads")
        base: dict[str, Any] = {"status": status, "type": workload_type}
        if host_ips is not None:
            ips = sorted(set(host_ips))
            found: list[JsonObject] = []
            for start in range(0, len(ips), _HOSTIPS_PER_CALL):
                chunk = ",".join(ips[start:start + _HOSTIPS_PER_CALL])
                found.extend(items_of(self._get_json(path, {**base, "hostip": chunk}), "ListWorkloads"))
            return _unique(found)
        return self._paged_workloads(path, base, page_size)

    def _paged_workloads(self, path: str, base: dict[str, Any], page_size: int) -> list[JsonObject]:
        found: list[JsonObject] = []
        keys: set[str] = set()
        token = ""
        while True:
            params = {**base, "limit": page_size, "offset": None if token else (len(found) or None),
                      "continue": token or None}
            body = self._get_json(path, params)
            page = items_of(body, "ListWorkloads")
            fresh = [item for item in page if _workload_key(item) not in keys]
            keys.update(_workload_key(item) for item in fresh)
            found.extend(fresh)
            token = _continue_token(body)
            if not fresh or (not token and len(page) < page_size):
                return found


def _continue_token(body: JsonObject) -> str:
    metadata = body.get("metadata")
    return str(metadata.get("continue") or "") if isinstance(metadata, dict) else ""


def _workload_key(item: JsonObject) -> str:
    """A workload's identity: its uid, else namespace/name, else the whole object."""
    if isinstance(item.get("uid"), str) and item["uid"]:
        return f"uid:{item['uid']}"
    if isinstance(item.get("name"), str) and item["name"]:
        return f"name:{item.get('namespace') or ''}/{item['name']}"
    return json.dumps(item, sort_keys=True)


def _unique(items: list[JsonObject]) -> list[JsonObject]:
    seen: set[str] = set()
    unique = []
    for item in items:
        key = _workload_key(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique
