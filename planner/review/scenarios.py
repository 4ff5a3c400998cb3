"""What-if scenario files (`poolshift.scenarios/v1`, YAML) and the overrides they apply.

A scenario file lists scenarios; each has a `name`, optional `inventory` overrides and an optional
`spec` overlay:

```yaml
format: poolshift.scenarios/v1
scenarios:
  - name: baseline                      # neither inventory nor spec: the plain plan
  - name: four-more-v100
    inventory:
      add_nodes: [{pool: pool-train, flavor: modelarts.vm.gpu.8xv100, count: 4}]
    spec:
      pools: {pool-train: {target: 16}}
```

Inventory overrides work on the RAW snapshot dict (PRODUCT §2: raw Pool and Node API objects) and are
applied in this order, each seeing the result of the previous ones:

1. `add_pool` (a mapping or a list): a new Running, Dedicate pool with no nodes. `network` names an
   existing network (or a new one, with a new `subnet`); `subnet` is an existing subnet id, or
   `{id, total_ips, used_ips?, cidr?}` for a new subnet.
2. `remove_nodes`: node names, or `{pool, flavor, count}` (plain nodes before super-node members, then
   by name). A removed node frees its address in its pool's subnet.
3. `add_nodes`: `[{pool, flavor, count}]`. New Available nodes named `os-node-whatif-<pool>-<n>`, modelled
   on a node of the same pool (same flavor first): its cluster label, node pool labels, host network,
   OS and volumes. Each takes one address in the pool's subnet; the subnet must have room unless the
   scenario also sets that subnet's free addresses.
4. `set_free_ips`: `{subnet id: n}` makes the subnet have exactly n free addresses (`usedIps = totalIps - n`).
5. `lock_nodes`: node names that get annotation `os.modelarts.node/lock.action: whatif`.

The spec overlay is deep-merged onto the base spec: mappings merge key by key, lists and scalars
replace, `null` deletes the key. Keys under `pools` that name the same pool as a key of the base spec
(one by id, the other by display name) merge into the base key.

Pools are named by `metadata.name` or display name (label `os.modelarts/name`). Every problem is an
InputError that names the scenario file, the scenario and the key path. Nothing here mutates its inputs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from planner.errors import InputError
from planner.review._io import load_yaml_mapping
from planner.spec import describe_error, error_path

SCENARIOS_FORMAT = "poolshift.scenarios/v1"
LABEL_DISPLAY_NAME = "os.modelarts/name"
LABEL_CLUSTER = "os.modelarts.node/cluster"
LABEL_BATCH_UID = "os.modelarts.node/batch.uid"
ANNOTATION_LOCK = "os.modelarts.node/lock.action"
LOCK_VALUE = "whatif"
_COPIED_NODE_LABELS = (LABEL_CLUSTER, "os.modelarts.node/nodepool", "os.modelarts.node/nodepoolname")
_COPIED_NODE_SPEC = ("hostNetwork", "os", "rootVolume", "dataVolumes", "extendParams")
_UNION_TAGS = {"by-name", "by-count", "existing", "new"}

Name = Annotated[str, Field(min_length=1, strict=True)]
Count = Annotated[int, Field(ge=1, strict=True)]
NonNeg = Annotated[int, Field(ge=0, strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeBatch(_Strict):
    """`count` nodes of `flavor` in `pool`."""

    pool: Name
    flavor: Name
    count: Count


def _by_name_or_count(value: Any) -> str:
    return "by-name" if isinstance(value, str) else "by-count"


RemoveItem = Annotated[
    Annotated[Name, Tag("by-name")] | Annotated[NodeBatch, Tag("by-count")],
    Discriminator(_by_name_or_count),
]


class NewSubnet(_Strict):
    """A subnet that does not exist yet (added to `network`)."""

    id: Name
    total_ips: Count
    used_ips: NonNeg = 0
    cidr: str | None = None

    @model_validator(mode="after")
    def _used_within_total(self) -> NewSubnet:
        if self.used_ips > self.total_ips:
            raise ValueError(f"used_ips ({self.used_ips}) is greater than total_ips ({self.total_ips})")
        return self


def _existing_or_new(value: Any) -> str:
    return "existing" if isinstance(value, str) else "new"


SubnetRef = Annotated[
    Annotated[Name, Tag("existing")] | Annotated[NewSubnet, Tag("new")],
    Discriminator(_existing_or_new),
]


class PoolResource(_Strict):
    flavor: Name
    maxCount: NonNeg | None = None
    nodePool: str | None = None


class AddPool(_Strict):
    """A new Running, Dedicate pool with no nodes."""

    name: Name
    display_name: str | None = None
    flavors: list[Name] | None = None
    resources: list[PoolResource] | None = None
    network: str | None = None
    subnet: SubnetRef | None = None
    cluster: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> AddPool:
        if bool(self.flavors) == bool(self.resources):
            raise ValueError("give exactly one of flavors (a list of flavors) or resources (a list of {flavor, ...})")
        if self.network is None and self.subnet is None:
            raise ValueError("give network, subnet or both")
        if isinstance(self.subnet, NewSubnet) and self.network is None:
            raise ValueError("a new subnet needs the network it belongs to")
        return self

    def flavor_names(self) -> list[str]:
        return list(self.flavors) if self.flavors else [r.flavor for r in self.resources or []]


class InventoryOverrides(_Strict):
    add_pool: list[AddPool] = []
    remove_nodes: list[RemoveItem] = []
    add_nodes: list[NodeBatch] = []
    set_free_ips: dict[Name, NonNeg] = {}
    lock_nodes: list[Name] = []

    @field_validator("add_pool", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, Mapping) else value

    @property
    def empty(self) -> bool:
        return not (self.add_pool or self.remove_nodes or self.add_nodes or self.set_free_ips or self.lock_nodes)


class Scenario(_Strict):
    name: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    description: str | None = None
    inventory: InventoryOverrides | None = None
    spec: dict[str, Any] | None = None

    @property
    def is_baseline(self) -> bool:
        """No inventory override and no spec overlay: the plain plan."""
        return (self.inventory is None or self.inventory.empty) and not self.spec


class ScenarioFile(_Strict):
    format: Literal["poolshift.scenarios/v1"]
    scenarios: list[Scenario] = Field(min_length=1)

    @field_validator("scenarios")
    @classmethod
    def _unique_names(cls, scenarios: list[Scenario]) -> list[Scenario]:
        seen: set[str] = set()
        for s in scenarios:
            if s.name in seen:
                raise ValueError(f"scenario name {s.name!r} is used twice")
            seen.add(s.name)
        return scenarios


def scenario_key(index: int, name: str | None) -> str:
    """How messages name a scenario: `scenarios[2] (drain-infer)`."""
    return f"scenarios[{index}] ({name})" if name else f"scenarios[{index}]"


def parse_scenarios(data: dict[str, Any], *, source: str) -> ScenarioFile:
    """Check a parsed scenario file; the first problem names the scenario and the key path."""
    if data.get("format") != SCENARIOS_FORMAT:
        raise InputError(
            f"expected format {SCENARIOS_FORMAT!r}, got {data.get('format')!r}", source=source, path="format"
        )
    try:
        return ScenarioFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if p not in _UNION_TAGS)
        path = error_path(loc)
        raw = data.get("scenarios")
        if len(loc) >= 2 and loc[0] == "scenarios" and isinstance(loc[1], int) and isinstance(raw, list):
            item = raw[loc[1]] if loc[1] < len(raw) else None
            name = item.get("name") if isinstance(item, dict) and isinstance(item.get("name"), str) else None
            path = scenario_key(loc[1], name) + ("." + error_path(loc[2:]) if loc[2:] else "")
        message = describe_error(err)
        if err.get("type") == "value_error":
            message = str(err.get("ctx", {}).get("error", message))
        elif err.get("type") == "string_pattern_mismatch" and loc[-1:] == ("name",):
            message = "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        raise InputError(message, source=source, path=path) from None


def load_scenarios(path: Path) -> ScenarioFile:
    """Read and check a scenario file."""
    return parse_scenarios(load_yaml_mapping(path), source=str(path))


# ------------------------------------------------------------------------------------------ spec merge


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    return copy.deepcopy(value)


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge recursively, lists and scalars replace, `None` deletes the key."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = _drop_nulls(value)
    return out


def merge_spec(base: Mapping[str, Any], overlay: Mapping[str, Any], snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """`deep_merge`, with overlay pool keys renamed to the base key that names the same pool."""
    pools_over = overlay.get("pools")
    pools_base = base.get("pools")
    if isinstance(pools_over, Mapping) and isinstance(pools_base, Mapping):
        alias = _pool_aliases(snapshot)
        base_key_of = {alias.get(k, k): k for k in pools_base}
        renamed = {base_key_of.get(alias.get(k, k), k): v for k, v in pools_over.items()}
        overlay = {**overlay, "pools": renamed}
    return deep_merge(base, overlay)


def _pool_aliases(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Pool id and display name -> pool id."""
    alias: dict[str, str] = {}
    pools = snapshot.get("pools")
    for pool in pools if isinstance(pools, list) else []:
        meta = pool.get("metadata") if isinstance(pool, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            continue
        labels = meta.get("labels")
        display = labels.get(LABEL_DISPLAY_NAME) if isinstance(labels, dict) else None
        if isinstance(display, str) and display:
            alias.setdefault(display, meta["name"])
        alias[meta["name"]] = meta["name"]
    return alias


# ------------------------------------------------------------------------------------ inventory overrides


@dataclass(frozen=True)
class Where:
    """Names the scenario in error messages: file, `scenarios[i] (name)` and the key path."""

    source: str
    index: int
    scenario: str

    def fail(self, key: str, message: str) -> InputError:
        return InputError(message, source=self.source, path=f"{scenario_key(self.index, self.scenario)}.{key}")


class _Snapshot:
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
    def display(pool: Mapping[str, Any]) -> str | None:
        labels = pool["metadata"].get("labels")
        value = labels.get(LABEL_DISPLAY_NAME) if isinstance(labels, dict) else None
        return value if isinstance(value, str) and value else None

    def find_pool(self, ref: str, key: str) -> dict[str, Any]:
        by_id = [p for p in self.pools() if self.pool_id(p) == ref]
        if by_id:
            return by_id[0]
        by_display = [p for p in self.pools() if self.display(p) == ref]
        if len(by_display) == 1:
            return by_display[0]
        if by_display:
            ids = ", ".join(sorted(self.pool_id(p) for p in by_display))
            raise self.where.fail(key, f"display name {ref!r} names several pools ({ids}); use the pool id")
        known = ", ".join(sorted(self.pool_id(p) for p in self.pools())) or "none"
        raise self.where.fail(key, f"unknown pool {ref!r} (pools: {known})")

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


def _add_pool(snap: _Snapshot, item: AddPool, key: str) -> None:
    where = snap.where
    for pool in snap.pools():
        if item.name in (snap.pool_id(pool), snap.display(pool)):
            raise where.fail(f"{key}.name", f"pool {item.name!r} already exists")
        if item.display_name and item.display_name in (snap.pool_id(pool), snap.display(pool)):
            raise where.fail(f"{key}.display_name", f"pool {item.display_name!r} already exists")
    subnets = snap.subnets()
    networks = {str(n.get("name")): n for n in snap.networks()}
    network: dict[str, Any]
    if isinstance(item.subnet, NewSubnet):
        assert item.network is not None  # checked by the model
        if item.subnet.id in subnets:
            raise where.fail(f"{key}.subnet.id", f"subnet {item.subnet.id!r} already exists; name it as a string")
        new_subnet: dict[str, Any] = {
            "networkId": item.subnet.id,
            "totalIps": item.subnet.total_ips,
            "usedIps": item.subnet.used_ips,
        }
        if item.subnet.cidr:
            new_subnet["cidr"] = item.subnet.cidr
        if item.network in networks:
            networks[item.network].setdefault("subnets", []).append(new_subnet)
        else:
            snap.raw["networks"].append({"name": item.network, "subnets": [new_subnet]})
        network = {"name": item.network, "subnetId": item.subnet.id}
    elif isinstance(item.subnet, str):
        if item.subnet not in subnets:
            raise where.fail(
                f"{key}.subnet", f"unknown subnet {item.subnet!r} (subnets: {', '.join(sorted(subnets)) or 'none'})"
            )
        owner = subnets[item.subnet][1]
        if item.network is not None and item.network != owner:
            raise where.fail(f"{key}.network", f"subnet {item.subnet!r} belongs to network {owner!r}")
        network = {"name": owner, "subnetId": item.subnet}
    else:
        assert item.network is not None  # checked by the model
        if item.network not in networks:
            raise where.fail(
                f"{key}.network",
                f"unknown network {item.network!r} (networks: "
                f"{', '.join(sorted(networks)) or 'none'}); to add one, give a new "
                "subnet as {id, total_ips}",
            )
        count = len(networks[item.network].get("subnets") or [])
        if count != 1:
            raise where.fail(f"{key}.subnet", f"network {item.network!r} has {count} subnets; name one")
        network = {"name": item.network}
    if item.resources:
        resources = [
            {
                "flavor": r.flavor,
                "count": 0,
                **({"maxCount": r.maxCount} if r.maxCount is not None else {}),
                **({"nodePool": r.nodePool} if r.nodePool else {}),
            }
            for r in item.resources
        ]
    else:
        resources = [{"flavor": f, "count": 0} for f in item.flavor_names()]
    status: dict[str, Any] = {"phase": "Running", "root": item.name, "resources": {"available": []}}
    if item.cluster:
        status["clusters"] = {"name": item.cluster}
    snap.raw["pools"].append(
        {
            "apiVersion": "v2",
            "kind": "Pool",
            "metadata": {
                "name": item.name,
                "creationTimestamp": snap.raw.get("captured_at", "1970-01-01T00:00:00Z"),
                "labels": {LABEL_DISPLAY_NAME: item.display_name or item.name},
                "annotations": {"os.modelarts/description": "added by poolshift whatif"},
            },
            "spec": {"type": "Dedicate", "scope": ["Train"], "resources": resources, "network": network},
            "status": status,
        }
    )
    snap.raw["nodes"][item.name] = []


def _remove_node(snap: _Snapshot, node: dict[str, Any], pool_id: str, key: str) -> None:
    snap.pool_nodes(pool_id).remove(node)
    pool = snap.find_pool(pool_id, key)
    subnet = snap.pool_subnet(pool)
    if subnet is not None and isinstance(subnet.get("usedIps"), int):
        subnet["usedIps"] = max(0, subnet["usedIps"] - 1)
    flavor = node.get("spec", {}).get("flavor")
    if isinstance(flavor, str):
        snap.adjust_resource_count(pool, flavor, -1)


def _remove_nodes(snap: _Snapshot, items: list[str | NodeBatch]) -> None:
    for i, item in enumerate(items):
        key = f"inventory.remove_nodes[{i}]"
        if isinstance(item, str):
            node, pool_id = snap.find_node(item, key)
            _remove_node(snap, node, pool_id, key)
            continue
        pool = snap.find_pool(item.pool, f"{key}.pool")
        pool_id = snap.pool_id(pool)
        candidates = [n for n in snap.pool_nodes(pool_id) if n.get("spec", {}).get("flavor") == item.flavor]
        if len(candidates) < item.count:
            raise snap.where.fail(
                f"{key}.count",
                f"pool {pool_id} has {len(candidates)} node(s) of flavor {item.flavor}, cannot remove {item.count}",
            )

        def order(node: dict[str, Any]) -> tuple[bool, str]:
            labels = node["metadata"].get("labels") or {}
            return (LABEL_BATCH_UID in labels, str(node["metadata"].get("name")))

        for node in sorted(candidates, key=order)[: item.count]:
            _remove_node(snap, node, pool_id, key)


def _short_name(text: str) -> str:
    short = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:24].strip("-")
    return short or "pool"


def _add_nodes(snap: _Snapshot, items: list[NodeBatch], explicit_subnets: set[str]) -> None:
    taken = snap.all_node_names()
    for i, item in enumerate(items):
        key = f"inventory.add_nodes[{i}]"
        pool = snap.find_pool(item.pool, f"{key}.pool")
        pool_id = snap.pool_id(pool)
        accepted = [r.get("flavor") for r in pool.get("spec", {}).get("resources") or [] if isinstance(r, dict)]
        if item.flavor not in accepted:
            raise snap.where.fail(
                f"{key}.flavor",
                f"pool {pool_id} does not take flavor {item.flavor} "
                f"(it takes: {', '.join(map(str, accepted)) or 'none'})",
            )
        subnet = snap.pool_subnet(pool)
        if subnet is not None and subnet.get("networkId") not in explicit_subnets:
            free = snap.free_ips(subnet)
            if item.count > free:
                raise snap.where.fail(
                    f"{key}.count",
                    f"subnet {subnet.get('networkId')} of pool {pool_id} has "
                    f"{free} free address(es) for {item.count} new node(s); "
                    "raise it with set_free_ips",
                )
        nodes = snap.pool_nodes(pool_id)
        ordered = sorted(nodes, key=lambda n: str(n["metadata"].get("name")))
        same_flavor = [n for n in ordered if n.get("spec", {}).get("flavor") == item.flavor]
        template = same_flavor[0] if same_flavor else ordered[0] if ordered else None
        short = _short_name(snap.display(pool) or pool_id)
        n = 0
        for _ in range(item.count):
            n += 1
            while f"os-node-whatif-{short}-{n}" in taken:
                n += 1
            name = f"os-node-whatif-{short}-{n}"
            taken.add(name)
            nodes.append(_new_node(name, item.flavor, template, bool(same_flavor), snap.raw.get("captured_at")))
        if subnet is not None and isinstance(subnet.get("usedIps"), int):
            subnet["usedIps"] = min(int(subnet.get("totalIps", 0)), subnet["usedIps"] + item.count)
        snap.adjust_resource_count(pool, item.flavor, item.count)


def _new_node(
    name: str, flavor: str, template: dict[str, Any] | None, same_flavor: bool, captured_at: Any
) -> dict[str, Any]:
    """A raw Node object modelled on `template` (a node of the same pool), Available and unlocked."""
    labels: dict[str, str] = {}
    spec: dict[str, Any] = {"flavor": flavor}
    status: dict[str, Any] = {"phase": "Available"}
    if template is not None:
        t_labels = template["metadata"].get("labels") or {}
        copied = _COPIED_NODE_LABELS if same_flavor else (LABEL_CLUSTER,)
        labels = {k: str(t_labels[k]) for k in copied if k in t_labels}
        t_spec = template.get("spec") or {}
        spec.update({k: copy.deepcopy(t_spec[k]) for k in _COPIED_NODE_SPEC if k in t_spec})
        t_status = template.get("status") or {}
        if "az" in t_status:
            status["az"] = t_status["az"]
        if same_flavor and "resources" in t_status:
            status["resources"] = copy.deepcopy(t_status["resources"])
            status["availableResources"] = copy.deepcopy(t_status.get("availableResources", t_status["resources"]))
    return {
        "apiVersion": "v2",
        "kind": "Node",
        "metadata": {
            "name": name,
            "creationTimestamp": captured_at if isinstance(captured_at, str) else "1970-01-01T00:00:00Z",
            "labels": labels,
            "annotations": {},
        },
        "spec": spec,
        "status": status,
    }


def _set_free_ips(snap: _Snapshot, free: Mapping[str, int]) -> None:
    subnets = snap.subnets()
    for sid, n in free.items():
        key = f"inventory.set_free_ips.{sid}"
        if sid not in subnets:
            raise snap.where.fail(key, f"unknown subnet {sid!r} (subnets: {', '.join(sorted(subnets)) or 'none'})")
        subnet = subnets[sid][0]
        total = subnet.get("totalIps")
        if not isinstance(total, int) or n > total:
            raise snap.where.fail(key, f"{n} free addresses is more than the subnet's totalIps ({total})")
        subnet["usedIps"] = total - n


def _lock_nodes(snap: _Snapshot, names: list[str]) -> None:
    for i, name in enumerate(names):
        node, _ = snap.find_node(name, f"inventory.lock_nodes[{i}]")
        annotations = node["metadata"].get("annotations")
        if not isinstance(annotations, dict):
            annotations = node["metadata"]["annotations"] = {}
        annotations[ANNOTATION_LOCK] = LOCK_VALUE


def apply_inventory_overrides(
    snapshot: Mapping[str, Any], overrides: InventoryOverrides, where: Where
) -> dict[str, Any]:
    """A new raw snapshot with the overrides applied in the documented order (the input is not changed)."""
    snap = _Snapshot(snapshot, where)
    for i, item in enumerate(overrides.add_pool):
        _add_pool(snap, item, f"inventory.add_pool[{i}]")
    _remove_nodes(snap, overrides.remove_nodes)
    _add_nodes(snap, overrides.add_nodes, set(overrides.set_free_ips))
    _set_free_ips(snap, overrides.set_free_ips)
    _lock_nodes(snap, overrides.lock_nodes)
    return snap.raw


def apply_scenario(
    snapshot: Mapping[str, Any], spec: Mapping[str, Any], scenario: Scenario, where: Where
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scenario's (snapshot, spec): inventory overrides first, then the spec overlay."""
    snap = (
        apply_inventory_overrides(snapshot, scenario.inventory, where)
        if scenario.inventory
        else copy.deepcopy(dict(snapshot))
    )
    merged = merge_spec(spec, scenario.spec, snap) if scenario.spec else copy.deepcopy(dict(spec))
    return snap, merged
