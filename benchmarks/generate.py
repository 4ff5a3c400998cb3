"""Seeded generator of realistic poolshift benchmark instances (inventory snapshot + spec).

`generate(nodes, pools, ...)` returns a `poolshift.inventory/v1` snapshot dict holding raw ModelArts Pool and
Node objects plus `networks` (PRODUCT §2), and a `poolshift.spec/v1` spec dict (PRODUCT §3). The same
arguments always give the same two documents: every random draw comes from one `random.Random(seed)`, and
`cross_cluster` changes only `spec.limits.allow_cross_cluster`, so the "on" and "off" instances of a seed
share the inventory and the targets.

What makes the instances realistic:
- skewed pool sizes (lognormal weights, every pool has at least 2 nodes), skewed flavor popularity (Zipf);
- each pool accepts 1-4 flavors, mostly of one family; some `maxCount` caps a little above the current count;
- about 20 subnets shared by several pools each; networks with one subnet (the pool names only the
  network) or with several (the pool also names `spec.network.subnetId`); some subnets have just enough
  free addresses for the targets;
- Lite clusters: pools grouped into `clusters` clusters, every node labelled with its pool's cluster;
- super nodes (about 3% of nodes) in groups of 4 or 8 of one hyperinstance flavor, inside one pool;
- about 2% locked, 1% Abnormal and 0.5% frozen nodes; a few pools not Running or of type Logical;
- a spec with targets on 60% of the participating pools (current count ±30%, never below 2), some
  `min`/`max` bounds that the current placement meets, a few per-flavor targets, `flavor_compat` for the
  `x` -> `x.d` flavor families, a few pinned nodes and `accept: false` / `give: false` pools.

The current placement always meets the hard rules (§4), so every instance has a feasible plan.

Command line (from the repository root):

    python -m benchmarks.generate --nodes 10000 --pools 200 --seed 1 [--no-cross-cluster] \
        --out-dir benchmarks/data/

writes `inventory-10k.json`, `spec-10k.yaml` (`spec-10k-nocross.yaml` with `--no-cross-cluster`) and
`meta-10k.json` (the generation parameters, so that the runner can reuse the files).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from benchmarks.families import (
    FAMILIES,
    Family,
    add_workloads,
    busy_node_names,
    chain_compat,
    chain_lines,
    get_family,
    idle_available,
    node_resources,
)

INVENTORY_FORMAT = "poolshift.inventory/v1"
SPEC_FORMAT = "poolshift.spec/v1"
BUSY_POLICIES = ("keep", "drain", "ignore")  # `workloads.busy_nodes` of a spec variant (PRODUCT §9)
GENERATOR_VERSION = 3
CAPTURED_AT = "2026-11-28T00:00:00Z"
REGION = "cn-north-4"

LABEL_DISPLAY_NAME = "os.modelarts/name"
LABEL_CLUSTER = "os.modelarts.node/cluster"
LABEL_NODEPOOL = "os.modelarts.node/nodepool"
LABEL_BATCH_TYPE = "os.modelarts.node/batch.type"
LABEL_BATCH_UID = "os.modelarts.node/batch.uid"
LABEL_BATCH_COUNT = "os.modelarts.node/batch.count"
LABEL_BILLING = "os.modelarts/billing.status"
ANNOTATION_LOCK = "os.modelarts.node/lock.action"
HYPERINSTANCE = "hyperinstance"

# Shares of the nodes in each condition (exact, disjoint).
LOCKED_RATE = 0.02
ABNORMAL_RATE = 0.01
FROZEN_RATE = 0.005
# (The shares of super nodes, targets and tight subnets are knobs of each family: benchmarks/families.py.)

# (flavor, family, hyperinstance). The first `flavors` entries are used; the order mixes families so that
# any prefix has several `x`/`x.d` pairs and, from 3 flavors on, a hyperinstance flavor.
FLAVOR_CATALOGUE: tuple[tuple[str, str, bool], ...] = (
    ("modelarts.vm.cpu.8u", "cpu8", False),
    ("modelarts.vm.cpu.8u.d", "cpu8", False),
    ("modelarts.bm.npu.arm.8snt9b3.d", "snt9b3", True),
    ("modelarts.vm.gpu.8xv100", "v100", False),
    ("modelarts.vm.gpu.8xv100.d", "v100", False),
    ("modelarts.vm.cpu.16u64g", "cpu16", False),
    ("modelarts.vm.cpu.16u64g.d", "cpu16", False),
    ("modelarts.bm.npu.arm.8snt9b.d", "snt9b", False),
    ("modelarts.vm.gpu.4xt4", "t4", False),
    ("modelarts.vm.cpu.32u128g", "cpu32", False),
    ("modelarts.vm.cpu.32u128g.d", "cpu32", False),
    ("modelarts.bm.gpu.8xa100", "a100", False),
    ("modelarts.bm.gpu.8xa100.d", "a100", False),
    ("modelarts.bm.npu.arm.16snt9c.d", "snt9c", True),
    ("modelarts.vm.npu.1snt3", "snt3", False),
    ("modelarts.vm.npu.4snt3", "snt3", False),
    ("modelarts.vm.gpu.1xt4", "t4", False),
    ("modelarts.bm.gpu.8xh800", "h800", False),
    ("modelarts.vm.cpu.64u256g", "cpu64", False),
    ("modelarts.vm.cpu.64u256g.d", "cpu64", False),
    ("modelarts.vm.gpu.1xv100", "v100", False),
    ("modelarts.bm.npu.arm.8snt9b2.d", "snt9b2", False),
    ("modelarts.vm.cpu.4u16g", "cpu4", False),
    ("modelarts.vm.cpu.2u8g", "cpu2", False),
)

_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_AZS = ("a", "b", "c")


@dataclass(frozen=True)
class Flavor:
    """One node flavor of the instance."""

    name: str
    family: str
    hyperinstance: bool
    weight: float


@dataclass
class PoolPlan:
    """Everything decided about one pool before its JSON objects are built."""

    index: int
    name: str
    display_name: str
    size: int
    cluster: int
    subnet: int
    running: bool = True
    dedicate: bool = True
    flavors: list[int] = field(default_factory=list)  # accepted flavor indices, in resource order
    counts: dict[int, int] = field(default_factory=dict)  # flavor index -> node count
    super_group: int = 0  # nodes per super node in this pool (0: none)
    max_count: dict[int, int] = field(default_factory=dict)

    @property
    def takes_part(self) -> bool:
        """Whether the planner may move nodes into or out of this pool (PRODUCT §2)."""
        return self.running and self.dedicate


@dataclass
class Subnet:
    """One subnet: its network, id and (later) address block and counts."""

    index: int
    network: int
    subnet_id: str
    nodes: int = 0
    cidr_base: int = 0
    prefix: int = 32
    total_ips: int = 0
    used_ips: int = 0
    tight: bool = False


def size_label(nodes: int) -> str:
    """File-name label of an instance size: 10000 -> '10k', 1500 -> '1500'."""
    return f"{nodes // 1000}k" if nodes >= 1000 and nodes % 1000 == 0 else str(nodes)


def instance_label(nodes: int, family: str = "default", seed: int = 0) -> str:
    """The part of an instance's file names that says which instance it is: `default-10k-s1`."""
    return f"{family}-{size_label(nodes)}-s{seed}"


def instance_paths(out_dir: Path, nodes: int, cross_cluster: bool = True, family: str = "default",
                   seed: int = 0, busy_nodes: str | None = None) -> tuple[Path, Path, Path]:
    """(inventory, spec, meta) paths of an instance in out_dir.

    One inventory and meta file per (family, size, seed); one spec per variant: `-nocross` when cross-cluster
    moves are forbidden, `-keep`/`-drain`/`-ignore` with a `workloads:` section.
    """
    label = instance_label(nodes, family, seed)
    variant = ("" if cross_cluster else "-nocross") + (f"-{busy_nodes}" if busy_nodes else "")
    return out_dir / f"inventory-{label}.json", out_dir / f"spec-{label}{variant}.yaml", out_dir / f"meta-{label}.json"


def _split(rng: random.Random, total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split total into len(weights) integers >= minimum, proportional to weights (largest remainder)."""
    parts = len(weights)
    spare = total - minimum * parts
    if spare < 0:
        raise ValueError(f"cannot split {total} into {parts} parts of at least {minimum}")
    wsum = sum(weights)
    raw = [w / wsum * spare for w in weights] if wsum > 0 else [spare / parts] * parts
    base = [int(r) for r in raw]
    left = spare - sum(base)
    # ties broken by a random key so that equal weights do not always favour the first parts
    order = sorted(range(parts), key=lambda i: (raw[i] - base[i], rng.random()), reverse=True)
    for i in order[:left]:
        base[i] += 1
    return [b + minimum for b in base]


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _unique(rng: random.Random, make: Any, taken: set[str]) -> str:
    while True:
        value: str = make(rng)
        if value not in taken:
            taken.add(value)
            return value


def _node_name(rng: random.Random) -> str:
    return "os-node-created-" + "".join(rng.choices(_NAME_ALPHABET, k=5))


def _ip(value: int) -> str:
    return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def _timestamp(rng: random.Random, start_day: int = 0) -> str:
    """A creation time in 2024-2026 (deterministic for the generator state)."""
    day = rng.randrange(start_day, 1000)
    year, day_of_year = 2024 + day // 366, day % 366
    month, mday = 1 + day_of_year // 31, 1 + day_of_year % 28
    return (f"{year}-{min(month, 12):02d}-{mday:02d}T{rng.randrange(24):02d}:"
            f"{rng.randrange(60):02d}:{rng.randrange(60):02d}Z")


def _flavors(rng: random.Random, count: int) -> list[Flavor]:
    """The instance's flavors: a prefix of the catalogue (extended synthetically), Zipf popularity."""
    out: list[Flavor] = []
    for i in range(count):
        if i < len(FLAVOR_CATALOGUE):
            name, family, hyper = FLAVOR_CATALOGUE[i]
        else:
            name, family, hyper = f"modelarts.vm.cpu.{8 * (i + 1)}u.x{i}", f"synthetic{i}", False
        out.append(Flavor(name, family, hyper, 1.0 / (i + 1) ** 0.7))
    return out


def _pick_weighted(rng: random.Random, candidates: Sequence[int], weights: Sequence[float]) -> int:
    return rng.choices(candidates, weights=weights, k=1)[0]


def _choose_pool_flavors(rng: random.Random, flavors: list[Flavor], regular: list[int],
                         families: dict[str, list[int]], want: int, first: int | None) -> list[int]:
    """Accepted flavors of a pool: a primary, its family siblings first, then popular others."""
    chosen: list[int] = []
    if first is not None:
        chosen.append(first)
    while len(chosen) < want:
        siblings = [] if not chosen else [f for f in families[flavors[chosen[-1]].family]
                                          if f not in chosen and not flavors[f].hyperinstance]
        if siblings and rng.random() < 0.6:
            chosen.append(rng.choice(siblings))
            continue
        rest = [f for f in regular if f not in chosen]
        if not rest:
            break
        chosen.append(_pick_weighted(rng, rest, [flavors[f].weight for f in rest]))
    return chosen


def _plan_pools(rng: random.Random, nodes: int, pools: int, flavors: list[Flavor], clusters: int,
                subnets: int, project_id: str, fam: Family) -> list[PoolPlan]:
    """Pool sizes, clusters, subnets, phases, accepted flavors and per-flavor node counts."""
    sizes = _split(rng, nodes, [rng.lognormvariate(0.0, 1.0) for _ in range(pools)], minimum=2)
    cluster_sizes = _split(rng, pools, [rng.lognormvariate(0.0, 0.7) for _ in range(clusters)], minimum=1)
    cluster_of = [c for c, n in enumerate(cluster_sizes) for _ in range(n)]
    rng.shuffle(cluster_of)
    home_subnet = [rng.randrange(subnets) for _ in range(clusters)]
    subnet_weights = [rng.lognormvariate(0.0, 0.5) for _ in range(subnets)]
    all_subnets = list(range(subnets))

    taken: set[str] = set()
    plans: list[PoolPlan] = []
    for i in range(pools):
        name = _unique(rng, lambda r: f"pool-{_hex(r, 8)}-{project_id}", taken)
        subnet = (home_subnet[cluster_of[i]] if rng.random() < 0.7
                  else _pick_weighted(rng, all_subnets, subnet_weights))
        plans.append(PoolPlan(i, name, f"train-pool-{i:04d}", sizes[i], cluster_of[i], subnet))
    # every subnet is used by at least one pool when there are enough pools
    if pools >= subnets:
        members: dict[int, list[PoolPlan]] = {s: [] for s in all_subnets}
        for plan in plans:
            members[plan.subnet].append(plan)
        for s in all_subnets:
            if not members[s]:
                donor = max(all_subnets, key=lambda d: (len(members[d]), -d))
                victim = members[donor].pop(rng.randrange(len(members[donor])))
                victim.subnet = s
                members[s].append(victim)

    # a few pools do not take part: not Running, or Logical
    if pools >= 10:
        odd = rng.sample(range(pools), max(1, round(0.02 * pools)) + max(1, round(0.01 * pools)))
        n_not_running = max(1, round(0.02 * pools))
        for k, i in enumerate(odd):
            if k < n_not_running:
                plans[i].running = False
            else:
                plans[i].dedicate = False

    families: dict[str, list[int]] = {}
    line = chain_lines([f.name for f in flavors]) if fam.compat_chains else {}
    for f, flavor in enumerate(flavors):
        families.setdefault(line.get(flavor.name, flavor.family), []).append(f)
    if fam.compat_chains:  # siblings are the flavor's chain
        flavors = [replace(flavor, family=line[flavor.name]) for flavor in flavors]
    regular = [f for f, flavor in enumerate(flavors) if not flavor.hyperinstance]
    hyper = [f for f, flavor in enumerate(flavors) if flavor.hyperinstance]
    if not regular:  # only hyperinstance flavors requested: treat them as regular
        regular, hyper = hyper, []

    # super nodes: about 3% of the nodes, in pools with room for at least one group
    super_left = round(fam.super_node_share * nodes) if hyper else 0
    super_counts: dict[int, tuple[int, int]] = {}  # pool -> (hyper flavor, nodes in super nodes)
    for i in rng.sample(range(pools), pools):
        if super_left <= 0:
            break
        size = plans[i].size
        group = 8 if size >= 12 and rng.random() < 0.5 else 4
        if size < group:
            continue
        k = min(max(1, round(size * rng.uniform(0.3, 0.9) / group)), size // group,
                math.ceil(super_left / group))
        super_counts[i] = (rng.choice(hyper), k * group)
        plans[i].super_group = group
        super_left -= k * group

    for plan in plans:
        want = rng.choices(fam.flavors_per_pool, weights=fam.flavors_per_pool_weights, k=1)[0]
        if plan.index in super_counts:
            hflavor, in_super = super_counts[plan.index]
            rest_nodes = plan.size - in_super
            others = _choose_pool_flavors(rng, flavors, regular, families, max(1, want - 1), None)
            if rest_nodes == 0:
                others = others[: rng.randrange(len(others) + 1)]
            plan.flavors = [hflavor, *others]
            plan.counts[hflavor] = in_super
        else:
            rest_nodes = plan.size
            primary = _pick_weighted(rng, regular, [flavors[f].weight for f in regular])
            others = _choose_pool_flavors(rng, flavors, regular, families, want, primary)
            plan.flavors = list(others)
            if hyper and len(plan.flavors) < max(fam.flavors_per_pool) and rng.random() < 0.05:
                plan.flavors.append(rng.choice(hyper))  # may receive super nodes; holds none
        holders = [f for f in plan.flavors if not flavors[f].hyperinstance] or plan.flavors[:1]
        shares = [rng.random() ** 1.5 + (1.0 if j == 0 else 0.0) for j in range(len(holders))]
        for f, n in zip(holders, _split(rng, rest_nodes, shares), strict=True):
            plan.counts[f] = plan.counts.get(f, 0) + n
        for f in plan.flavors:
            plan.counts.setdefault(f, 0)
        # maxCount on about 30% of the resources, a little above the current count
        for f in plan.flavors:
            if rng.random() < 0.3:
                count = plan.counts[f]
                if flavors[f].hyperinstance:
                    group = plan.super_group or rng.choice((4, 8))
                    plan.max_count[f] = count + group * rng.randint(1, 2)
                else:
                    plan.max_count[f] = count + rng.randint(1, max(2, count // 5))
    return plans


def _perturb(rng: random.Random, count: int, spread: float = 0.3, floor: int = 2) -> int:
    return max(floor, round(count * (1.0 + rng.uniform(-spread, spread))))


def _far(rng: random.Random, count: int) -> int:
    """A target far from `count`: mostly 1.5-3x above it, sometimes well below (unreachable families)."""
    factor = rng.uniform(1.5, 3.0) if rng.random() < 0.7 else rng.uniform(0.2, 0.7)
    return max(2, round(count * factor))


def _make_spec(rng: random.Random, plans: list[PoolPlan], flavors: list[Flavor], node_names: list[str],
               cross_cluster: bool, nodes: int, fam: Family) -> tuple[dict[str, Any], list[int]]:
    """The spec dict and, per pool, the addresses its targets need to receive (for the subnet sizing)."""
    ip_reserve = rng.choice((0, 0, 2, 4))
    pool_entries: dict[str, dict[str, Any]] = {}
    inflow = [0] * len(plans)
    taking_part = [p.index for p in plans if p.takes_part]
    with_target = set(rng.sample(taking_part, round(fam.target_share * len(taking_part))))
    for plan in plans:
        if not plan.takes_part:
            continue
        entry: dict[str, Any] = {}
        target: int | None = None
        if plan.index in with_target:
            target = _far(rng, plan.size) if fam.far_targets else _perturb(rng, plan.size)
            entry["target"] = target
            inflow[plan.index] += max(0, target - plan.size)
        reference = plan.size if target is None else target
        if rng.random() < 0.1:
            entry["min"] = max(2, math.floor(min(plan.size, reference) * rng.uniform(0.5, 0.9)))
        if rng.random() < 0.1:
            entry["max"] = max(plan.size, reference) + rng.randint(0, 5)
        holders = [f for f in plan.flavors if not flavors[f].hyperinstance]
        if target is not None and len(plan.flavors) >= 2 and holders and rng.random() < 0.1:
            f = rng.choice(holders)
            current = plan.counts[f]
            wanted = _perturb(rng, current, floor=0)
            if f in plan.max_count:
                wanted = min(wanted, plan.max_count[f])
            entry["flavors"] = {flavors[f].name: wanted}
            inflow[plan.index] += max(0, wanted - current)
        if target is None:
            roll = rng.random()
            if roll < 0.02:
                entry["accept"] = False
            elif roll < 0.04:
                entry["give"] = False
        if entry:
            key = plan.display_name if rng.random() < 0.2 else plan.name
            pool_entries[key] = entry

    names = {f.name for f in flavors}
    if fam.compat_chains:
        compat = chain_compat(rng, [f.name for f in flavors])
    else:
        compat = {f.name: [f.name, f.name + ".d"] for f in flavors if f.name + ".d" in names}
    pins = sorted(rng.sample(node_names, max(1, nodes // 1000))) if node_names else []
    spec: dict[str, Any] = {
        "format": SPEC_FORMAT,
        "defaults": {"min_nodes": 2, "ips_per_node": 1, "ip_reserve": ip_reserve},
        "pools": pool_entries,
        "flavor_compat": compat,
        "pin": pins,
        "limits": {"max_moves": max(1000, nodes), "max_batch_size": 20,
                   "allow_cross_cluster": cross_cluster},
        "balance": "none",
    }
    return spec, inflow


def _size_subnets(rng: random.Random, subnets: list[Subnet], plans: list[PoolPlan], inflow: list[int],
                  ip_reserve: int, fam: Family) -> None:
    """Address blocks and counts: tight subnets keep just enough free addresses for their targets (near-full
    ones, in the subnet families, only a few above `ip_reserve` and part of what their targets need)."""
    need = [0] * len(subnets)
    for plan in plans:
        subnets[plan.subnet].nodes += plan.size
        need[plan.subnet] += inflow[plan.index]
    for s in subnets:
        s.tight = rng.random() < fam.tight_subnet_share
        if s.tight and fam.near_full_subnets:
            free = ip_reserve + rng.randint(0, 5) + round(need[s.index] * rng.uniform(0.0, 0.3))
        elif s.tight:
            free = ip_reserve + need[s.index] + rng.randint(0, 3)
        else:
            free = ip_reserve + need[s.index] + max(20, int(s.nodes * rng.uniform(0.2, 0.6)))
        other = rng.randint(3, 3 + s.nodes // 10)
        capacity = s.nodes + other + free
        s.prefix = min(28, 32 - math.ceil(math.log2(capacity + 5)))
        s.total_ips = 2 ** (32 - s.prefix) - 5
        s.used_ips = s.total_ips - free
    # non-overlapping blocks in 10.0.0.0/8, largest first so that every block is aligned
    base = 10 << 24
    for s in sorted(subnets, key=lambda s: (s.prefix, s.index)):
        s.cidr_base = base
        base += 2 ** (32 - s.prefix)


def generate(nodes: int, pools: int, flavors: int = 20, clusters: int = 25, seed: int = 0,
             cross_cluster: bool = True, family: str = "default",
             busy_nodes: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A (snapshot, spec) pair of the given size and family; deterministic for the arguments.

    `busy_nodes` ("keep" or "drain") adds the spec's `workloads:` section (PRODUCT §9); without it the spec
    has none, since a planner that does not know the key refuses the spec.
    """
    if pools < 1 or flavors < 1 or clusters < 1:
        raise ValueError("pools, flavors and clusters must be at least 1")
    if nodes < 2 * pools:
        raise ValueError(f"{nodes} nodes cannot give {pools} pools at least 2 nodes each")
    if busy_nodes is not None and busy_nodes not in BUSY_POLICIES:
        raise ValueError(f"busy_nodes must be keep, drain or ignore, not {busy_nodes!r}")
    fam = get_family(family)
    rng = random.Random(seed)
    clusters = min(clusters, pools)
    n_subnets = fam.subnet_count(pools)
    project_id = _hex(rng, 32)
    vpc_id = _uuid(rng)
    security_group = _uuid(rng)
    flavor_list = _flavors(rng, flavors)
    cluster_names = [f"lite-cluster-{_hex(rng, 8)}" for _ in range(clusters)]

    # networks: most hold one subnet, some hold 2-3
    subnets: list[Subnet] = []
    network_names: list[str] = []
    while len(subnets) < n_subnets:
        # the first network has two subnets and the second one, so that both kinds always occur
        first = len(network_names)
        width = 2 if first == 0 else 1 if first == 1 or rng.random() < 0.7 else rng.randint(2, 3)
        network = len(network_names)
        network_names.append(f"network-{_hex(rng, 8)}-{_hex(rng, 5)}")
        for _ in range(min(width, n_subnets - len(subnets))):
            subnets.append(Subnet(len(subnets), network, _uuid(rng)))
    subnets_of_network: dict[int, list[int]] = {}
    for s in subnets:
        subnets_of_network.setdefault(s.network, []).append(s.index)

    plans = _plan_pools(rng, nodes, pools, flavor_list, clusters, n_subnets, project_id, fam)

    # node names first (the spec pins some of them)
    taken: set[str] = set()
    names = [_unique(rng, _node_name, taken) for _ in range(nodes)]
    spec, inflow = _make_spec(rng, plans, flavor_list, names, cross_cluster, nodes, fam)
    _size_subnets(rng, subnets, plans, inflow, int(spec["defaults"]["ip_reserve"]), fam)
    if busy_nodes is not None:
        spec["workloads"] = {"busy_nodes": busy_nodes, "drain_timeout": 1800}
    capacity = {f.name: node_resources(f.name) for f in flavor_list}
    idle = {name: idle_available(res) for name, res in capacity.items()}

    # node conditions: exact shares of the nodes, disjoint
    picked = rng.sample(range(nodes), round((LOCKED_RATE + ABNORMAL_RATE + FROZEN_RATE) * nodes))
    n_locked, n_abnormal = round(LOCKED_RATE * nodes), round(ABNORMAL_RATE * nodes)
    condition: dict[int, str] = {}
    for k, i in enumerate(picked):
        condition[i] = "locked" if k < n_locked else "abnormal" if k < n_locked + n_abnormal else "frozen"

    next_ip = [s.cidr_base + 2 for s in subnets]
    pool_objects: list[dict[str, Any]] = []
    node_objects: dict[str, list[dict[str, Any]]] = {}
    cursor = 0
    for plan in plans:
        cluster = cluster_names[plan.cluster]
        subnet = subnets[plan.subnet]
        network_subnets = subnets_of_network[subnet.network]
        created = _timestamp(rng)
        batches = [_timestamp(rng) for _ in range(rng.randint(1, 3))]
        nodepool = f"nodepool-{_hex(rng, 5)}"
        az = f"{REGION}{rng.choice(_AZS)}"
        items: list[dict[str, Any]] = []
        phase_counts: dict[int, list[int]] = {}
        for f in plan.flavors:
            flavor_name = flavor_list[f].name
            count = plan.counts[f]
            group = plan.super_group if flavor_list[f].hyperinstance and plan.super_group else 0
            uid = ""
            available = abnormal = 0
            for j in range(count):
                if group and j % group == 0:
                    uid = _uuid(rng)
                name = names[cursor]
                state = condition.get(cursor)
                cursor += 1
                labels = {LABEL_CLUSTER: cluster, LABEL_NODEPOOL: nodepool, LABEL_BILLING: "0"}
                annotations: dict[str, str] = {}
                phase = "Available"
                if state == "locked":
                    annotations[ANNOTATION_LOCK] = "delete"
                elif state == "abnormal":
                    phase = "Abnormal"
                elif state == "frozen":
                    labels[LABEL_BILLING] = "1"
                if group:
                    labels[LABEL_BATCH_TYPE] = HYPERINSTANCE
                    labels[LABEL_BATCH_UID] = uid
                    labels[LABEL_BATCH_COUNT] = str(group)
                if phase == "Available":
                    available += 1
                else:
                    abnormal += 1
                ip = next_ip[plan.subnet]
                next_ip[plan.subnet] += 1
                items.append({
                    "apiVersion": "v2",
                    "kind": "Node",
                    "metadata": {"name": name, "creationTimestamp": batches[j % len(batches)],
                                 "labels": labels, "annotations": annotations},
                    "spec": {"flavor": flavor_name,
                             "hostNetwork": {"vpc": vpc_id, "subnet": subnet.subnet_id,
                                             "securityGroups": [security_group]}},
                    "status": {"phase": phase, "az": az, "privateIp": _ip(ip),
                               "resources": dict(capacity[flavor_name]),
                               "availableResources": dict(idle[flavor_name])},
                })
            phase_counts[f] = [available, abnormal]
        node_objects[plan.name] = items

        resources: list[dict[str, Any]] = []
        for f in plan.flavors:
            resource: dict[str, Any] = {"flavor": flavor_list[f].name, "count": plan.counts[f]}
            if f in plan.max_count:
                resource["maxCount"] = plan.max_count[f]
            if flavor_list[f].hyperinstance and plan.super_group:
                resource["creatingStep"] = {"step": plan.super_group, "type": HYPERINSTANCE}
            resources.append(resource)
        pool_network: dict[str, Any] = {"name": network_names[subnet.network]}
        if len(network_subnets) > 1 or rng.random() < 0.2:
            pool_network["subnetId"] = subnet.subnet_id
        status_resources: dict[str, list[dict[str, Any]]] = {"available": [], "abnormal": []}
        for f in plan.flavors:
            available, abnormal = phase_counts[f]
            if available:
                status_resources["available"].append({"flavor": flavor_list[f].name, "count": available})
            if abnormal:
                status_resources["abnormal"].append({"flavor": flavor_list[f].name, "count": abnormal})
        phase = "Running" if plan.running else rng.choice(("Abnormal", "Creating", "Error"))
        pool_objects.append({
            "apiVersion": "v2",
            "kind": "Pool",
            "metadata": {
                "name": plan.name,
                "creationTimestamp": created,
                "labels": {LABEL_DISPLAY_NAME: plan.display_name, "os.modelarts/workspace.id": "0",
                           "os.modelarts/tenant.project.id": project_id},
                "annotations": {"os.modelarts/description": "", "os.modelarts/billing.mode": "0"},
            },
            "spec": {
                "type": "Dedicate" if plan.dedicate else "Logical",
                "scope": ["Train"] if plan.index % 3 else ["Train", "Infer"],
                "resources": resources,
                "network": pool_network,
            },
            "status": {
                "phase": phase,
                "root": plan.name,
                "resources": status_resources,
                "clusters": {"name": cluster, "type": "lite"},
            },
        })

    networks = [
        {"name": network_names[n],
         "subnets": [{"networkId": subnets[s].subnet_id,
                      "cidr": f"{_ip(subnets[s].cidr_base)}/{subnets[s].prefix}",
                      "totalIps": subnets[s].total_ips, "usedIps": subnets[s].used_ips}
                     for s in members]}
        for n, members in sorted(subnets_of_network.items())
    ]
    snapshot: dict[str, Any] = {
        "format": INVENTORY_FORMAT,
        "project_id": project_id,
        "region": REGION,
        "captured_at": CAPTURED_AT,
        "pools": pool_objects,
        "nodes": node_objects,
        "networks": networks,
    }
    if fam.busy_share:
        add_workloads(snapshot, fam.busy_share, seed)
    return snapshot, spec


def describe(snapshot: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Headline counts of an instance (for logs, the runner's JSON and tests)."""
    nodes = [n for items in snapshot["nodes"].values() for n in items]
    super_uids = {n["metadata"]["labels"].get(LABEL_BATCH_UID) for n in nodes} - {None}
    return {
        "nodes": len(nodes),
        "pools": len(snapshot["pools"]),
        "clusters": len({p["status"]["clusters"]["name"] for p in snapshot["pools"]}),
        "subnets": sum(len(net["subnets"]) for net in snapshot["networks"]),
        "flavors": len({n["spec"]["flavor"] for n in nodes}),
        "super_nodes": len(super_uids),
        "super_node_members": sum(1 for n in nodes if LABEL_BATCH_UID in n["metadata"]["labels"]),
        "locked": sum(1 for n in nodes if n["metadata"]["annotations"].get(ANNOTATION_LOCK)),
        "abnormal": sum(1 for n in nodes if n["status"]["phase"] != "Available"),
        "frozen": sum(1 for n in nodes if n["metadata"]["labels"].get(LABEL_BILLING) == "1"),
        "pools_not_taking_part": sum(1 for p in snapshot["pools"]
                                     if p["status"]["phase"] != "Running" or p["spec"]["type"] != "Dedicate"),
        "pools_with_target": sum(1 for e in spec["pools"].values() if "target" in e),
        "allow_cross_cluster": spec["limits"]["allow_cross_cluster"],
        "flavors_per_pool": round(sum(len(p["spec"]["resources"]) for p in snapshot["pools"])
                                  / max(1, len(snapshot["pools"])), 2),
        "flavor_compat_entries": len(spec["flavor_compat"]),
        "running_workloads": sum(len(w) for w in snapshot.get("workloads", {}).values()),
        "busy_nodes": len(busy_node_names(snapshot)),
    }


def write_instance(snapshot: dict[str, Any], spec: dict[str, Any], out_dir: Path,
                   params: dict[str, Any]) -> tuple[Path, Path, Path]:
    """Write the inventory JSON, the spec YAML and the meta JSON; returns their paths.

    `params` are the keyword arguments of `generate` (`nodes`, `pools`, ..., `family`, `busy_nodes`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    family, seed = params.get("family", "default"), params.get("seed", 0)
    inventory_path, spec_path, meta_path = instance_paths(out_dir, params["nodes"], params["cross_cluster"],
                                                          family, seed, params.get("busy_nodes"))
    if not meta_matches(meta_path, params):
        # the other spec variants belong to the old inventory: drop them
        for other in out_dir.glob(f"spec-{instance_label(params['nodes'], family, seed)}*.yaml"):
            other.unlink(missing_ok=True)
    inventory_path.write_text(json.dumps(snapshot, separators=(",", ":")), encoding="utf-8")
    write_spec(spec, spec_path)
    meta_path.write_text(json.dumps(_meta(params), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return inventory_path, spec_path, meta_path


def write_spec(spec: dict[str, Any], path: Path) -> None:
    """A spec dict as YAML (keys in the order the generator builds them)."""
    path.write_text(yaml.dump(spec, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False),
                    encoding="utf-8")


def _meta(params: dict[str, Any]) -> dict[str, Any]:
    """The meta record of an instance: the parameters that shape the inventory (not the spec variant flags)."""
    kept = {k: v for k, v in params.items() if k not in ("cross_cluster", "busy_nodes")}
    kept.setdefault("family", "default")
    return {"generator_version": GENERATOR_VERSION, **kept}


def meta_matches(meta_path: Path, params: dict[str, Any]) -> bool:
    """Whether an existing meta file was written for these generation parameters."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(meta == _meta(params))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--pools", type=int, required=True)
    parser.add_argument("--flavors", type=int, default=20)
    parser.add_argument("--clusters", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", choices=sorted(FAMILIES), default="default")
    parser.add_argument("--busy-nodes", choices=BUSY_POLICIES, default=None,
                        help="add the spec's workloads: section (planners without PRODUCT §9 refuse it)")
    parser.add_argument("--no-cross-cluster", action="store_true", help="spec forbids cross-cluster moves")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/data"))
    args = parser.parse_args(argv)
    params = {"nodes": args.nodes, "pools": args.pools, "flavors": args.flavors, "clusters": args.clusters,
              "seed": args.seed, "cross_cluster": not args.no_cross_cluster, "family": args.family,
              "busy_nodes": args.busy_nodes}
    started = time.perf_counter()
    try:
        snapshot, spec = generate(**params)
    except ValueError as exc:
        print(f"generate: error: {exc}", file=sys.stderr)
        return 2
    built = time.perf_counter()
    paths = write_instance(snapshot, spec, args.out_dir, params)
    done = time.perf_counter()
    print(json.dumps(describe(snapshot, spec), sort_keys=True))
    print(f"generated in {built - started:.2f} s, written in {done - built:.2f} s: "
          + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
