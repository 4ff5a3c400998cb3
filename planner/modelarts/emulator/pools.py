"""The emulator's pools, nodes, networks and subnets, and the read endpoints that show them.

Owns: the inventory seeded from a snapshot (pool and node objects, networks with address counts), the
answers of ListPools (status, labelSelector, workspaceId), ShowPool, ListPoolNodes (paged), ShowPoolNode,
ListNetworks, ShowNetwork, ShowNetworkAvailableIp and ListWorkspace, and the facts the write rules need:
where a node is, a pool's subnet and cluster, why a node may not move. With `shape="documented"` the answers
leave out what the documented schemas do not promise: ShowNetwork's `status.subnets`, a pool's
`spec.network` fields other than `name`, `spec.clusters` and `spec.resources[].network` (Terraform-only).
Must not: change nodes (migrations, drains and locks do that) or know about HTTP.
"""

from __future__ import annotations

import base64
import copy
from typing import Any, Literal

from planner.files import JsonObject
from planner.modelarts.emulator.objects import (
    ANNOTATION_LOCK,
    DEFAULT_WORKSPACE,
    LABEL_BILLING,
    LABEL_CABINET,
    LABEL_CLUSTER,
    Refusal,
    annotations_of,
    bad_request,
    dig,
    labels_of,
    name_of,
    node_not_found,
    pool_not_found,
    workspace_of,
)

Shape = Literal["full", "documented"]
MAX_PAGE = 500
_POOL_CREATING = frozenset({"Creating", "Waiting"})
_POOL_FAILED = frozenset({"CreationFailed"})


def _encode_token(pool: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{pool}\n{offset}".encode()).decode("ascii").rstrip("=")


def _decode_token(pool: str, token: str) -> int:
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
        token_pool, offset = text.split("\n")
        if token_pool != pool or not offset.isdigit():
            raise ValueError(token)
        return int(offset)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("invalid continue token") from exc


def _selector_terms(selector: str | None) -> list[tuple[str, str | None]]:
    terms: list[tuple[str, str | None]] = []
    for term in (selector or "").split(","):
        if term.strip():
            key, sep, value = term.partition("=")
            terms.append((key.strip(), value.strip() if sep else None))
    return terms


class PoolStore:
    """Pools, nodes and subnets; `shape` decides what the read answers show."""

    def __init__(self, snapshot: JsonObject, *, shape: Shape = "full") -> None:
        self.shape: Shape = shape
        self.pools: dict[str, JsonObject] = {name_of(p): copy.deepcopy(p) for p in snapshot["pools"]}
        self.nodes: dict[str, dict[str, JsonObject]] = {name: {} for name in self.pools}
        for pool, items in snapshot["nodes"].items():
            for node in sorted(items, key=name_of):
                self.nodes[pool][name_of(node)] = copy.deepcopy(node)
        self.networks: dict[str, JsonObject] = {
            net["name"]: copy.deepcopy(net) for net in snapshot.get("networks") or []}
        self.subnets: dict[str, JsonObject] = {
            sub["networkId"]: sub for net in self.networks.values() for sub in net["subnets"]}

    # -- pools -----------------------------------------------------------------------------------------

    def pool(self, pool_name: str) -> JsonObject:
        pool = self.pools.get(pool_name)
        if pool is None:
            raise pool_not_found(pool_name)
        return pool

    def pool_view(self, pool: JsonObject) -> JsonObject:
        """A pool as the API shows it (without undocumented fields in the documented shape)."""
        view = copy.deepcopy(pool)
        if self.shape == "documented":
            spec = view.get("spec")
            if isinstance(spec, dict):
                if isinstance(spec.get("network"), dict):
                    spec["network"] = {k: v for k, v in spec["network"].items() if k == "name"}
                spec.pop("clusters", None)
                for resource in spec.get("resources") or []:
                    if isinstance(resource, dict):
                        resource.pop("network", None)
        return view

    def list_pools(self, *, status: str | None = None, label_selector: str | None = None,
                   workspace_id: str | None = None) -> JsonObject:
        """ListPools of one workspace (default "0"); `status` is created | creating | failed."""
        wanted = {status} if status else {"creating", "created"}
        if not wanted <= {"created", "creating", "failed"}:
            raise bad_request(f"invalid status {status!r}")
        terms = _selector_terms(label_selector)
        workspace = workspace_id or DEFAULT_WORKSPACE
        items = [self.pool_view(pool) for pool in self.pools.values()
                 if self._pool_state(pool) in wanted and workspace_of(pool) == workspace
                 and all(k in labels_of(pool) and (v is None or labels_of(pool)[k] == v) for k, v in terms)]
        return {"apiVersion": "v2", "kind": "PoolList", "items": items}

    @staticmethod
    def _pool_state(pool: JsonObject) -> str:
        phase = dig(pool, "status", "phase")
        if phase in _POOL_CREATING:
            return "creating"
        return "failed" if phase in _POOL_FAILED else "created"

    def list_workspaces(self, *, offset: int = 0, limit: int = 1000) -> JsonObject:
        """ListWorkspace: the workspaces the pools name, and "0"; `offset` counts pages."""
        ids = sorted({DEFAULT_WORKSPACE, *(workspace_of(p) for p in self.pools.values())})
        page = ids[offset * limit:(offset + 1) * limit]
        items = [{"id": i, "name": "default" if i == DEFAULT_WORKSPACE else f"workspace-{i[:8]}",
                  "status": "NORMAL", "auth_type": "PUBLIC", "description": ""} for i in page]
        return {"total_count": len(ids), "count": len(items), "workspaces": items}

    # -- nodes -----------------------------------------------------------------------------------------

    def list_pool_nodes(self, pool_name: str, *, limit: int | None = None, continue_token: str | None = None,
                        ignore_paging: bool = False) -> JsonObject:
        """ListPoolNodes, paged by limit/continue unless `ignore_paging`."""
        self.pool(pool_name)
        nodes = [copy.deepcopy(n) for _, n in sorted(self.nodes[pool_name].items())]
        if ignore_paging:
            return {"apiVersion": "v2", "kind": "NodeList", "metadata": {}, "items": nodes}
        size = limit or MAX_PAGE
        if not 0 < size <= MAX_PAGE:
            raise bad_request(f"limit must be between 0 and {MAX_PAGE}")
        start = _decode_token(pool_name, continue_token) if continue_token else 0
        page = nodes[start:start + size]
        rest = max(0, len(nodes) - start - size)
        token = _encode_token(pool_name, start + size) if rest else ""
        return {"apiVersion": "v2", "kind": "NodeList",
                "metadata": {"continue": token, "remainingItemCount": rest}, "items": page}

    def show_pool_node(self, pool_name: str, node_name: str) -> JsonObject:
        self.pool(pool_name)
        node = self.nodes[pool_name].get(node_name)
        if node is None:
            raise node_not_found(pool_name, node_name)
        return copy.deepcopy(node)

    def where(self, node_name: str) -> str | None:
        """The pool a node is in now, if any."""
        return next((pool for pool, nodes in self.nodes.items() if node_name in nodes), None)

    @staticmethod
    def immovable_reason(node: JsonObject) -> str:
        """Why the service refuses to migrate this node; empty when it may move."""
        labels, annotations = labels_of(node), annotations_of(node)
        phase = dig(node, "status", "phase")
        if phase != "Available":
            return f"its phase is {phase}, not Available"
        if annotations.get(ANNOTATION_LOCK):
            return f"it is locked ({ANNOTATION_LOCK}={annotations[ANNOTATION_LOCK]})"
        if labels.get(LABEL_BILLING) not in (None, "0"):
            return f"its billing status is {labels[LABEL_BILLING]}"
        if LABEL_CABINET in labels:
            return "it is cabinet-exclusive"
        return ""

    def cluster_names(self, pool: JsonObject) -> set[str]:
        """The clusters of a pool's nodes; with no nodes, status.clusters / spec.clusters[0], else its name."""
        name = name_of(pool)
        clusters = {str(labels_of(n).get(LABEL_CLUSTER) or name) for n in self.nodes[name].values()}
        if clusters:
            return clusters
        status_clusters = dig(pool, "status", "clusters")
        if isinstance(status_clusters, list):
            status_clusters = status_clusters[0] if status_clusters else None
        spec_clusters = dig(pool, "spec", "clusters")
        for candidate in (status_clusters,
                          spec_clusters[0] if isinstance(spec_clusters, list) and spec_clusters else None):
            if isinstance(candidate, dict) and isinstance(candidate.get("name"), str) and candidate["name"]:
                return {candidate["name"]}
        return {name}

    # -- subnets and networks ------------------------------------------------------------------------------

    def pool_subnet(self, pool: JsonObject, *, strict: bool) -> str | None:
        """The subnet the service knows for a pool: spec.network.subnetId, the network's only subnet, the one
        subnet of spec.resources[].network, or the one subnet its nodes are on; None when the network is unknown."""
        subnet_id = dig(pool, "spec", "network", "subnetId")
        if isinstance(subnet_id, str) and subnet_id in self.subnets:
            return subnet_id
        network_name = dig(pool, "spec", "network", "name")
        network = self.networks.get(network_name) if isinstance(network_name, str) else None
        if network is None:
            return None
        ids = {s["networkId"] for s in network["subnets"]}
        if len(ids) == 1:
            return str(next(iter(ids)))
        from_resources = {dig(r, "network", "subnet") for r in dig(pool, "spec", "resources") or []} & ids
        from_nodes = {dig(n, "spec", "hostNetwork", "subnet") for n in self.nodes[name_of(pool)].values()} & ids
        for candidates in (from_resources, from_nodes):
            if len(candidates) == 1:
                return str(next(iter(candidates)))
        if strict:
            raise bad_request(f"cannot tell the subnet of pool {name_of(pool)}: network {network['name']} has "
                              f"{len(network['subnets'])} subnets and nothing names the pool's")
        return None

    def _network_object(self, network: JsonObject) -> JsonObject:
        subnets = [{"networkId": s["networkId"], "cidr": s.get("cidr", "")} for s in network["subnets"]]
        status: dict[str, Any] = {"phase": "Active"}
        if self.shape == "full":
            status["subnets"] = subnets
        return {"apiVersion": "v1", "kind": "Network",
                "metadata": {"name": network["name"], "labels": {"os.modelarts/name": network["name"]}},
                "spec": {"cidr": subnets[0]["cidr"] if subnets else ""}, "status": status}

    def _network(self, network_name: str) -> JsonObject:
        network = self.networks.get(network_name)
        if network is None:
            raise Refusal(404, "ModelArts.50025001", "Network not exist.")
        return network

    def list_networks(self) -> JsonObject:
        items = [self._network_object(n) for _, n in sorted(self.networks.items())]
        return {"apiVersion": "v1", "kind": "NetworkList", "items": items}

    def show_network(self, network_name: str) -> JsonObject:
        return self._network_object(self._network(network_name))

    def show_network_available_ip(self, network_name: str, subnet_id: str | None) -> JsonObject:
        """ShowNetworkAvailableIp: one subnet's usage; without `network_id` only for a one-subnet network."""
        network = self._network(network_name)
        if not subnet_id:
            if len(network["subnets"]) != 1:
                raise bad_request(f"network_id is required: network {network_name} has {len(network['subnets'])} "
                                  f"subnets (the emulator answers without it only for a single subnet)")
            subnet_id = str(network["subnets"][0]["networkId"])
        for subnet in network["subnets"]:
            if subnet["networkId"] == subnet_id:
                usage = {"cidr": subnet.get("cidr", ""), "ipVersion": 4,
                         "usedIps": subnet["usedIps"], "totalIps": subnet["totalIps"]}
                return {"name": subnet_id, "networkId": subnet_id, "subnetIpAvailability": [usage]}
        raise Refusal(404, "ModelArts.50025001", f"Subnet {subnet_id} not exist in network {network_name}.")

    def release(self, subnet_id: str | None, count: int) -> None:
        """Give `count` addresses back to a subnet."""
        if subnet_id is not None:
            subnet = self.subnets[subnet_id]
            subnet["usedIps"] = max(0, subnet["usedIps"] - count)
