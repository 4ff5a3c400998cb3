"""Property tests on random tiny inventories: verified plans, brute-force optimality, byte-identical steps.

The brute force below is written from PRODUCT §2-§5 directly on the raw snapshot: it enumerates every
final placement of the movable units and keeps the lexicographically smallest (deviation, moves) — or, with busy
units (PRODUCT §9, `tests/core/test_busy_properties.py`), (deviation, busy nodes moved, moves).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import PlanningError
from planner.planning.pipeline import make_plan
from planner.spec import parse_spec
from planner.verify import verify_plan
from tests.core.builders import node, pool, snapshot

FLAVORS = ["f.a", "f.b"]


@st.composite
def instances(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    n_pools = draw(st.integers(2, 4))
    n_subnets = draw(st.integers(1, 2))
    subnets = {f"s{i}": (20, 20 - draw(st.sampled_from([0, 1, 2, 4, 6, 8]))) for i in range(n_subnets)}
    clusters = ["east", "west"][: draw(st.integers(1, 2))]
    pools, nodes, wishes = [], {}, {}
    budget = draw(st.integers(4, 8))
    counter = 0
    super_used = False
    for i in range(n_pools):
        name = f"pool-{i}"
        accepted = draw(st.lists(st.sampled_from(FLAVORS), min_size=1, max_size=2, unique=True))
        caps = {f: (draw(st.sampled_from([None, None, 2, 3]))) for f in accepted}
        pools.append(pool(name, caps, subnet=f"s{draw(st.integers(0, n_subnets - 1))}"))
        cluster = draw(st.sampled_from(clusters))
        k = draw(st.integers(min(2, budget), min(4, budget)))
        budget -= k
        members = []
        for _ in range(k):
            counter += 1
            kind = draw(st.sampled_from(["ok"] * 6 + ["locked", "abnormal"]))
            members.append(node(
                f"n{counter}", draw(st.sampled_from(accepted)), cluster=cluster,
                phase="Abnormal" if kind == "abnormal" else "Available",
                annotations={"os.modelarts.node/lock.action": "x"} if kind == "locked" else None))
        if not super_used and k >= 2 and draw(st.booleans()):
            super_used = True
            for m in members[:2]:
                m["metadata"]["labels"].update({"os.modelarts.node/batch.type": "hyperinstance",
                                                 "os.modelarts.node/batch.uid": f"sn-{i}"})
                m["spec"]["flavor"] = members[0]["spec"]["flavor"]
        nodes[name] = members
        wish: dict[str, Any] = {}
        if draw(st.booleans()):
            wish["target"] = draw(st.integers(0, 6))
        if draw(st.integers(0, 4)) == 0:
            wish["min"] = draw(st.integers(0, k + 1))
        if draw(st.integers(0, 4)) == 0:
            wish["max"] = draw(st.integers(max(wish.get("min", 0), k - 1), 6))
        if draw(st.integers(0, 4)) == 0:
            wish["flavors"] = {accepted[0]: draw(st.integers(0, 4))}
        # a spec that contradicts itself is refused (PRODUCT §3): keep target within [min, max], flavors within max
        if "target" in wish and "max" in wish:
            wish["target"] = min(wish["target"], wish["max"])
        if "target" in wish and "min" in wish:
            wish["target"] = max(wish["target"], wish["min"])
        if "flavors" in wish and "max" in wish:
            wish["flavors"] = {f: min(n, wish["max"]) for f, n in wish["flavors"].items()}
        if draw(st.integers(0, 6)) == 0:
            wish["accept"] = False
        if draw(st.integers(0, 6)) == 0:
            wish["give"] = False
        if wish:
            wishes[name] = wish
    spec: dict[str, Any] = {
        "format": "poolshift.spec/v1", "pools": wishes,
        "defaults": {"min_nodes": 2, "ips_per_node": 1, "ip_reserve": draw(st.integers(0, 1))},
        "limits": {"max_batch_size": draw(st.integers(1, 3)), "allow_cross_cluster": draw(st.booleans())},
        "balance": draw(st.sampled_from(["none", "none", "even"])),
    }
    if draw(st.booleans()):
        spec["flavor_compat"] = {"f.a": ["f.b"]}
    if draw(st.integers(0, 3)) == 0:
        spec["limits"]["max_moves"] = draw(st.integers(0, 4))
    return snapshot(pools, nodes, subnets=subnets), spec


def brute_force(snap: dict[str, Any], raw_spec: dict[str, Any]) -> tuple[int, int] | None:
    """Lexicographically smallest (deviation, moves) over all valid final placements, or None."""
    best = brute_force_busy(snap, raw_spec, frozenset(), keep=False)
    return None if best is None else (best[0], best[2])


def brute_force_busy(snap: dict[str, Any], raw_spec: dict[str, Any], busy: frozenset[str], *,
                     keep: bool) -> tuple[int, int, int] | None:
    """Lexicographically smallest (deviation, busy nodes moved, moves) over all valid final placements, or None.

    `busy`: the units (super-node uid, else node name) that run something; with `keep` they never move.
    """
    sp = parse_spec(raw_spec)
    pools = {p["metadata"]["name"]: p for p in snap["pools"]}
    free = {s["networkId"]: s["totalIps"] - s["usedIps"] for n in snap["networks"] for s in n["subnets"]}
    wish = {k: sp.pools[k] for k in sp.pools}
    accepted = {p: {r["flavor"]: r.get("maxCount") for r in v["spec"]["resources"]} for p, v in pools.items()}
    subnet = {p: v["spec"]["network"]["subnetId"] for p, v in pools.items()}
    where0 = {n["metadata"]["name"]: p for p, ns in snap["nodes"].items() for n in ns}
    flavor0 = {n["metadata"]["name"]: n["spec"]["flavor"] for ns in snap["nodes"].values() for n in ns}
    cluster = {n["metadata"]["name"]: n["metadata"]["labels"].get("os.modelarts.node/cluster", p)
               for p, ns in snap["nodes"].items() for n in ns}
    pool_cluster = {}
    for p in pools:
        c = Counter(cluster[n] for n, q in where0.items() if q == p)
        pool_cluster[p] = min(k for k, v in c.items() if v == max(c.values())) if c else p
    units: dict[str, list[str]] = {}
    blocked: set[str] = set()
    for p, ns in snap["nodes"].items():
        for n in ns:
            name = n["metadata"]["name"]
            labels = n["metadata"]["labels"]
            uid = labels.get("os.modelarts.node/batch.uid") or name
            units.setdefault(uid, []).append(name)
            if (n["status"]["phase"] != "Available" or n["metadata"]["annotations"].get("os.modelarts.node/lock.action")
                    or (p in wish and not wish[p].give)):
                blocked.add(uid)
    movable = [u for u in sorted(units) if u not in blocked and len(units[u]) <= sp.limits.max_batch_size
               and not (keep and u in busy)]

    def resolve(f: str, p: str) -> str | None:
        for c in [f, *sp.flavor_compat.get(f, [])]:
            if c in accepted[p]:
                return c
        return None

    options: list[list[tuple[str | None, str | None]]] = []
    for u in movable:
        src = where0[units[u][0]]
        opts: list[tuple[str | None, str | None]] = [(None, None)]
        for p in sorted(pools):
            g = resolve(flavor0[units[u][0]], p)
            if p == src or g is None or (p in wish and not wish[p].accept):
                continue
            if not sp.limits.allow_cross_cluster and cluster[units[u][0]] != pool_cluster[p]:
                continue
            opts.append((p, g))
        options.append(opts)
    count0 = Counter(where0.values())
    cell0 = Counter((where0[n], flavor0[n]) for n in where0)
    floor = {p: max(2, sp.defaults.min_nodes, (wish[p].min or 0) if p in wish else 0) for p in pools}
    even: dict[tuple[str, str], tuple[int, int]] = {}
    if sp.balance == "even":
        free_pools = [p for p in pools if not (p in wish and wish[p].target is not None)]
        for f in sorted({f for p in free_pools for f in accepted[p]}):
            grp = [p for p in free_pools if f in accepted[p] and not (p in wish and f in wish[p].flavors)]
            held = sum(cell0[(p, f)] for p in grp)
            if grp:
                even.update({(p, f): (held // len(grp), -(-held // len(grp))) for p in grp})
    best: tuple[int, int, int] | None = None
    for choice in itertools.product(*options):
        count, cell, fr = Counter(count0), Counter(cell0), dict(free)
        moves = busy_moves = 0
        for u, (dst, g) in zip(movable, choice, strict=True):
            if dst is None:
                continue
            src, n = where0[units[u][0]], len(units[u])
            count[src] -= n
            count[dst] += n
            cell[(src, flavor0[units[u][0]])] -= n
            cell[(dst, g)] += n
            fr[subnet[dst]] -= n * sp.defaults.ips_per_node
            fr[subnet[src]] += n * sp.defaults.ips_per_node
            moves += n
            busy_moves += n if u in busy else 0
        if sp.limits.max_moves is not None and moves > sp.limits.max_moves:
            continue
        ok = True
        for p in pools:
            w = wish.get(p)
            low = max(min(count0[p], floor[p]), (w.min or 0) if w else 0)
            if w is not None and not w.give:
                low = max(low, count0[p])
            if count[p] < low or (w is not None and w.max is not None and count[p] > w.max):
                ok = False
            for f, cap in accepted[p].items():
                if cap is not None and cell[(p, f)] > max(cap, cell0[(p, f)]):
                    ok = False
        for s, v in fr.items():
            if v < min(free[s], sp.defaults.ip_reserve):
                ok = False
        if not ok:
            continue
        dev = 0
        for p, w in wish.items():
            if w.target is not None:
                dev += abs(count[p] - w.target)
            dev += sum(abs(cell[(p, f)] - t) for f, t in w.flavors.items())
        dev += sum(max(0, lo - cell[k]) + max(0, cell[k] - hi) for k, (lo, hi) in even.items())
        if best is None or (dev, busy_moves, moves) < best:
            best = (dev, busy_moves, moves)
    return best


@settings(max_examples=200)
@given(instances())
def test_plans_are_verified_and_match_brute_force(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snap, raw_spec = case
    best = brute_force(snap, raw_spec)
    try:
        result = make_plan(snap, raw_spec)
    except PlanningError as exc:
        assert best is None or "no safe order" in str(exc), (str(exc), best)
        return
    assert verify_plan(snap, parse_spec(raw_spec), result.document) == []
    assert best is not None
    summary = result.document.model_dump(mode="json")["summary"]
    if summary["status"] == "OPTIMAL":
        assert (summary["deviation_after"], summary["moves"] - summary["staging_moves"]) == best
    else:
        assert summary["bound"] == best[0] and summary["deviation_after"] >= best[0]


@given(instances())
def test_same_inputs_give_byte_identical_steps(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snap, raw_spec = case
    try:
        first = make_plan(snap, raw_spec).document.model_dump(mode="json")
    except PlanningError:
        return
    second = make_plan(json.loads(json.dumps(snap)), json.loads(json.dumps(raw_spec))).document.model_dump(mode="json")
    assert json.dumps(first["steps"], sort_keys=True) == json.dumps(second["steps"], sort_keys=True)
    def stable(doc: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if k not in ("created_at", "digest")}
        out["summary"] = {k: v for k, v in doc["summary"].items() if k != "solve_seconds"}
        return out

    assert stable(first) == stable(second)
