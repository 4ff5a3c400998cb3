"""A raw snapshot being edited by a scenario: a deep copy, with the lookups the edits need.

Owns: finding pools (by `metadata.name` or display name, label `os.modelarts/name`; a display name that
names several pools is an error asking for the id), nodes, subnets and a pool's subnet (PRODUCT §2) in the
copy, and `Where`, which names the scenario in every error. Must not: change the caller's snapshot.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError
from planner.modelarts.objects import PoolNameError, PoolNames, pool_display_name
from planner.review.scenarios.schema import scenario_key


@dataclass(frozen=True)
class Where:
    """Names the scenario in error messages: file, `scenarios[i] (name)` and the key path."""

    source: str
    index: int
    scenario: str

    def fail(self, key: str, message: str) -> InputError:
        return InputError(message, source=self.source, path=f"{scenario_key(self.index, self.scenario)}.{key}")


class EditableSnapshot:
    """Indexes over a deep copy of a raw snapshot; the override functions edit the copy in place."""

    def __init__(self, raw: Mapping[str, Any], where: Where) -> None:
        self.raw: dict[str, Any] = copy.deepcopy(dict(raw))
        self.where = where
        pools = self.raw.setdefault("pools", [])
        nodes = self.raw.setdefault("nodes", {})
        networks = self.raw.setdefault("networks", [])
        if not isinstance(pools, list) or not isinstance(nodes, dict) or not isinstance(networks, list):
            raise where.fail(
                "inventory", "cannot apply overrides: the snapshot's pools, nodes or networks have the wrong type"
            )

    # --- lookups
    def pools(self) -> list[dict[str, Any]]:
        return [p for p in self.raw["pools"] if isinstance(p, dict) and isinstance(p.get("metadata"), dict)]

    @staticmethod
    def pool_id(pool: Mapping[str, Any]) -> str:
        return str(pool["metadata"].get("name", ""))

    @staticmethod
    def display(pool: Mapping[str, Any]) -> str:
        return pool_display_name(pool)

    def find_pool(self, ref: str, key: str) -> dict[str, Any]:
        """The pool `ref` names, by the one rule every command uses (planner.modelarts.objects.PoolNames)."""
        try:
            pool_id = PoolNames.of_pools(self.pools()).resolve(ref)
        except PoolNameError as exc:
            raise self.where.fail(key, str(exc)) from exc
        return next(p for p in self.pools() if self.pool_id(p) == pool_id)

    def pool_nodes(self, pool_id: str) -> list[dict[str, Any]]:
        items = self.raw["nodes"].setdefault(pool_id, [])
        if not isinstance(items, list):
            raise InputError(f"nodes of pool {pool_id} are not a list", source=self.where.source)
        return items

    def all_node_names(self) -> set[str]:
        return {str(n["metadata"]["name"]) for n, _ in self.iter_nodes()}

    def iter_nodes(self) -> list[tuple[dict[str, Any], str]]:
        out = []
        for pool_id, items in self.raw["nodes"].items():
            for node in items if isinstance(items, list) else []:
                if isinstance(node, dict) and isinstance(node.get("metadata"), dict):
                    out.append((node, str(pool_id)))
        return out

    def find_node(self, name: str, key: str) -> tuple[dict[str, Any], str]:
        for node, pool_id in self.iter_nodes():
            if node["metadata"].get("name") == name:
                return node, pool_id
        raise self.where.fail(key, f"unknown node {name!r}")

    def networks(self) -> list[dict[str, Any]]:
        return [n for n in self.raw["networks"] if isinstance(n, dict)]

    def subnets(self) -> dict[str, tuple[dict[str, Any], str]]:
        """Subnet id -> (subnet object, network name)."""
        out: dict[str, tuple[dict[str, Any], str]] = {}
        for net in self.networks():
            for sub in net.get("subnets") or []:
                if isinstance(sub, dict) and isinstance(sub.get("networkId"), str):
                    out[sub["networkId"]] = (sub, str(net.get("name", "")))
        return out

    def pool_subnet(self, pool: Mapping[str, Any]) -> dict[str, Any] | None:
        """The pool's subnet per PRODUCT §2, or None when it cannot be told."""
        spec = pool.get("spec")
        network = spec.get("network") if isinstance(spec, dict) else None
        if not isinstance(network, dict):
            return None
        subnets = self.subnets()
        if isinstance(network.get("subnetId"), str) and network["subnetId"]:
            found = subnets.get(network["subnetId"])
            return found[0] if found else None
        in_network = [sub for sub, net in subnets.values() if net == network.get("name")]
        return in_network[0] if len(in_network) == 1 else None

    @staticmethod
    def free_ips(subnet: Mapping[str, Any]) -> int:
        return int(subnet.get("totalIps", 0)) - int(subnet.get("usedIps", 0))

    @staticmethod
    def adjust_resource_count(pool: dict[str, Any], flavor: str, delta: int) -> None:
        """Keep `spec.resources[].count` in step with the nodes, as the API does."""
        for res in pool.get("spec", {}).get("resources") or []:
            if isinstance(res, dict) and res.get("flavor") == flavor and isinstance(res.get("count"), int):
                res["count"] = max(0, res["count"] + delta)
                return

