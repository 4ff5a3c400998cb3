"""Independent verifier: checks a plan against the hard rules of PRODUCT §4 and §6, from the raw snapshot.

It shares no code with the model: it reads the raw API objects itself (no `planner.inventory`, no
`planner.planning.problem`, no `solvers`), replays the steps one by one and wave by wave, and recomputes the
summary numbers. Every plan passes it before it is written; `apply` runs it again on live state.
Returns a list of violations in words; an empty list means the plan is valid.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

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


def _labels(obj: dict[str, Any], key: str) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return dict(meta.get(key) or {})


def _read_world(raw: dict[str, Any], spec: Spec) -> _World:
    w = _World()
    subnets_of: dict[str, list[str]] = {}
    for net in raw.get("networks") or []:
        subnets_of[net["name"]] = [s["networkId"] for s in net.get("subnets") or []]
        for s in net.get("subnets") or []:
            w.free[s["networkId"]] = int(s["totalIps"]) - int(s["usedIps"])
    pins = set(spec.pin)
    display_count = Counter(_labels(p, "labels").get("os.modelarts/name", "") for p in raw["pools"])
    by_key: dict[str, str] = {}
    for pool in raw["pools"]:
        name = pool["metadata"]["name"]
        by_key[name] = name
    for pool in raw["pools"]:
        name = pool["metadata"]["name"]
        disp = _labels(pool, "labels").get("os.modelarts/name", "")
        if disp and display_count[disp] == 1 and disp not in by_key:
            by_key[disp] = name
    wishes = {by_key[k]: v for k, v in spec.pools.items() if k in by_key}
    for pool in raw["pools"]:
        name = pool["metadata"]["name"]
        spec_part = pool.get("spec") or {}
        status = pool.get("status") or {}
        net = spec_part.get("network") or {}
        subnet = net.get("subnetId")
        if subnet is not None and subnet not in w.free:
            subnet = None
        if subnet is None and not net.get("subnetId") and net.get("name") in subnets_of:
            candidates = subnets_of[net["name"]]
            subnet = candidates[0] if len(candidates) == 1 else None
        flavors: dict[str, int | None] = {}
        for res in spec_part.get("resources") or []:
            flavors.setdefault(res["flavor"], res.get("maxCount"))
        wish = wishes.get(name)
        w.pools[name] = {
            "part": status.get("phase") == "Running" and spec_part.get("type") == "Dedicate",
            "flavors": flavors, "subnet": subnet, "wish": wish,
            "floor": max(2, spec.defaults.min_nodes, (wish.min if wish and wish.min is not None else 0)),
            "status_cluster": _status_cluster(status, spec_part),
        }
    for pool_name, items in (raw.get("nodes") or {}).items():
        for node in items:
            name = node["metadata"]["name"]
            labels, notes = _labels(node, "labels"), _labels(node, "annotations")
            w.where[name] = pool_name
            w.flavor[name] = node["spec"]["flavor"]
            w.cluster[name] = labels.get("os.modelarts.node/cluster") or pool_name
            uid = labels.get("os.modelarts.node/batch.uid", "") \
                if labels.get("os.modelarts.node/batch.type") == _HYPER else ""
            w.unit[name] = uid
            if uid:
                w.unit_members.setdefault(uid, set()).add(name)
            why = ""
            if (node.get("status") or {}).get("phase") != "Available":
                why = "not Available"
            elif notes.get("os.modelarts.node/lock.action"):
                why = "locked"
            elif labels.get("os.modelarts/billing.status", "0") != "0":
                why = "billing status"
            elif "os.modelarts.node/volcano.scheduler.cabinet-exclusive" in labels:
                why = "cabinet-exclusive"
            elif name in pins:
                why = "pinned"
            w.may_move[name] = why
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
    for cand in list(spec.flavor_compat.get(flavor, [])) + [flavor]:
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


def verify_plan(raw: dict[str, Any], spec: Spec, plan: dict[str, Any], *, check_summary: bool = True) -> list[str]:
    """Every way `plan` breaks PRODUCT §4/§6 for this snapshot and spec (empty: none).

    With `check_summary=False` only the hard rules are checked (used to re-check the remaining steps of a
    plan against live state, where step ids need not start at 1 and the summary describes the whole plan).
    """
    w = _read_world(raw, spec)
    bad: list[str] = []
    ips = spec.defaults.ips_per_node
    reserve = spec.defaults.ip_reserve
    limits = spec.limits
    start_pool, start_cell = _counts(w)
    start_free = dict(w.free)
    per_pool, per_cell = Counter(start_pool), Counter(start_cell)
    steps = plan.get("steps") or []
    moved_nodes = 0
    staging_nodes = 0

    def step_checks(i: int, step: dict[str, Any]) -> tuple[str, str, str, list[str]] | None:
        body = step.get("body") or {}
        names = body.get("migrateNodeNames")
        src = step.get("pool_name")
        tgt = body.get("toPoolName")
        where = f"step {step.get('id', i + 1)}"
        if not isinstance(names, list) or not names or len(set(names)) != len(names):
            bad.append(f"{where}: migrateNodeNames must be a non-empty list of distinct names")
            return None
        if len(names) > limits.max_batch_size:
            bad.append(f"{where}: {len(names)} nodes exceed max_batch_size {limits.max_batch_size}")
        if src not in w.pools or tgt not in w.pools:
            bad.append(f"{where}: unknown pool {src if src not in w.pools else tgt}")
            return None
        if src == tgt:
            bad.append(f"{where}: source and target are the same pool")
        for n in names:
            if n not in w.where:
                bad.append(f"{where}: unknown node {n}")
                return None
            if w.where[n] != src:
                bad.append(f"{where}: node {n} is in {w.where[n]}, not in {src}")
            if w.may_move[n]:
                bad.append(f"{where}: node {n} may not move ({w.may_move[n]})")
        if w.pools[src]["wish"] is not None and not w.pools[src]["wish"].give:
            bad.append(f"{where}: pool {src} may not send (give: false)")
        spec_t = w.pools[tgt]
        if not spec_t["part"] or not w.pools[src]["part"]:
            bad.append(f"{where}: a pool that does not take part sends or receives")
        if spec_t["wish"] is not None and not spec_t["wish"].accept:
            bad.append(f"{where}: pool {tgt} may not receive (accept: false)")
        if spec_t["subnet"] is None:
            bad.append(f"{where}: pool {tgt} has no known subnet")
        res = body.get("resourceSpec") or {}
        flavor = res.get("flavor")
        for n in names:
            want = _expected_flavor(spec, w.flavor[n], spec_t["flavors"])
            if want is None:
                bad.append(f"{where}: pool {tgt} accepts no flavor node {n} ({w.flavor[n]}) may become")
            elif want != flavor:
                bad.append(f"{where}: node {n} should run as {want} in {tgt}, request says {flavor}")
        uids = {w.unit[n] for n in names}
        if uids - {""}:
            if len(uids) != 1 or set(names) != w.unit_members[next(iter(uids))]:
                bad.append(f"{where}: a super node must move whole and alone")
            if res.get("creatingStep") != {"step": len(names), "type": _HYPER}:
                bad.append(f"{where}: a super node needs creatingStep {{step: {len(names)}, type: hyperinstance}}")
        elif "creatingStep" in res:
            bad.append(f"{where}: creatingStep on a request without a super node")
        clusters = {w.cluster[n] for n in names}
        if len(clusters) != 1 or body.get("fromClusterName") not in clusters:
            bad.append(f"{where}: fromClusterName {body.get('fromClusterName')} is not the nodes' cluster")
        if body.get("toClusterName") != spec_t["cluster"]:
            bad.append(f"{where}: toClusterName {body.get('toClusterName')} is not {tgt}'s cluster "
                       f"{spec_t['cluster']}")
        if not limits.allow_cross_cluster and body.get("fromClusterName") != body.get("toClusterName"):
            bad.append(f"{where}: crosses clusters while allow_cross_cluster is false")
        return src, tgt, str(flavor), list(names)

    def pre_state(where: str, src: str, tgt: str, flavor: str, out_n: int, in_n: int, g_n: int,
                  ips_n: int) -> None:
        floor = w.pools[src]["floor"]
        if per_pool[src] - out_n < floor:
            bad.append(f"{where}: pool {src} drops to {per_pool[src] - out_n} nodes, below its floor {floor}")
        wish = w.pools[tgt]["wish"]
        if wish is not None and wish.max is not None and per_pool[tgt] + in_n > wish.max:
            bad.append(f"{where}: pool {tgt} rises to {per_pool[tgt] + in_n} nodes, above its max {wish.max}")
        cap = w.pools[tgt]["flavors"].get(flavor)
        if cap is not None and per_cell[(tgt, flavor)] + g_n > cap:
            bad.append(f"{where}: pool {tgt} rises to {per_cell[(tgt, flavor)] + g_n} {flavor} nodes, "
                       f"above maxCount {cap}")
        sub = w.pools[tgt]["subnet"]
        if sub is not None and w.free[sub] - reserve < ips_n:
            bad.append(f"{where}: subnet {sub} has {w.free[sub] - reserve} addresses above its reserve, "
                       f"the step needs {ips_n}")

    def finish(src: str, tgt: str, flavor: str, names: list[str]) -> None:
        for n in names:
            per_pool[src] -= 1
            per_cell[(src, w.flavor[n])] -= 1
            per_pool[tgt] += 1
            per_cell[(tgt, flavor)] += 1
            w.where[n] = tgt
            w.flavor[n] = flavor
            w.cluster[n] = w.pools[tgt]["cluster"]
        ssub, tsub = w.pools[src]["subnet"], w.pools[tgt]["subnet"]
        if tsub is not None:
            w.free[tsub] -= len(names) * ips
        if ssub is not None:
            w.free[ssub] += len(names) * ips

    # Steps one at a time, grouped by wave: each wave is checked in its worst interleaving first.
    ids = [s.get("id") for s in steps]
    if check_summary and ids != list(range(1, len(steps) + 1)):
        bad.append("step ids must be 1, 2, 3, ... in order")
    waves = [s.get("wave") for s in steps]
    if any(not isinstance(x, int) for x in waves) or waves != sorted(waves):
        bad.append("wave numbers must be integers that never decrease")
        waves = [i + 1 for i in range(len(steps))]
    i = 0
    while i < len(steps):
        j = i
        while j < len(steps) and waves[j] == waves[i]:
            j += 1
        group = steps[i:j]
        parsed = [step_checks(i + k, s) for k, s in enumerate(group)]
        if any(p is None for p in parsed):
            return bad
        out_by: Counter[str] = Counter()
        in_by: Counter[str] = Counter()
        g_by: Counter[tuple[str, str]] = Counter()
        ips_by: Counter[str] = Counter()
        for p in parsed:
            assert p is not None
            src, tgt, flavor, names = p
            out_by[src] += len(names)
            in_by[tgt] += len(names)
            g_by[(tgt, flavor)] += len(names)
            ips_by[str(w.pools[tgt]["subnet"])] += len(names) * ips
            pre_state(f"wave {waves[i]}", src, tgt, flavor, out_by[src], in_by[tgt], g_by[(tgt, flavor)],
                      ips_by[str(w.pools[tgt]["subnet"])])
        for k, p in enumerate(parsed):
            assert p is not None
            src, tgt, flavor, names = p
            pre_state(f"step {group[k].get('id')}", src, tgt, flavor, len(names), len(names), len(names),
                      len(names) * ips)
            finish(src, tgt, flavor, names)
            moved_nodes += len(names)
            if group[k].get("staging"):
                staging_nodes += len(names)
        i = j

    # Final state.
    for name, facts in w.pools.items():
        wish = facts["wish"]
        n, n0 = per_pool[name], start_pool[name]
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
            if cap is not None and per_cell[(name, flavor)] > max(cap, start_cell[(name, flavor)]):
                bad.append(f"final: pool {name} has {per_cell[(name, flavor)]} {flavor} nodes, maxCount {cap}")
    for sub, free in w.free.items():
        if free < min(start_free[sub], reserve):
            bad.append(f"final: subnet {sub} keeps {free} free addresses, needs {min(start_free[sub], reserve)}")
    if limits.max_moves is not None and moved_nodes > limits.max_moves:
        bad.append(f"{moved_nodes} moved nodes exceed max_moves {limits.max_moves}")

    if not check_summary:
        return bad
    summary = plan.get("summary") or {}
    if summary.get("moves") != moved_nodes:
        bad.append(f"summary.moves is {summary.get('moves')}, the steps move {moved_nodes} nodes")
    if summary.get("requests") != len(steps):
        bad.append(f"summary.requests is {summary.get('requests')}, there are {len(steps)} steps")
    if summary.get("staging_moves", 0) != staging_nodes:
        bad.append(f"summary.staging_moves is {summary.get('staging_moves')}, staging steps move {staging_nodes}")
    d_before = _deviation(w, spec, start_pool, start_cell, start_cell)
    d_after = _deviation(w, spec, per_pool, per_cell, start_cell)
    if summary.get("deviation_before") != d_before:
        bad.append(f"summary.deviation_before is {summary.get('deviation_before')}, recomputed {d_before}")
    if summary.get("deviation_after") != d_after:
        bad.append(f"summary.deviation_after is {summary.get('deviation_after')}, recomputed {d_after}")
    bound = summary.get("bound")
    if summary.get("status") == "OPTIMAL" and bound != d_after:
        bad.append(f"summary says OPTIMAL but bound {bound} differs from deviation {d_after}")
    if isinstance(bound, int) and bound > d_after:
        bad.append(f"summary.bound {bound} is above the deviation {d_after}")
    return bad
