"""A raw snapshot being edited by a scenario: copy-on-write over the caller's, with the lookups the edits need.

A 100k-node snapshot is some 60 MB of Python objects; a scenario edits a handful of them. So the copy shares
every object with the caller's snapshot until an edit asks to write it: the top-level mapping, the pool list,
the node mapping and the network list are shallow copies; a pool, a pool's node list, a node or a network is
copied (deeply) the first time an edit asks for it for writing, and replaced in the copy's container. Readers
(`pools`, `subnets`, `find_node`) return shared objects that the edits must only read.

Owns: finding pools (by `metadata.name` or display name, label `os.modelarts/name`; a display name that names
several pools is an error asking for the id), nodes (through a name index built once), subnets and a pool's
subnet (PRODUCT §2, planner.modelarts.objects.resolve_pool_subnet, honouring the pull's `pool_subnets` record),
and `Where`, which names the scenario in every error. The node-name index of the caller's snapshot
(`NodeIndex`) is built once, on first use, and shared by every scenario editing that snapshot; each copy keeps
only its own changes on top of it. Must not: change the caller's snapshot or anything in it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError
from planner.modelarts.objects import (
    PoolNameError,
    PoolNames,
    pool_display_name,
    pool_network,
    resolve_pool_subnet,
)
from planner.review.scenarios.schema import scenario_key

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Where:
    """Names the scenario in error messages: file, `scenarios[i] (name)` and the key path."""

    source: str
    index: int
    scenario: str

    def fail(self, key: str, message: str) -> InputError:
        return InputError(message, source=self.source, path=f"{scenario_key(self.index, self.scenario)}.{key}")


class NodeIndex:
    """Node name -> pool id over a raw snapshot's nodes (the first pool listing a name wins), built on first use.

    Several scenarios edit copies of one snapshot: they share this index of the original and keep their own
    changes apart (`EditableSnapshot`), so a 100k-node snapshot is indexed once per whatif run, not per scenario.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw
        self._names: dict[str, str] | None = None

    def get(self, name: str) -> str | None:
        if self._names is None:
            self._names = {}
            nodes = self._raw.get("nodes", {})
            for pool_id, items in (nodes.items() if isinstance(nodes, dict) else ()):
                for node in items if isinstance(items, list) else []:
                    if isinstance(node, dict) and isinstance(node.get("metadata"), dict):
                        self._names.setdefault(str(node["metadata"].get("name")), str(pool_id))
        return self._names.get(name)


class EditableSnapshot:
    """A copy-on-write view of a raw snapshot; the override functions edit it through the `*_for_write` calls.

    `index`: the node index of `raw` when the caller shares one among several copies (else this copy builds one).
    """

    def __init__(self, raw: Mapping[str, Any], where: Where, index: NodeIndex | None = None) -> None:
        self.where = where
        self.raw: JsonDict = dict(raw)
        pools, nodes, networks = raw.get("pools", []), raw.get("nodes", {}), raw.get("networks", [])
        if not isinstance(pools, list) or not isinstance(nodes, dict) or not isinstance(networks, list):
            raise where.fail(
                "inventory", "cannot apply overrides: the snapshot's pools, nodes or networks have the wrong type"
            )
        self.raw["pools"], self.raw["nodes"], self.raw["networks"] = list(pools), dict(nodes), list(networks)
        self._owned: dict[int, Any] = {}  # id -> object this copy made (kept alive, so ids stay unique)
        self._names: PoolNames | None = None
        self._positions: dict[str, int] | None = None  # pool id -> its place in self.raw["pools"]
        self._base_index = index if index is not None else NodeIndex(raw)
        self._node_changes: dict[str, str | None] = {}  # node name -> pool id, or None when removed, in this copy

    def _own(self, obj: Any) -> Any:
        self._owned[id(obj)] = obj
        return obj

    def _owns(self, obj: Any) -> bool:
        return self._owned.get(id(obj)) is obj

    # --- pools
    def pools(self) -> list[JsonDict]:
        return [p for p in self.raw["pools"] if isinstance(p, dict) and isinstance(p.get("metadata"), dict)]

    @staticmethod
    def pool_id(pool: Mapping[str, Any]) -> str:
        return str(pool["metadata"].get("name", ""))

    @staticmethod
    def display(pool: Mapping[str, Any]) -> str:
        return pool_display_name(pool)

    def find_pool(self, ref: str, key: str) -> JsonDict:
        """The pool `ref` names, by the one rule every command uses (planner.modelarts.objects.PoolNames),
        as this copy's own object (an edit may change it)."""
        if self._names is None:
            self._names = PoolNames.of_pools(self.pools())
        try:
            pool_id = self._names.resolve(ref)
        except PoolNameError as exc:
            raise self.where.fail(key, str(exc)) from exc
        pools = self.raw["pools"]
        if self._positions is None:
            self._positions = {}
            for i, p in enumerate(pools):
                if isinstance(p, dict) and isinstance(p.get("metadata"), dict):
                    self._positions.setdefault(self.pool_id(p), i)
        i = self._positions[pool_id]
        if not self._owns(pools[i]):
            pools[i] = self._own(copy.deepcopy(pools[i]))
        result: JsonDict = pools[i]
        return result

    def append_pool(self, pool: JsonDict) -> None:
        """Add a new pool (with no nodes) to the copy."""
        self.raw["pools"].append(self._own(pool))
        self.raw["nodes"][self.pool_id(pool)] = self._own([])
        self._names = self._positions = None

    # --- nodes
    def pool_nodes(self, pool_id: str) -> list[JsonDict]:
        """The pool's node list, this copy's own (its items are still shared: see `node_for_write`)."""
        items = self.raw["nodes"].get(pool_id, [])
        if not isinstance(items, list):
            raise InputError(f"nodes of pool {pool_id} are not a list", source=self.where.source)
        if not self._owns(items):
            items = self.raw["nodes"][pool_id] = self._own(list(items))
        owned: list[JsonDict] = items
        return owned

    def _pool_of(self, name: str) -> str | None:
        """The pool id of the node called `name` in this copy, or None."""
        if name in self._node_changes:
            return self._node_changes[name]
        return self._base_index.get(name)

    def has_node(self, name: str) -> bool:
        return self._pool_of(name) is not None

    def find_node(self, name: str, key: str) -> tuple[JsonDict, str]:
        """(node, pool id) of the node called `name`; the node is shared: read it, or use `node_for_write`."""
        pool_id = self._pool_of(name)
        if pool_id is not None:
            for node in self.raw["nodes"].get(pool_id) or []:
                if isinstance(node, dict) and isinstance(node.get("metadata"), dict) \
                        and node["metadata"].get("name") == name:
                    return node, pool_id
        raise self.where.fail(key, f"unknown node {name!r}")

    def node_for_write(self, pool_id: str, node: JsonDict) -> JsonDict:
        """This copy's own version of `node` (a node of `pool_id`), replacing the shared one in the pool's list."""
        if self._owns(node):
            return node
        items = self.pool_nodes(pool_id)
        i = next(i for i, n in enumerate(items) if n is node)
        items[i] = self._own(copy.deepcopy(node))
        return items[i]

    def remove_node(self, pool_id: str, node: JsonDict) -> None:
        items = self.pool_nodes(pool_id)
        del items[next(i for i, n in enumerate(items) if n is node)]
        self._node_changes[str(node["metadata"].get("name"))] = None

    def add_node(self, pool_id: str, node: JsonDict) -> None:
        self.pool_nodes(pool_id).append(self._own(node))
        self._node_changes[str(node["metadata"].get("name"))] = pool_id

    # --- networks and subnets
    def networks(self) -> list[JsonDict]:
        return [n for n in self.raw["networks"] if isinstance(n, dict)]

    def subnets(self) -> dict[str, tuple[JsonDict, str]]:
        """Subnet id -> (subnet object, network name); shared objects: read them, or use `subnet_for_write`."""
        out: dict[str, tuple[JsonDict, str]] = {}
        for net in self.networks():
            for sub in net.get("subnets") or []:
                if isinstance(sub, dict) and isinstance(sub.get("networkId"), str):
                    out[sub["networkId"]] = (sub, str(net.get("name", "")))
        return out

    def network_for_write(self, name: str) -> JsonDict:
        """This copy's own version of the network called `name` (which must exist)."""
        nets = self.raw["networks"]
        i = next(i for i, n in enumerate(nets) if isinstance(n, dict) and str(n.get("name", "")) == name)
        if not self._owns(nets[i]):
            nets[i] = self._own(copy.deepcopy(nets[i]))
        result: JsonDict = nets[i]
        return result

    def subnet_for_write(self, subnet_id: str, network: str | None = None) -> JsonDict:
        """This copy's own version of subnet `subnet_id` (which must exist; `network` names its network when the
        caller already knows it), inside its own network copy."""
        owner = self.network_for_write(network if network is not None else self.subnets()[subnet_id][1])
        return next(s for s in owner.get("subnets") or [] if isinstance(s, dict) and s.get("networkId") == subnet_id)

    def pool_subnet(self, pool: Mapping[str, Any]) -> JsonDict | None:
        """The pool's subnet (PRODUCT §2, with the pull's record), writable, or None when it cannot be told."""
        subnets = self.subnets()
        by_network: dict[str, list[str]] = {}
        for sid, (_, net) in subnets.items():
            by_network.setdefault(net, []).append(sid)
        network, subnet_id = pool_network(pool)
        recorded = self.raw.get("pool_subnets")
        entry = recorded.get(self.pool_id(pool)) if isinstance(recorded, dict) else None
        found, _ = resolve_pool_subnet(network, subnet_id, entry, by_network, subnets)
        return None if found is None else self.subnet_for_write(found, subnets[found][1])

    @staticmethod
    def free_ips(subnet: Mapping[str, Any]) -> int:
        return int(subnet.get("totalIps", 0)) - int(subnet.get("usedIps", 0))

    @staticmethod
    def adjust_resource_count(pool: JsonDict, flavor: str, delta: int) -> None:
        """Keep `spec.resources[].count` in step with the nodes, as the API does (`pool` from `find_pool`)."""
        for res in pool.get("spec", {}).get("resources") or []:
            if isinstance(res, dict) and res.get("flavor") == flavor and isinstance(res.get("count"), int):
                res["count"] = max(0, res["count"] + delta)
                return
