"""Raw ModelArts pool and node objects -> the facts the planner uses (PRODUCT §2): the one reading of them.

Owns: the names of the labels and annotations poolshift reads, and the rules that read them: a pool's
display name, whether it takes part, the flavors it accepts with their `maxCount`, its network, subnet and
status cluster; a node's cluster, super-node uid and why it may not move; a node's private IP and the
accelerators it has in use (`status.resources` against `status.availableResources`, Kubernetes quantities);
the fields of a ListWorkloads item poolshift reads (PRODUCT §9: running or not, the addresses it runs on, name,
type, priority); the display-name aliases of pools
(a display name shared by two pools names neither: using it is an error that names both). The inventory,
apply's live view, what-if scenarios and auto all read raw objects through here, so every command applies
the same rules.

Deliberate exception: `planner.verify` re-reads the raw objects with code of its own and imports nothing from
here, so that a mistake in this module cannot hide from the verifier.

Must not: validate shapes with JSON paths (`planner.snapshot` does that for snapshot files), talk to the API,
or know about the spec. Every function here tolerates a malformed object (API answers are not validated).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NamedTuple

LABEL_DISPLAY_NAME = "os.modelarts/name"
LABEL_WORKSPACE = "os.modelarts/workspace.id"
LABEL_BILLING = "os.modelarts/billing.status"
LABEL_CLUSTER = "os.modelarts.node/cluster"
LABEL_NODEPOOL = "os.modelarts.node/nodepool"
LABEL_NODEPOOL_NAME = "os.modelarts.node/nodepoolname"
LABEL_BATCH_TYPE = "os.modelarts.node/batch.type"
LABEL_BATCH_UID = "os.modelarts.node/batch.uid"
LABEL_CABINET = "os.modelarts.node/volcano.scheduler.cabinet-exclusive"
ANNOTATION_LOCK = "os.modelarts.node/lock.action"
LABEL_FREEZE = "poolshift/freeze"  # poolshift's own: `auto` leaves a pool with `poolshift/freeze: "true"` alone
HYPERINSTANCE = "hyperinstance"
SUPER_NODE_PREFIX = "hyperinstance:"  # unit ids of super nodes: "hyperinstance:<batch uid>"


def dig(obj: Any, *keys: str) -> Any:
    """`obj[k1][k2]…`, or None as soon as a level is not an object."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def name_of(obj: Any) -> str:
    """`metadata.name` ("" when absent)."""
    value = dig(obj, "metadata", "name")
    return value if isinstance(value, str) else ""


def labels_of(obj: Any) -> dict[str, str]:
    """`metadata.labels` ({} when absent or not an object)."""
    value = dig(obj, "metadata", "labels")
    return value if isinstance(value, dict) else {}


def annotations_of(obj: Any) -> dict[str, str]:
    """`metadata.annotations` ({} when absent or not an object)."""
    value = dig(obj, "metadata", "annotations")
    return value if isinstance(value, dict) else {}


# -- pools ------------------------------------------------------------------------------------------------


def pool_display_name(pool: Any) -> str:
    """Label `os.modelarts/name`, else the pool's `metadata.name`."""
    display = labels_of(pool).get(LABEL_DISPLAY_NAME)
    return display if isinstance(display, str) and display else name_of(pool)


def pool_excluded_reason(phase: Any, pool_type: Any) -> str:
    """Why a pool does not take part ("" when it does): it must be Running and of type Dedicate."""
    why = []
    if phase != "Running":
        why.append(f"phase {phase}")
    if pool_type != "Dedicate":
        why.append(f"type {pool_type or 'unset'}")
    return ", ".join(why)


def pool_flavors(pool: Any) -> dict[str, int | None]:
    """Flavors in `spec.resources[]` with their `maxCount` (None: no cap); a flavor listed twice keeps its first cap."""
    caps: dict[str, int | None] = {}
    resources = dig(pool, "spec", "resources")
    for res in resources if isinstance(resources, list) else []:
        flavor = res.get("flavor") if isinstance(res, dict) else None
        if isinstance(flavor, str) and flavor and flavor not in caps:
            cap = res.get("maxCount")
            caps[flavor] = cap if isinstance(cap, int) and not isinstance(cap, bool) else None
    return caps


def pool_status_cluster(pool: Any) -> str | None:
    """`status.clusters.name` (object or list form), else `spec.clusters[0].name`; None when neither is set."""
    clusters = dig(pool, "status", "clusters")
    if isinstance(clusters, list):
        clusters = clusters[0] if clusters else None
    name = clusters.get("name") if isinstance(clusters, dict) else None
    if isinstance(name, str) and name:
        return name
    spec_clusters = dig(pool, "spec", "clusters")
    first = spec_clusters[0] if isinstance(spec_clusters, list) and spec_clusters else None
    name = first.get("name") if isinstance(first, dict) else None
    return name if isinstance(name, str) and name else None


def pool_network(pool: Any) -> tuple[str | None, str | None]:
    """(`spec.network.name`, `spec.network.subnetId`), each None when absent or empty."""
    network = dig(pool, "spec", "network")
    if not isinstance(network, dict):
        return None, None
    name, subnet = network.get("name"), network.get("subnetId")
    return (name if isinstance(name, str) and name else None,
            subnet if isinstance(subnet, str) and subnet else None)


def resolve_pool_subnet(network_name: str | None, subnet_id: str | None, recorded: Any,
                        network_subnets: Mapping[str, list[str]], known: Container[str]) -> tuple[str | None, str]:
    """(subnet id, "") or (None, why it cannot be told), by the rule of PRODUCT §2 and docs/api.md:

    `spec.network.subnetId` when present; else the subnet `inventory pull` recorded for the pool in the snapshot's
    `pool_subnets` (found through the documented fallbacks); else the only subnet of network `spec.network.name`.
    A subnet must be listed in the snapshot's networks, so that its free addresses are known.
    """
    if subnet_id:
        if subnet_id in known:
            return subnet_id, ""
        return None, f"subnet {subnet_id} is not in the snapshot's networks"
    if isinstance(recorded, dict) and "subnet" in recorded:
        found = recorded.get("subnet")
        if isinstance(found, str) and found:
            if found in known:
                return found, ""
            origin = recorded.get("source") or "the pull"
            return None, f"subnet {found} (from {origin}) is not in the snapshot's networks"
        tried = recorded.get("tried")
        detail = "; ".join(str(t) for t in tried) if isinstance(tried, list) and tried else "no source named one"
        return None, f"inventory pull found no subnet for the pool ({detail})"
    if network_name:
        ids = network_subnets.get(network_name)
        if ids is None:
            return None, f"network {network_name} is not in the snapshot's networks"
        if len(ids) == 1:
            return ids[0], ""
        return None, f"network {network_name} has {len(ids)} subnets and the pool names none"
    return None, "the pool names no network"


def is_frozen(pool: Any) -> bool:
    """The pool carries `poolshift/freeze: "true"` (auto leaves it alone)."""
    return str(labels_of(pool).get(LABEL_FREEZE, "")).strip().lower() == "true"


# -- nodes ------------------------------------------------------------------------------------------------


def node_cluster(labels: Mapping[str, str], pool_name: str) -> str:
    """Label `os.modelarts.node/cluster`, else the node's pool id."""
    return labels.get(LABEL_CLUSTER) or pool_name


def node_unit_uid(labels: Mapping[str, str]) -> str:
    """The super-node uid of a hyperinstance node ("" for a node that moves alone)."""
    if labels.get(LABEL_BATCH_TYPE) == HYPERINSTANCE:
        return labels.get(LABEL_BATCH_UID) or ""
    return ""


AVAILABLE = "Available"  # the one node phase in which a node may move


def node_immovable_reason(phase: Any, labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """Why the API would refuse to move the node ("" when it may move), every reason joined by "; "."""
    why: list[str] = []
    if phase != AVAILABLE:
        why.append(f"phase {phase}")
    lock = annotations.get(ANNOTATION_LOCK)
    if lock:
        why.append(f"locked ({lock})")
    billing = labels.get(LABEL_BILLING)
    if billing is not None and billing != "0":
        why.append(f"billing status {billing}" + (" (frozen)" if billing == "1" else ""))
    if LABEL_CABINET in labels:
        why.append("cabinet-exclusive")
    return "; ".join(why)


def node_reason(node: Any) -> str:
    """`node_immovable_reason` of a raw node object."""
    return node_immovable_reason(dig(node, "status", "phase"), labels_of(node), annotations_of(node))


def node_private_ip(node: Any) -> str | None:
    """`status.privateIp`, the address ListWorkloads names a node by (None when absent or empty)."""
    ip = dig(node, "status", "privateIp")
    return ip if isinstance(ip, str) and ip else None


NOT_ACCELERATORS = frozenset({"cpu", "memory"})
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(m|k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?")
_SCALE: dict[str | None, Fraction | int] = {
    None: 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(value: Any) -> Fraction | int | None:
    """A Kubernetes quantity ("8", "1200m", "64Gi", or a JSON number) as an exact number; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return Fraction(value) if value == value and abs(value) != float("inf") else None
    if not isinstance(value, str):
        return None
    if value.isdigit() and value.isascii():  # the usual accelerator count ("8"): no Fraction needed
        return int(value)
    match = _QUANTITY.fullmatch(value.strip())
    if match is None:
        return None
    return Fraction(match[1]) * _SCALE[match[2]]


class AcceleratorUse(NamedTuple):
    """Accelerators a node has in use, and the first quantity that could not be read (`field.key`), if any."""

    held: tuple[str, ...]
    unreadable: str | None


NO_ACCELERATOR_USE = AcceleratorUse((), None)


def accelerators_in_use(resources: Any, available: Any) -> AcceleratorUse:
    """Accelerator resources (every key of `status.resources` but `cpu` and `memory`) with less in
    `status.availableResources` than the node has (PRODUCT §9); a key missing from `availableResources` has none
    available. Without both objects nothing is known (nothing held). A quantity that cannot be read is not
    compared; the first one is named in `unreadable` (`resources.<key>` or `availableResources.<key>`)."""
    if not isinstance(resources, dict) or not isinstance(available, dict):
        return NO_ACCELERATOR_USE
    held: tuple[str, ...] = ()
    unreadable: str | None = None
    for key, capacity in resources.items():
        if key in NOT_ACCELERATORS:
            continue
        free = available.get(key, 0)
        if free == capacity:
            continue
        total, left = _quantity(capacity), _quantity(free)
        if total is None or left is None:
            unreadable = unreadable or (f"resources.{key}" if total is None else f"availableResources.{key}")
        elif left < total:
            held += (key,)
    return AcceleratorUse(held, unreadable) if held or unreadable else NO_ACCELERATOR_USE


def _quantity(value: Any) -> Fraction | int | None:
    """`parse_quantity`, remembered for strings (only strings: `True == 1`, yet True is no quantity)."""
    return _string_quantity(value) if type(value) is str else parse_quantity(value)


@functools.lru_cache(maxsize=4096)  # a node lists the same few quantities ("8", "0"); bounded for long `auto` runs
def _string_quantity(value: str) -> Fraction | int | None:
    return parse_quantity(value)


def node_accelerators_in_use(node: Any) -> AcceleratorUse:
    """`accelerators_in_use` of a raw node object."""
    return accelerators_in_use(dig(node, "status", "resources"), dig(node, "status", "availableResources"))


# -- workloads (ListWorkloads items, PRODUCT §9) -----------------------------------------------------------

RUNNING = "Running"


def workload_is_running(workload: Any) -> bool:
    """Only a Running workload makes a node busy (Pending, Completed, ... do not)."""
    return isinstance(workload, dict) and workload.get("status") == RUNNING


def workload_host_ips(workload: Any) -> frozenset[str]:
    """The node addresses a workload runs on: `hostIps` ("ip,ip") and every `nodes[].hostIp`."""
    if not isinstance(workload, dict):
        return frozenset()
    listed = workload.get("hostIps")
    ips = set(map(str.strip, listed.split(","))) if isinstance(listed, str) else set()
    members = workload.get("nodes")
    for member in members if isinstance(members, list) else ():
        ip = member.get("hostIp") if isinstance(member, dict) else None
        if isinstance(ip, str) and ip not in ips:  # (an address `hostIps` names is stripped already)
            ips.add(ip.strip())
    ips.discard("")
    return frozenset(ips)


class Workload(NamedTuple):
    """What poolshift tells of a workload: its name, type (`train` | `infer` | `notebook`, "" when absent) and
    priority (as the API gives it, None when absent)."""

    name: str
    type: str
    priority: str | int | None


def workload_identity(workload: Any) -> Workload:
    """(`name`, `type`, `priority`) of a ListWorkloads item, tolerating absent or malformed fields."""
    if not isinstance(workload, dict):
        return Workload("", "", None)
    name, kind, priority = workload.get("name"), workload.get("type"), workload.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, (str, int)):
        priority = None
    return Workload(name if isinstance(name, str) else "", kind if isinstance(kind, str) else "", priority)


# -- pool names -------------------------------------------------------------------------------------------


class PoolNameError(LookupError):
    """A spec or scenario names a pool that is unknown, or a display name two pools share."""


@dataclass(frozen=True)
class PoolNames:
    """Pool ids and display names: `resolve` maps either to the pool id, by one rule for every command.

    A pool id always names its pool. A display name names the one pool that carries it, unless it is also
    another pool's id; a display name carried by two or more pools names none of them.
    """

    ids: frozenset[str]
    display: dict[str, str] = field(default_factory=dict)          # pool id -> display name
    carriers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # display name -> pool ids carrying it

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> PoolNames:
        """From (pool id, display name) pairs."""
        display = dict(pairs)
        carriers: dict[str, list[str]] = {}
        for pool, name in display.items():
            carriers.setdefault(name, []).append(pool)
        return cls(frozenset(display), display, {k: tuple(sorted(v)) for k, v in carriers.items()})

    @classmethod
    def of_pools(cls, pools: Iterable[Any]) -> PoolNames:
        """From raw pool objects."""
        return cls.of((name_of(p), pool_display_name(p)) for p in pools if name_of(p))

    def resolve(self, key: str) -> str:
        """The pool id `key` names; PoolNameError (naming every pool a shared display name belongs to) otherwise."""
        if key in self.ids:
            return key
        owners = self.carriers.get(key, ())
        if len(owners) == 1:
            return owners[0]
        if owners:
            raise PoolNameError(f"display name {key!r} is shared by pools {', '.join(owners)}; name the pool by its "
                                f"id instead")
        raise PoolNameError(f"unknown pool {key!r} (not a pool id or display name in the inventory)")

    def get(self, key: str) -> str | None:
        """The pool id `key` names, or None when it names none (unknown or shared)."""
        try:
            return self.resolve(key)
        except PoolNameError:
            return None

    def label(self, pool: str) -> str:
        """How messages name a pool: `display (id)`, or just the id when it has no other display name."""
        name = self.display.get(pool, pool)
        return pool if name == pool else f"{name} ({pool})"
