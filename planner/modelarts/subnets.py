"""Which subnet each pool uses, and the address counts of every subnet found, without undocumented fields.

Owns: subnet discovery for `inventory pull` (modelarts_api.md §11-§12). A pool's subnet is taken from the
first source that names exactly one: `spec.network.subnetId`; ShowNetwork `status.subnets` when the network
lists exactly one (not in the documented schema, so often absent); `spec.resources[].network.subnet`
(ShowPool, as Terraform reads it) when the entries agree; the subnet the pool's own nodes report in
`spec.hostNetwork.subnet` when they agree; ShowNetworkAvailableIp asked by network. Every subnet found is
listed under its network with `totalIps`/`usedIps` (ShowNetworkAvailableIp), and each pool's provenance is
recorded as `pool_subnets[pool] = {"subnet", "source", "tried"}` ("tried": what each earlier source gave).
Must not: interpret pools beyond these fields (that is `planner.inventory`), print, or swallow an
authentication error (only 400/404 answers count as "this source gave nothing").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from planner.errors import ApiAuthError, ApiStatusError
from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient

log = logging.getLogger("planner.modelarts.pull")

SOURCE_SPEC = "spec.network.subnetId"
SOURCE_SHOW_NETWORK = "ShowNetwork status.subnets"
SOURCE_SHOW_POOL = "ShowPool spec.resources[].network.subnet"
SOURCE_NODES = "nodes spec.hostNetwork.subnet"
SOURCE_AVAILABLE_IP = "ShowNetworkAvailableIp"


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _name(obj: JsonObject) -> str:
    return str(_dig(obj, "metadata", "name") or "")


def pool_network_name(pool: JsonObject) -> str | None:
    """The ModelArts network a pool names in spec.network.name, if any."""
    return _text(_dig(pool, "spec", "network", "name"))


@dataclass
class _Network:
    """What the API said about one network: whether it exists, the subnets it lists, usage already read."""

    name: str
    exists: bool = True
    listed: list[str] | None = None  # status.subnets ids; None when the field is absent
    usage: dict[str, JsonObject] = field(default_factory=dict)
    by_network: tuple[str | None, str] | None = None  # ShowNetworkAvailableIp without network_id: (id, note)


class SubnetDiscovery:
    """One pull's subnet discovery: ask each source at most once per network or pool."""

    def __init__(self, client: ModelArtsClient, warnings: list[str]) -> None:
        self._client = client
        self._warnings = warnings
        self._networks: dict[str, _Network] = {}

    def run(self, pools: list[JsonObject], nodes: Mapping[str, list[JsonObject]]
            ) -> tuple[list[JsonObject], dict[str, JsonObject]]:
        """`networks` (each with its subnets and address counts) and `pool_subnets` for these pools."""
        for name in sorted({n for pool in pools if (n := pool_network_name(pool))}):
            self._networks[name] = self._show_network(name)
        provenance = {_name(pool): self.pool_subnet(pool, nodes.get(_name(pool), [])) for pool in pools}
        wanted: dict[str, list[str]] = {name: list(net.listed or []) for name, net in self._networks.items()}
        owner: dict[str, str] = {}
        for pool in sorted(pools, key=_name):
            subnet, network = provenance[_name(pool)]["subnet"], pool_network_name(pool)
            if subnet is not None and network in wanted and subnet not in wanted[network]:
                wanted[network].append(subnet)
        networks = []
        for name in sorted(wanted):
            listed = self.network(name, wanted[name], owner)
            if listed is not None:
                networks.append(listed)
        return networks, provenance

    def network(self, name: str, subnet_ids: Iterable[str] = (), owner: dict[str, str] | None = None
                ) -> JsonObject | None:
        """`{name, subnets: [{networkId, cidr, totalIps, usedIps}]}`: the subnets the network lists plus
        `subnet_ids`; None when the network does not exist. `owner` keeps a subnet under one network only."""
        if name not in self._networks:
            self._networks[name] = self._show_network(name)
        net = self._networks[name]
        if not net.exists:
            return None
        owner = {} if owner is None else owner
        subnets = []
        for subnet_id in sorted({*(net.listed or []), *subnet_ids}):
            if owner.get(subnet_id, name) != name:
                self._warn(f"subnet {subnet_id} is named under networks {owner[subnet_id]} and {name}; "
                           f"listed under {owner[subnet_id]} only")
                continue
            usage = self._usage(name, subnet_id)
            if usage is not None:
                owner[subnet_id] = name
                subnets.append(usage)
        return {"name": name, "subnets": subnets}

    # -- one pool -----------------------------------------------------------------------------------------

    def pool_subnet(self, pool: JsonObject, pool_nodes: Iterable[JsonObject]) -> JsonObject:
        """`{"subnet", "source", "tried"}` for one pool: the first source that names exactly one subnet."""
        tried: list[str] = []
        explicit = _text(_dig(pool, "spec", "network", "subnetId"))
        if explicit:
            return {"subnet": explicit, "source": SOURCE_SPEC, "tried": tried}
        tried.append(f"{SOURCE_SPEC}: field absent")
        network = pool_network_name(pool)
        attempts: list[tuple[str, Callable[[], tuple[str | None, str]]]] = [
            (SOURCE_SHOW_NETWORK, lambda: self._from_network(network)),
            (SOURCE_SHOW_POOL, lambda: self._from_resources(pool)),
            (SOURCE_NODES, lambda: _from_nodes(pool_nodes)),
            (SOURCE_AVAILABLE_IP, lambda: self._from_available_ip(network)),
        ]
        for source, attempt in attempts:
            subnet, note = attempt()
            if subnet is not None:
                return {"subnet": subnet, "source": source, "tried": tried}
            tried.append(f"{source}: {note}")
        return {"subnet": None, "source": None, "tried": tried}

    def _from_network(self, network: str | None) -> tuple[str | None, str]:
        if network is None:
            return None, "the pool names no network (spec.network.name absent)"
        net = self._networks[network]
        if not net.exists:
            return None, f"network {network} not found"
        if net.listed is None:
            return None, "field absent"
        if len(net.listed) != 1:
            return None, f"network {network} lists {len(net.listed)} subnets and the pool names none"
        return net.listed[0], ""

    def _from_resources(self, pool: JsonObject) -> tuple[str | None, str]:
        resources = _dig(pool, "spec", "resources")
        if not _resource_subnets(resources):
            try:  # the listed object may be a summary; ShowPool gives the whole pool
                resources = _dig(self._client.show_pool(_name(pool)), "spec", "resources")
            except ApiStatusError as exc:
                if isinstance(exc, ApiAuthError) or exc.status not in (400, 404):
                    raise
                return None, f"answered HTTP {exc.status}"
        return _one(_resource_subnets(resources), "no resource names a subnet")

    def _from_available_ip(self, network: str | None) -> tuple[str | None, str]:
        if network is None:
            return None, "the pool names no network"
        net = self._networks[network]
        if not net.exists:
            return None, f"network {network} not found"
        if net.by_network is None:
            try:
                answer = self._client.show_network_available_ip(network)
            except ApiStatusError as exc:
                if isinstance(exc, ApiAuthError) or exc.status not in (400, 404):
                    raise
                net.by_network = (None, f"answered HTTP {exc.status}{f': {exc.error_msg}' if exc.error_msg else ''}")
            else:
                subnet = _text(answer.get("networkId"))
                usage = _usage_entry(answer, subnet) if subnet else None
                if subnet and usage is not None:
                    net.usage[subnet] = usage
                net.by_network = (subnet, "" if subnet else "no networkId in the answer")
        return net.by_network

    # -- networks -----------------------------------------------------------------------------------------

    def _show_network(self, name: str) -> _Network:
        try:
            answer = self._client.show_network(name)
        except ApiStatusError as exc:
            if isinstance(exc, ApiAuthError) or exc.status != 404:
                raise
            self._warn(f"network {name} named by a pool does not exist ({exc.error_code}); left out of the "
                       f"snapshot")
            return _Network(name, exists=False)
        listed = _dig(answer, "status", "subnets")
        if not isinstance(listed, list):
            return _Network(name)
        ids = [sid for sub in listed if (sid := _text(_dig(sub, "networkId")))]
        return _Network(name, listed=sorted(dict.fromkeys(ids)))

    def _usage(self, network: str, subnet_id: str) -> JsonObject | None:
        net = self._networks[network]
        if subnet_id not in net.usage:
            try:
                answer = self._client.show_network_available_ip(network, subnet_id)
            except ApiStatusError as exc:
                if isinstance(exc, ApiAuthError) or exc.status not in (400, 404):
                    raise
                self._warn(f"subnet {subnet_id} of network {network}: ShowNetworkAvailableIp answered HTTP "
                           f"{exc.status}; its free addresses are unknown")
                return None
            usage = _usage_entry(answer, subnet_id)
            if usage is None:
                raise ApiStatusError(f"ModelArts API ShowNetworkAvailableIp {network}/{subnet_id}: "
                                     f"no subnetIpAvailability in the answer", status=200)
            net.usage[subnet_id] = usage
        return net.usage[subnet_id]

    def _warn(self, message: str) -> None:
        log.info("%s", message)
        self._warnings.append(message)


def _resource_subnets(resources: Any) -> list[str]:
    if not isinstance(resources, list):
        return []
    return sorted({s for r in resources if (s := _text(_dig(r, "network", "subnet")))})


def _from_nodes(pool_nodes: Iterable[JsonObject]) -> tuple[str | None, str]:
    nodes = list(pool_nodes)
    if not nodes:
        return None, "the pool has no nodes"
    return _one(sorted({s for n in nodes if (s := _text(_dig(n, "spec", "hostNetwork", "subnet")))}),
                f"field absent on all {len(nodes)} node(s)")


def _one(values: list[str], none_note: str) -> tuple[str | None, str]:
    if not values:
        return None, none_note
    if len(values) > 1:
        return None, f"{len(values)} different subnets"
    return values[0], ""


def _usage_entry(answer: JsonObject, subnet_id: str | None) -> JsonObject | None:
    """`{networkId, cidr, totalIps, usedIps}` from a ShowNetworkAvailableIp answer (its IPv4 entry)."""
    entries = [e for e in answer.get("subnetIpAvailability") or [] if isinstance(e, dict)]
    usage = next((e for e in entries if e.get("ipVersion") in (4, "4")), entries[0] if entries else None)
    if usage is None or subnet_id is None:
        return None
    return {"networkId": subnet_id, "cidr": str(usage.get("cidr") or ""),
            "totalIps": _count(usage, "totalIps", subnet_id), "usedIps": _count(usage, "usedIps", subnet_id)}


def _count(usage: JsonObject, key: str, subnet_id: str) -> int:
    value = usage.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiStatusError(f"ModelArts API ShowNetworkAvailableIp {subnet_id}: {key} is not an integer",
                             status=200)
    return value


def unknown_subnet_warnings(pool_subnets: Mapping[str, Any]) -> list[str]:
    """One line per pool whose subnet stays unknown, naming the pool and what was tried."""
    lines = []
    for pool, entry in sorted(pool_subnets.items()):
        if isinstance(entry, dict) and entry.get("subnet") is None:
            tried = "; ".join(str(t) for t in entry.get("tried") or [])
            lines.append(f"pool {pool}: subnet unknown, it cannot receive nodes (tried {tried})")
    return lines
