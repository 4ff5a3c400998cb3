"""Instance families of the benchmark generator: what makes each one unlike the default, as knobs.

A `Family` holds the knobs `benchmarks.generate` reads while it builds an instance. The `default` family's
knobs are the generator's historical constants, and every other family only changes draws where its knobs
differ, so a default instance is identical (same planning facts, same random draws) to what the generator
made before families existed.

| family | what is different |
|---|---|
| `default` | the historical instances: targets within ±30% of the current count, 1-4 flavors per pool |
| `unreachable` | targets on 85% of the pools, most 1.5-3x the current count, some far below: a large residual |
| `compat` | pools accept 3-6 flavors along `flavor_compat` chains (a -> [b], b -> [c], Ascend `x.d` -> `x3.d`) |
| `subnets` | a few subnets shared by many pools each; most are near full (a few addresses above `ip_reserve`) |
| `busy` | ~60% of the nodes run workloads (PRODUCT §9): the snapshot's `workloads` key, jobs of 1-16 nodes |
| `hard` | all of the above together, twice the super nodes, cross-cluster moves allowed |

This module also owns the parts of a node and of a snapshot that families add after the structural
generation: node `status.resources` / `status.availableResources` (every family; idle nodes everywhere but
in the busy families) and the `workloads` key with its Running jobs (busy families). Those use their own
random generator, seeded from the instance seed, so they never shift the draws of the structure.
Must not: decide pool sizes, flavors, subnets or targets (that is `benchmarks.generate`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

LABEL_BATCH_UID = "os.modelarts.node/batch.uid"


@dataclass(frozen=True)
class Family:
    """The knobs of one instance family (defaults: the historical generator)."""

    name: str
    summary: str
    flavors_per_pool: tuple[int, ...] = (1, 2, 3, 4)
    flavors_per_pool_weights: tuple[float, ...] = (0.3, 0.35, 0.2, 0.15)
    super_node_share: float = 0.03
    pools_per_subnet: int = 5  # subnets = max(2, min(max_subnets, pools // pools_per_subnet))
    max_subnets: int = 20
    tight_subnet_share: float = 0.25
    near_full_subnets: bool = False  # tight subnets lack room for part of what their targets need
    target_share: float = 0.60
    far_targets: bool = False
    compat_chains: bool = False
    busy_share: float = 0.0

    def subnet_count(self, pools: int) -> int:
        return max(2, min(self.max_subnets, pools // self.pools_per_subnet))


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("default", "targets within ±30% of the current count, 1-4 flavors per pool (the historical family)"),
    Family("unreachable", "targets on 85% of the pools, far from the current counts: large residual deviation",
           target_share=0.85, far_targets=True),
    Family("compat", "pools accept 3-6 flavors along flavor_compat chains",
           flavors_per_pool=(3, 4, 5, 6), flavors_per_pool_weights=(0.35, 0.3, 0.2, 0.15), compat_chains=True),
    Family("subnets", "a few subnets shared by many pools, most near full",
           pools_per_subnet=25, max_subnets=8, tight_subnet_share=0.8, near_full_subnets=True),
    Family("busy", "about 60% of the nodes busy with Running workloads of 1-16 nodes", busy_share=0.6),
    Family("hard", "unreachable + compat + subnets + busy, twice the super nodes, cross-cluster moves allowed",
           flavors_per_pool=(3, 4, 5, 6), flavors_per_pool_weights=(0.35, 0.3, 0.2, 0.15), compat_chains=True,
           super_node_share=0.06, pools_per_subnet=25, max_subnets=8, tight_subnet_share=0.8,
           near_full_subnets=True, target_share=0.85, far_targets=True, busy_share=0.6),
)}


def get_family(name: str) -> Family:
    """The family called `name`; ValueError naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown family {name!r} (choose from {', '.join(FAMILIES)})") from None


# flavor -> the next flavor of its chain (compat families): CPU sizes, GPU generations, Ascend x.d -> x3.d
COMPAT_CHAINS: dict[str, str] = {
    "modelarts.vm.cpu.2u8g": "modelarts.vm.cpu.4u16g",
    "modelarts.vm.cpu.4u16g": "modelarts.vm.cpu.8u",
    "modelarts.vm.cpu.8u": "modelarts.vm.cpu.8u.d",
    "modelarts.vm.cpu.8u.d": "modelarts.vm.cpu.16u64g",
    "modelarts.vm.cpu.16u64g": "modelarts.vm.cpu.16u64g.d",
    "modelarts.vm.cpu.16u64g.d": "modelarts.vm.cpu.32u128g",
    "modelarts.vm.cpu.32u128g": "modelarts.vm.cpu.32u128g.d",
    "modelarts.vm.cpu.32u128g.d": "modelarts.vm.cpu.64u256g",
    "modelarts.vm.cpu.64u256g": "modelarts.vm.cpu.64u256g.d",
    "modelarts.vm.gpu.1xt4": "modelarts.vm.gpu.4xt4",
    "modelarts.vm.gpu.1xv100": "modelarts.vm.gpu.8xv100",
    "modelarts.vm.gpu.8xv100": "modelarts.vm.gpu.8xv100.d",
    "modelarts.vm.gpu.8xv100.d": "modelarts.bm.gpu.8xa100",
    "modelarts.bm.gpu.8xa100": "modelarts.bm.gpu.8xa100.d",
    "modelarts.bm.gpu.8xa100.d": "modelarts.bm.gpu.8xh800",
    "modelarts.vm.npu.1snt3": "modelarts.vm.npu.4snt3",
    "modelarts.bm.npu.arm.8snt9b.d": "modelarts.bm.npu.arm.8snt9b3.d",
    "modelarts.bm.npu.arm.8snt9b2.d": "modelarts.bm.npu.arm.8snt9b3.d",
}


def chain_lines(names: list[str]) -> dict[str, str]:
    """flavor -> the first flavor of its chain (among `names`): pools of compat families pick along a line."""
    present = set(names)
    line: dict[str, str] = {}
    for name in names:
        root = name
        preds = [f for f, g in COMPAT_CHAINS.items() if g == root and f in present]
        while preds:
            root = min(preds)
            preds = [f for f, g in COMPAT_CHAINS.items() if g == root and f in present]
        line[name] = root
    return line


def chain_compat(rng: random.Random, names: list[str]) -> dict[str, list[str]]:
    """`flavor_compat` of the compat families: f -> [next] (sometimes [next, next-but-one]), never f itself."""
    present = set(names)
    compat: dict[str, list[str]] = {}
    for name in names:
        nxt = COMPAT_CHAINS.get(name)
        if nxt is None or nxt not in present:
            continue
        targets = [nxt]
        after = COMPAT_CHAINS.get(nxt)
        if after is not None and after in present and rng.random() < 0.3:
            targets.append(after)
        compat[name] = targets
    return compat


# ------------------------------------------------------------------------------ node resources

_ACCELERATOR = re.compile(r"\.(\d+)x?(v100|t4|a100|h800|snt9b3|snt9b2|snt9b|snt9c|snt3)")
_CPU = re.compile(r"\.cpu\.(\d+)u(?:(\d+)g)?")


def node_resources(flavor: str) -> dict[str, str]:
    """`status.resources` of a node of `flavor` (reference §4.2): cpu, memory and its accelerators, as strings."""
    cpu = _CPU.search(flavor)
    if cpu:
        cores = int(cpu[1])
        memory = int(cpu[2]) if cpu[2] else 4 * cores
        return {"cpu": str(cores), "memory": f"{memory}Gi"}
    acc = _ACCELERATOR.search(flavor)
    cards = int(acc[1]) if acc else 1
    kind = acc[2] if acc else "gpu"
    key = ("huawei.com/ascend-snt3" if kind == "snt3" else
           "huawei.com/ascend-snt9" if kind.startswith("snt9") else "nvidia.com/gpu")
    cores = 24 * cards if "bm" in flavor else 8 * cards
    return {"cpu": str(cores), "memory": f"{cores * 8}Gi", key: str(cards)}


def idle_available(resources: dict[str, str]) -> dict[str, str]:
    """`status.availableResources` of an idle node: system daemons hold a little CPU and memory, no accelerator."""
    out = dict(resources)
    out["cpu"] = f"{int(resources['cpu']) * 1000 - 300}m"
    out["memory"] = f"{int(resources['memory'][:-2]) * 1024 - 600}Mi"
    return out


def accelerators(resources: dict[str, str]) -> list[str]:
    """The accelerator keys of a resources map (PRODUCT §9: any key other than cpu and memory)."""
    return [k for k in resources if k not in ("cpu", "memory")]


# ------------------------------------------------------------------------------ workloads

_SPANS = (1, 1, 1, 1, 2, 2, 4, 4, 8, 16)
_TYPES = ("train", "train", "train", "infer", "notebook")
_PRIORITIES = ("1", "2", "2", "3")


def add_workloads(snapshot: dict[str, Any], share: float, seed: int) -> dict[str, int]:
    """Make about `share` of each pool's Available nodes busy (PRODUCT §9); returns headline counts.

    Every pool gets a `workloads` list (empty when idle). Jobs span 1-16 nodes of one pool; a super node is
    busy whole (one training job over all its members). About 5% of the busy nodes carry no listed workload,
    only accelerators in use (`availableResources` below `resources`), which also makes a node busy. Only
    Running workloads are listed, as `inventory pull` asks for (`status=Running`). Uses its own random
    generator: the rest of the instance does not change.
    """
    rng = random.Random(f"workloads-{seed}")
    workloads: dict[str, list[dict[str, Any]]] = {}
    counts = {"busy_nodes": 0, "running_workloads": 0, "hidden_busy_nodes": 0}
    serial = 0
    for pool in sorted(snapshot["nodes"]):
        items = [n for n in snapshot["nodes"][pool] if n["status"]["phase"] == "Available"]
        groups: dict[str, list[dict[str, Any]]] = {}
        for node in items:
            key = node["metadata"]["labels"].get(LABEL_BATCH_UID) or node["metadata"]["name"]
            groups.setdefault(key, []).append(node)
        order = sorted(groups)
        rng.shuffle(order)
        want = round(share * len(items))
        busy: list[list[dict[str, Any]]] = []  # each entry: the nodes of one job
        taken = 0
        i = 0
        while taken < want and i < len(order):
            span = rng.choice(_SPANS)
            job: list[dict[str, Any]] = []
            while i < len(order) and len(job) < span and taken + len(job) < want:
                job.extend(groups[order[i]])
                i += 1
            if job:
                busy.append(job)
                taken += len(job)
        listed: list[dict[str, Any]] = []
        for job in busy:
            if len(job) == 1 and rng.random() < 0.05 and accelerators(job[0]["status"]["resources"]):
                _hold_accelerators(job[0])
                counts["hidden_busy_nodes"] += 1
                continue
            serial += 1
            listed.append(_workload(rng, job, serial))
            for node in job:
                _hold_accelerators(node)
            counts["running_workloads"] += 1
        counts["busy_nodes"] += taken
        workloads[pool] = listed
    snapshot["workloads"] = workloads
    return counts


def busy_node_names(snapshot: dict[str, Any]) -> set[str]:
    """Nodes that are busy by PRODUCT §9: listed by a Running workload (`hostIps` or `nodes[].hostIp`), or an
    accelerator with less available than its capacity."""
    listed: set[str] = set()
    for items in snapshot.get("workloads", {}).values():
        for w in items:
            if w.get("status") == "Running":
                listed.update(ip for ip in str(w.get("hostIps") or "").split(",") if ip)
                listed.update(n["hostIp"] for n in w.get("nodes") or [])
    busy: set[str] = set()
    for items in snapshot["nodes"].values():
        for node in items:
            status = node["status"]
            held = any(_amount(status.get("availableResources", {}).get(k, "0")) < _amount(v)
                       for k, v in status.get("resources", {}).items() if k not in ("cpu", "memory"))
            if held or status.get("privateIp") in listed:
                busy.add(node["metadata"]["name"])
    return busy


def _amount(text: str) -> float:
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _hold_accelerators(node: dict[str, Any]) -> None:
    status = node["status"]
    available = dict(status["availableResources"])
    for key in accelerators(status["resources"]):
        available[key] = "0"
    available["cpu"] = "1200m"
    status["availableResources"] = available


def _workload(rng: random.Random, job: list[dict[str, Any]], serial: int) -> dict[str, Any]:
    kind = "train" if len(job) > 2 else rng.choice(_TYPES)
    name = f"{kind}-{serial:06d}-{rng.getrandbits(20):05x}"
    ips = [n["status"]["privateIp"] for n in job]
    requirement = dict(job[0]["status"]["resources"])
    return {
        "apiVersion": "v1", "kind": "Workload", "type": kind, "namespace": "default", "name": name,
        "jobName": f"job-{name}", "uid": f"{rng.getrandbits(64):016x}", "flavor": job[0]["spec"]["flavor"],
        "status": "Running", "priority": rng.choice(_PRIORITIES), "runningDuration": rng.randrange(60, 30 * 86400),
        "hostIps": ",".join(ips), "nodes": [{"hostIp": ip, "resourceRequirement": requirement} for ip in ips],
    }
