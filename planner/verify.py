"""Independent verifier: checks a plan against the hard rules of PRODUCT §4 and §6, from the raw snapshot.

It shares no code with the model: it reads the raw API objects itself (no `planner.inventory`, no
`planner.snapshot`, no `planner.modelarts`, no planning core, no `solvers`) — the label names and field rules
below repeat `planner.modelarts.objects` on purpose, so that a mistake there cannot hide from this check —
replays the steps one by one and wave by wave, and recomputes the summary numbers. It reads the plan through
its typed model (`planner.planfile`), which only describes the file. Every plan passes it before it is
written; `apply` runs it again on the remaining steps against live state.
Returns a list of violations in words; an empty list means the plan is valid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from planner.planfile import PlanDocument, PlanStep
from planner.spec import Spec

_HYPER = "hyperinstance"


@dataclass
class _World:
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)   # name -> facts
    where: dict[str, str] = field(default_factory=dict)              # node -> pool
    flavor: dict[str, str] = field(default_factory=dict)             # node -> flavor
    cluster: dict[str, str] = field(default_factory=dict)            # node -> cluster label or pool
    may_move: dict[str, str] = field(default_factory=dict)           # node -> "" or why not
    unit: dict[str, str] = field(default_factory=dict)               # node -> super node uid ("" = alone)
    unit_members: dict[str, set[str]] = field(default_factory=dict)
    free: dict[str, int] = field(default_factory=dict)               # subnet -> free addresses


_EMPTY: dict[str, Any] = {}


def _labels(obj: dict[str, Any], key: str) -> dict[str, str]:
    meta = obj.get("metadata") or _EMPTY
    labels: dict[str, str] = meta.get(key) or _EMPTY
    return labels


def _pool_keys(raw: dict[str, Any]) -> dict[str, str]:
    """Spec pool key -> pool: every pool id, and each display name only one pool carries (and no id equals)."""
    display_count = Counter(_labels(p, "labels").get("os.modelarts/name", "") for p in raw["pools"])
    by_key = {pool["metadata"]["name"]: pool["metadata"]["name"] for pool in raw["pools"]}
    for pool in raw["pools"]:
        disp = _labels(pool, "labels").get("os.modelarts/name", "")
        if disp and display_count[disp] == 1 and disp not in by_key:
            by_key[disp] = pool["metadata"]["name"]
    return by_key


def _pool_subnet(name: str, net: dict[str, Any], subnets_of: dict[str, list[str]], free: dict[str, int],
                 recorded: dict[str, Any]) -> str | None:
    """spec.network.subnetId; else the subnet `inventory pull` recorded for the pool; else the network's only one."""
    if net.get("subnetId"):
        return str(net["subnetId"]) if net["subnetId"] in free else None
    if name in recorded and isinstance(recorded[name], dict) and "subnet" in recorded[name]:
        found = recorded[name].get("subnet")
        return str(found) if found in free else None
    candidates = subnets_of.get(str(net.get("name")), [])
    return candidates[0] if len(candidates) == 1 else None


def _read_world(raw: dict[str, Any], spec: Spec) -> _World:
    w = _World()
    subnets_of: dict[str, list[str]] = {}
    for net in raw.get("networks") or []:
        subnets_of[net["name"]] = [s["networkId"] for s in net.get("subnets") or []]
        for s in net.get("subnets") or []:
            w.free[s["networkId"]] = int(s["totalIps"]) - int(s["usedIps"])
    by_key = _pool_keys(raw)
    wishes = {by_key[k]: v for k, v in spec.pools.items() if k in by_key}
    recorded = raw.get("pool_subnets") or {}
    for pool in raw["pools"]:
        name = pool["metadata"]["name"]
        spec_part = pool.get("spec") or {}
        status = pool.get("status") or {}
        flavors: dict[str, int | None] = {}
        for res in spec_part.get("resources") or []:
            flavors.setdefault(res["flavor"], res.get("maxCount"))
        wish = wishes.get(name)
        w.pools[name] = {
            "part": status.get("phase") == "Running" and spec_part.get("type") == "Dedicate",
            "flavors": flavors, "wish": wish,
            "subnet": _pool_subnet(name, spec_part.get("network") or {}, subnets_of, w.free, recorded),
            "floor": max(2, spec.defaults.min_nodes, (wish.min if wish and wish.min is not None else 0)),
            "status_cluster": _status_cluster(status, spec_part),
        }
    _read_nodes(w, raw, set(spec.pin))
    members_of: dict[str, Counter[str]] = {}
    for n, p in w.where.items():
        members_of.setdefault(p, Counter())[w.cluster[n]] += 1
    for pool_name, facts in w.pools.items():
        members = members_of.get(pool_name)
        if members:
            top = max(members.values())
            facts["cluster"] = min(c for c, k in members.items() if k == top)
        else:
            facts["cluster"] = facts["status_cluster"] or pool_name
    return w


def _read_nodes(w: _World, raw: dict[str, Any], pins: set[str]) -> None:
    where, flavor, cluster, unit, may_move = w.where, w.flavor, w.cluster, w.unit, w.may_move
    for pool_name, items in (raw.get("nodes") or {}).items():
        for node in items:
            meta = node["metadata"]
            name = meta["name"]
            labels = meta.get("labels") or _EMPTY
            where[name] = pool_name
            flavor[name] = node["spec"]["flavor"]
            cluster[name] = labels.get("os.modelarts.node/cluster") or pool_name
            uid = labels.get("os.modelarts.node/batch.uid", "") \
                if labels.get("os.modelarts.node/batch.type") == _HYPER else ""
            unit[name] = uid
            if uid:
                w.unit_members.setdefault(uid, set()).add(name)
            why = ""
            if (node.get("status") or _EMPTY).get("phase") != "Available":
                why = "not Available"
            elif (meta.get("annotations") or _EMPTY).get("os.modelarts.node/lock.action"):
                why = "locked"
            elif labels.get("os.modelarts/billing.status", "0") != "0":
                why = "billing status"
            elif "os.modelarts.node/volcano.scheduler.cabinet-exclusive" in labels:
                why = "cabinet-exclusive"
            elif name in pins:
                why = "pinned"
            may_move[name] = why


def _status_cluster(status: dict[str, Any], spec_part: dict[str, Any]) -> str | None:
    c = status.get("clusters")
    if isinstance(c, list):
        c = c[0] if c else None
    if isinstance(c, dict) and c.get("name"):
        return str(c["name"])
    sc = spec_part.get("clusters")
    if isinstance(sc, list) and sc and isinstance(sc[0], dict) and sc[0].get("name"):
        return str(sc[0]["name"])
    return None


def _expected_flavor(spec: Spec, flavor: str, accepted: dict[str, Any]) -> str | None:
    for cand in [flavor, *spec.flavor_compat.get(flavor, [])]:  # its own flavor whenever it fits
        if cand in accepted:
            return cand
    return None


def _counts(w: _World) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    per_pool: Counter[str] = Counter(w.where.values())
    per_cell: Counter[tuple[str, str]] = Counter((w.where[n], w.flavor[n]) for n in w.where)
    return per_pool, per_cell


def _deviation(w: _World, spec: Spec, per_pool: Counter[str], per_cell: Counter[tuple[str, str]],
               start_cell: Counter[tuple[str, str]]) -> int:
    total = 0
    for name, facts in w.pools.items():
        wish = facts["wish"]
        if wish is not None and wish.target is not None:
            total += abs(per_pool[name] - wish.target)
        if wish is not None:
            for flavor, want in wish.flavors.items():
                total += abs(per_cell[(name, flavor)] - want)
    if spec.balance == "even":
        untargeted = [n for n, f in w.pools.items() if f["part"] and (f["wish"] is None or f["wish"].target is None)]
        for flavor in sorted({fl for n in untargeted for fl in w.pools[n]["flavors"]}):
            group = [n for n in untargeted if flavor in w.pools[n]["flavors"]
                     and not (w.pools[n]["wish"] is not None and flavor in w.pools[n]["wish"].flavors)]
            if not group:
                continue
            held = sum(start_cell[(n, flavor)] for n in group)
            low, high = held // len(group), (held + len(group) - 1) // len(group)
            for n in group:
                v = per_cell[(n, flavor)]
                total += max(0, low - v) + max(0, v - high)
    return total


class _Replay:
    """The steps applied one by one to the raw snapshot's counts, with every rule they break."""

    def __init__(self, raw: dict[str, Any], spec: Spec) -> None:
        self.w = _read_world(raw, spec)
        self.spec = spec
        self.bad: list[str] = []
        self.start_pool, self.start_cell = _counts(self.w)
        self.start_free = dict(self.w.free)
        self.per_pool, self.per_cell = Counter(self.start_pool), Counter(self.start_cell)
        self.moved = 0
        self.staging = 0
        self.complete = False  # every step was replayed (none named a pool or node the snapshot lacks)

    def static_checks(self, step: PlanStep) -> bool:
        """Rules a request must meet whatever the state (nodes, pools, flavor, super node, clusters)."""
        w, bad, limits, body = self.w, self.bad, self.spec.limits, step.body
        names, src, tgt = step.nodes, step.source, step.target
        where = f"step {step.id}"
        if len(names) > limits.max_batch_size:
            bad.append(f"{where}: {len(names)} nodes exceed max_batch_size {limits.max_batch_size}")
        if src not in w.pools or tgt not in w.pools:
            bad.append(f"{where}: unknown pool {src if src not in w.pools else tgt}")
            return False
        for n in names:
            if n not in w.where:
                bad.append(f"{where}: unknown node {n}")
                return False
            if w.where[n] != src:
                bad.append(f"{where}: node {n} is in {w.where[n]}, not in {src}")
            if w.may_move[n]:
                bad.append(f"{where}: node {n} may not move ({w.may_move[n]})")
        self._pool_checks(step)
        for n in names:
            want = _expected_flavor(self.spec, w.flavor[n], w.pools[tgt]["flavors"])
            if want is None:
                bad.append(f"{where}: pool {tgt} accepts no flavor node {n} ({w.flavor[n]}) may become")
            elif want != step.flavor:
                bad.append(f"{where}: node {n} should run as {want} in {tgt}, request says {step.flavor}")
        uids = {w.unit[n] for n in names}
        creating = body.resourceSpec.creatingStep
        if uids - {""}:
            if len(uids) != 1 or set(names) != w.unit_members[next(iter(uids))]:
                bad.append(f"{where}: a super node must move whole and alone")
            if creating is None or creating.step != len(names):
                bad.append(f"{where}: a super node needs creatingStep {{step: {len(names)}, type: hyperinstance}}")
        elif creating is not None:
            bad.append(f"{where}: creatingStep on a request without a super node")
        clusters = {w.cluster[n] for n in names}
        if len(clusters) != 1 or body.fromClusterName not in clusters:
            bad.append(f"{where}: fromClusterName {body.fromClusterName} is not the nodes' cluster")
        if body.toClusterName != w.pools[tgt]["cluster"]:
            bad.append(f"{where}: toClusterName {body.toClusterName} is not {tgt}'s cluster {w.pools[tgt]['cluster']}")
        if not limits.allow_cross_cluster and body.fromClusterName != body.toClusterName:
            bad.append(f"{where}: crosses clusters while allow_cross_cluster is false")
        return True

    def _pool_checks(self, step: PlanStep) -> None:
        w, bad, src, tgt, where = self.w, self.bad, step.source, step.target, f"step {step.id}"
        if w.pools[src]["wish"] is not None and not w.pools[src]["wish"].give:
            bad.append(f"{where}: pool {src} may not send (give: false)")
        if not w.pools[tgt]["part"] or not w.pools[src]["part"]:
            bad.append(f"{where}: a pool that does not take part sends or receives")
        if w.pools[tgt]["wish"] is not None and not w.pools[tgt]["wish"].accept:
            bad.append(f"{where}: pool {tgt} may not receive (accept: false)")
        if w.pools[tgt]["subnet"] is None:
            bad.append(f"{where}: pool {tgt} has no known subnet")

    def pre_state(self, where: str, src: str, tgt: str, flavor: str, out_n: int, in_n: int, g_n: int,
                  ips_n: int) -> None:
        """Rules on the state before a step (or a whole wave, with every count of the wave added)."""
        w, per_pool = self.w, self.per_pool
        floor = w.pools[src]["floor"]
        if per_pool[src] - out_n < floor:
            self.bad.append(f"{where}: pool {src} drops to {per_pool[src] - out_n} nodes, below its floor {floor}")
        wish = w.pools[tgt]["wish"]
        if wish is not None and wish.max is not None and per_pool[tgt] + in_n > wish.max:
            self.bad.append(f"{where}: pool {tgt} rises to {per_pool[tgt] + in_n} nodes, above its max {wish.max}")
        cap = w.pools[tgt]["flavors"].get(flavor)
        if cap is not None and self.per_cell[(tgt, flavor)] + g_n > cap:
            self.bad.append(f"{where}: pool {tgt} rises to {self.per_cell[(tgt, flavor)] + g_n} {flavor} nodes, "
                            f"above maxCount {cap}")
        sub = w.pools[tgt]["subnet"]
        reserve = self.spec.defaults.ip_reserve
        if sub is not None and w.free[sub] - reserve < ips_n:
            self.bad.append(f"{where}: subnet {sub} has {w.free[sub] - reserve} addresses above its reserve, "
                            f"the step needs {ips_n}")

    def finish(self, step: PlanStep) -> None:
        """The state after the step: nodes moved and relabelled, the old addresses freed."""
        w, src, tgt = self.w, step.source, step.target
        for n in step.nodes:
            self.per_pool[src] -= 1
            self.per_cell[(src, w.flavor[n])] -= 1
            self.per_pool[tgt] += 1
            self.per_cell[(tgt, step.flavor)] += 1
            w.where[n] = tgt
            w.flavor[n] = step.flavor
            w.cluster[n] = w.pools[tgt]["cluster"]
        ips = step.size * self.spec.defaults.ips_per_node
        ssub, tsub = w.pools[src]["subnet"], w.pools[tgt]["subnet"]
        if tsub is not None:
            w.free[tsub] -= ips
        if ssub is not None:
            w.free[ssub] += ips
        self.moved += step.size
        if step.staging:
            self.staging += step.size

    def wave(self, number: int, group: Sequence[PlanStep]) -> bool:
        """A wave in its worst interleaving (everything leaves and every new address is taken first), then each
        step one at a time; False when a step names pools or nodes the snapshot does not have."""
        if not all([self.static_checks(s) for s in group]):
            return False
        out_by: Counter[str] = Counter()
        in_by: Counter[str] = Counter()
        g_by: Counter[tuple[str, str]] = Counter()
        ips_by: Counter[str] = Counter()
        ips = self.spec.defaults.ips_per_node
        for s in group:
            sub = str(self.w.pools[s.target]["subnet"])
            out_by[s.source] += s.size
            in_by[s.target] += s.size
            g_by[(s.target, s.flavor)] += s.size
            ips_by[sub] += s.size * ips
            self.pre_state(f"wave {number}", s.source, s.target, s.flavor, out_by[s.source], in_by[s.target],
                           g_by[(s.target, s.flavor)], ips_by[sub])
        for s in group:
            self.pre_state(f"step {s.id}", s.source, s.target, s.flavor, s.size, s.size, s.size, s.size * ips)
            self.finish(s)
        return True

    def final_checks(self) -> None:
        """PRODUCT §4 in the final state, and the move cap."""
        w, spec, bad = self.w, self.spec, self.bad
        for name, facts in w.pools.items():
            wish = facts["wish"]
            n, n0 = self.per_pool[name], self.start_pool[name]
            low = min(n0, facts["floor"])
            if wish is not None and wish.min is not None:
                low = max(low, wish.min)
            if n < low:
                bad.append(f"final: pool {name} has {n} nodes, fewer than {low}")
            if wish is not None and wish.max is not None and n > wish.max:
                bad.append(f"final: pool {name} has {n} nodes, more than its max {wish.max}")
            if not facts["part"] and n != n0:
                bad.append(f"final: pool {name} does not take part but changed from {n0} to {n}")
            for flavor, cap in facts["flavors"].items():
                if cap is not None and self.per_cell[(name, flavor)] > max(cap, self.start_cell[(name, flavor)]):
                    bad.append(f"final: pool {name} has {self.per_cell[(name, flavor)]} {flavor} nodes, "
                               f"maxCount {cap}")
        reserve = spec.defaults.ip_reserve
        for sub, free in w.free.items():
            need = min(self.start_free[sub], reserve)
            if free < need:
                bad.append(f"final: subnet {sub} keeps {free} free addresses, needs {need}")
        if spec.limits.max_moves is not None and self.moved > spec.limits.max_moves:
            bad.append(f"{self.moved} moved nodes exceed max_moves {spec.limits.max_moves}")

    def summary_checks(self, plan: PlanDocument) -> None:
        """The summary's figures, recomputed from the replay."""
        s, bad = plan.summary, self.bad
        if s.moves != self.moved:
            bad.append(f"summary.moves is {s.moves}, the steps move {self.moved} nodes")
        if s.requests != len(plan.steps):
            bad.append(f"summary.requests is {s.requests}, there are {len(plan.steps)} steps")
        if s.staging_moves != self.staging:
            bad.append(f"summary.staging_moves is {s.staging_moves}, staging steps move {self.staging}")
        d_before = _deviation(self.w, self.spec, self.start_pool, self.start_cell, self.start_cell)
        d_after = _deviation(self.w, self.spec, self.per_pool, self.per_cell, self.start_cell)
        if s.deviation_before != d_before:
            bad.append(f"summary.deviation_before is {s.deviation_before}, recomputed {d_before}")
        if s.deviation_after != d_after:
            bad.append(f"summary.deviation_after is {s.deviation_after}, recomputed {d_after}")
        if s.status == "OPTIMAL" and s.bound != d_after:
            bad.append(f"summary says OPTIMAL but bound {s.bound} differs from deviation {d_after}")
        if s.bound > d_after:
            bad.append(f"summary.bound {s.bound} is above the deviation {d_after}")


def _replay(raw: dict[str, Any], spec: Spec, steps: Sequence[PlanStep]) -> _Replay:
    replay = _Replay(raw, spec)
    i = 0
    while i < len(steps):
        j = i
        while j < len(steps) and steps[j].wave == steps[i].wave:
            j += 1
        if not replay.wave(steps[i].wave, steps[i:j]):
            return replay
        i = j
    replay.complete = True
    replay.final_checks()
    return replay


def verify_steps(raw: dict[str, Any], spec: Spec, steps: Sequence[PlanStep]) -> list[str]:
    """Every hard rule of PRODUCT §4 the steps break on this snapshot (empty: none), wave by wave.

    For the remaining steps of a plan against live state: step ids need not start at 1.
    """
    return _replay(raw, spec, steps).bad


def verify_plan(raw: dict[str, Any], spec: Spec, plan: PlanDocument) -> list[str]:
    """Every way `plan` breaks PRODUCT §4/§6 for this snapshot and spec (empty: none), its summary included."""
    replay = _replay(raw, spec, plan.steps)
    if [s.id for s in plan.steps] != list(range(1, len(plan.steps) + 1)):
        replay.bad.append("step ids must be 1, 2, 3, ... in order")
    if replay.complete:
        replay.summary_checks(plan)
    return replay.bad
