"""Safe ordering under pressure: staging hops, unreachable placements, waves in every interleaving.

The breadth-first search below is written from PRODUCT §4 directly on the raw snapshot: it finds the
fewest single-unit moves that take the inventory to the plan's final placement with every intermediate
state valid, so `moves - direct moves` is the least number of staging hops any order needs.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from typing import Any

import pytest
from hypothesis import given, settings

from planner.errors import PlanningError
from planner.planning.pipeline import PlanOptions, make_plan
from planner.spec import parse_spec
from planner.verify import verify_plan
from tests.core.builders import node, nodes_of, pool, snapshot, spec
from tests.core.test_properties import instances


def bfs_min_moves(snap: dict[str, Any], raw_spec: dict[str, Any], goal: dict[str, str]) -> int | None:
    """Fewest single-node moves from the snapshot to `goal` (node -> pool), every step valid; None if none."""
    sp = parse_spec(raw_spec)
    pools = {p["metadata"]["name"]: p for p in snap["pools"]}
    accepted = {p: {r["flavor"]: r.get("maxCount") for r in v["spec"]["resources"]} for p, v in pools.items()}
    subnet = {p: v["spec"]["network"]["subnetId"] for p, v in pools.items()}
    free0 = {s["networkId"]: s["totalIps"] - s["usedIps"] for n in snap["networks"] for s in n["subnets"]}
    wish = {k: v for k, v in sp.pools.items()}
    floor = {p: max(2, sp.defaults.min_nodes, (wish[p].min or 0) if p in wish else 0) for p in pools}
    names = sorted(n["metadata"]["name"] for ns in snap["nodes"].values() for n in ns)
    start_pool = {n["metadata"]["name"]: p for p, ns in snap["nodes"].items() for n in ns}
    flavor0 = {n["metadata"]["name"]: n["spec"]["flavor"] for ns in snap["nodes"].values() for n in ns}

    def resolve(f: str, p: str) -> str | None:
        return next((c for c in [f, *sp.flavor_compat.get(f, [])] if c in accepted[p]), None)

    start = tuple((start_pool[n], flavor0[n]) for n in names)
    seen = {start}
    queue: deque[tuple[tuple[tuple[str, str], ...], int]] = deque([(start, 0)])
    while queue:
        state, depth = queue.popleft()
        if all(state[i][0] == goal[n] for i, n in enumerate(names)):
            return depth
        count = Counter(p for p, _ in state)
        cell = Counter(state)
        free = dict(free0)
        for i, n in enumerate(names):
            if state[i][0] != start_pool[n]:
                free[subnet[state[i][0]]] -= 1
                free[subnet[start_pool[n]]] += 1
        for i in range(len(names)):
            src, f = state[i]
            if src in wish and not wish[src].give or count[src] - 1 < floor[src]:
                continue
            for dst in sorted(pools):
                g = resolve(f, dst)
                if dst == src or g is None or (dst in wish and not wish[dst].accept):
                    continue
                if dst in wish and wish[dst].max is not None and count[dst] + 1 > wish[dst].max:
                    continue
                cap = accepted[dst][g]
                if cap is not None and cell[(dst, g)] + 1 > cap:
                    continue
                if free[subnet[dst]] - sp.defaults.ip_reserve < 1:
                    continue
                nxt = state[:i] + ((dst, g),) + state[i + 1:]
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append((nxt, depth + 1))
    return None


def final_placement(doc: dict[str, Any], snap: dict[str, Any]) -> dict[str, str]:
    where = {n["metadata"]["name"]: p for p, ns in snap["nodes"].items() for n in ns}
    for s in doc["steps"]:
        for n in s["body"]["migrateNodeNames"]:
            where[n] = s["body"]["toPoolName"]
    return where


def check(snap: dict[str, Any], raw_spec: dict[str, Any], **options: Any) -> dict[str, Any]:
    doc = make_plan(snap, raw_spec, options=PlanOptions(**options)).document
    assert verify_plan(snap, parse_spec(raw_spec), doc) == []
    data: dict[str, Any] = doc.model_dump(mode="json")
    return data


# --- adversarial cases: (snapshot, spec) with a known shape of trouble
def swap_at_max(batch: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    """A and B are both at their max and must swap flavors; C has room to hold a unit in transit."""
    snap = snapshot([pool("pool-a", ["f.a", "f.b"]), pool("pool-b", ["f.a", "f.b"]), pool("pool-c", ["f.a", "f.b"])],
                    {"pool-a": nodes_of("a", 3, "f.a"), "pool-b": nodes_of("b", 3, "f.b"),
                     "pool-c": nodes_of("c", 2, "f.a")})
    sp = spec({"pool-a": {"max": 3, "flavors": {"f.a": 0, "f.b": 3}},
               "pool-b": {"max": 3, "flavors": {"f.a": 3, "f.b": 0}},
               "pool-c": {"target": 2}}, limits={"max_batch_size": batch})
    return snap, sp


def full_subnets_swap() -> tuple[dict[str, Any], dict[str, Any]]:
    """A and B sit on full subnets and must swap one node each; C's subnet has room."""
    snap = snapshot([pool("pool-a", ["f.a", "f.b"], subnet="s1"), pool("pool-b", ["f.a", "f.b"], subnet="s2"),
                     pool("pool-c", ["f.a", "f.b"], subnet="s3")],
                    {"pool-a": nodes_of("a", 3, "f.a"), "pool-b": nodes_of("b", 3, "f.b"),
                     "pool-c": nodes_of("c", 2, "f.a")},
                    subnets={"s1": (10, 10), "s2": (10, 10), "s3": (10, 5)})
    sp = spec({"pool-a": {"flavors": {"f.a": 2, "f.b": 1}}, "pool-b": {"flavors": {"f.a": 1, "f.b": 2}},
               "pool-c": {"target": 2}})
    return snap, sp


def super_node_swap_at_max() -> tuple[dict[str, Any], dict[str, Any]]:
    """A super node must trade places with two nodes of a pool at its max; C holds the super node."""
    sn = [node(f"a-s{i}", "f.a", super_node="spod-1") for i in range(2)]
    snap = snapshot([pool("pool-a", ["f.a", "f.b"]), pool("pool-b", ["f.a", "f.b"]), pool("pool-c", ["f.a"])],
                    {"pool-a": sn + nodes_of("a", 2, "f.b"), "pool-b": nodes_of("b", 4, "f.b"),
                     "pool-c": nodes_of("c", 2, "f.a")})
    sp = spec({"pool-a": {"max": 4, "flavors": {"f.a": 0, "f.b": 4}},
               "pool-b": {"max": 4, "flavors": {"f.a": 2, "f.b": 2}}, "pool-c": {"target": 2}})
    return snap, sp


@pytest.mark.parametrize("batch", [1, 3])
def test_swap_between_pools_at_their_max_uses_minimal_staging(batch: int) -> None:
    snap, sp = swap_at_max(batch)
    doc = check(snap, sp)
    s = doc["summary"]
    assert s["status"] == "OPTIMAL" and s["deviation_after"] == 0
    assert s["staging_moves"] >= 1 and any(step["staging"] for step in doc["steps"])
    assert s["moves"] == bfs_min_moves(snap, sp, final_placement(doc, snap))


def test_full_subnets_swap_through_a_pool_with_room() -> None:
    snap, sp = full_subnets_swap()
    doc = check(snap, sp)
    s = doc["summary"]
    assert s["status"] == "OPTIMAL" and s["deviation_after"] == 0
    assert s["moves"] == bfs_min_moves(snap, sp, final_placement(doc, snap))
    assert s["staging_moves"] == s["moves"] - 2


def test_super_node_is_staged_whole() -> None:
    snap, sp = super_node_swap_at_max()
    doc = check(snap, sp, wave_size=1)
    s = doc["summary"]
    assert s["status"] == "OPTIMAL" and s["deviation_after"] == 0
    hops = [st for st in doc["steps"] if st["staging"]]
    assert hops and all(sorted(h["body"]["migrateNodeNames"]) == ["a-s0", "a-s1"] for h in hops
                        if "a-s0" in h["body"]["migrateNodeNames"])


def test_no_pool_can_hold_a_unit_so_the_swap_is_out_of_reach() -> None:
    snap, sp = swap_at_max()
    snap["pools"] = snap["pools"][:2]
    del snap["nodes"]["pool-c"]
    del sp["pools"]["pool-c"]
    doc = check(snap, sp)
    s = doc["summary"]
    assert s["status"] == "FEASIBLE" and s["moves"] == 0 and s["bound"] == 0
    assert s["deviation_after"] == s["deviation_before"] == 12
    assert any("pool-a" in b or "pool-b" in b for b in s["blocked_by"])
    assert doc["pools"]["pool-a"]["residual"]["limited_by"]


def test_pool_at_floor_and_max_cannot_both_send_and_receive() -> None:
    snap = snapshot([pool("pool-a", ["f.a", "f.b"]), pool("pool-b", ["f.a", "f.b"]), pool("pool-c", ["f.a", "f.b"])],
                    {"pool-a": nodes_of("a", 2, "f.a"), "pool-b": nodes_of("b", 3, "f.b"),
                     "pool-c": nodes_of("c", 3, "f.a")})
    sp = spec({"pool-a": {"max": 2, "flavors": {"f.a": 0, "f.b": 2}}, "pool-b": {"target": 3}})
    doc = check(snap, sp)
    s = doc["summary"]
    assert s["status"] == "FEASIBLE" and s["bound"] == 0 and s["deviation_after"] == 4
    assert any("pool-a" in b for b in s["blocked_by"])


def test_staging_respects_forbidden_cross_cluster_moves() -> None:
    snap, sp = swap_at_max(batch=1)
    for n in snap["nodes"]["pool-c"]:
        n["metadata"]["labels"]["os.modelarts.node/cluster"] = "other"
    for p in ("pool-a", "pool-b"):
        for n in snap["nodes"][p]:
            n["metadata"]["labels"]["os.modelarts.node/cluster"] = "main"
    sp["limits"]["allow_cross_cluster"] = False
    doc = check(snap, sp)
    assert all(st["body"]["fromClusterName"] == st["body"]["toClusterName"] for st in doc["steps"])
    assert doc["summary"]["status"] == "FEASIBLE" and doc["summary"]["moves"] == 0


def test_invalid_current_state_with_no_way_out_exits_3() -> None:
    # pool-a is above its max and must shed, but every other pool's subnet is full and the fix is out of reach.
    snap = snapshot([pool("pool-a", subnet="s1"), pool("pool-b", subnet="s2")],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2)}, subnets={"s1": (10, 4), "s2": (10, 10)})
    with pytest.raises(PlanningError) as err:
        make_plan(snap, spec({"pool-a": {"max": 4}}))
    assert "pool-a" in str(err.value) and err.value.exit_code == 3


# --- waves in every interleaving
def interleavings(n: int) -> list[list[tuple[str, int]]]:
    """All orders of start/finish events of n concurrent steps (each starts before it finishes)."""
    events = [("start", i) for i in range(n)] + [("finish", i) for i in range(n)]
    out = []
    for perm in itertools.permutations(events):
        started: set[int] = set()
        ok = True
        for kind, i in perm:
            if kind == "start":
                started.add(i)
            elif i not in started:
                ok = False
                break
        if ok:
            out.append(list(perm))
    return out


def replay_waves(snap: dict[str, Any], raw_spec: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """Run each wave's steps in every interleaving; return the broken rules (empty: none)."""
    sp = parse_spec(raw_spec)
    pools = {p["metadata"]["name"]: p for p in snap["pools"]}
    caps = {p: {r["flavor"]: r.get("maxCount") for r in v["spec"]["resources"]} for p, v in pools.items()}
    subnet = {p: v["spec"]["network"].get("subnetId") for p, v in pools.items()}
    wish = sp.pools
    floor = {p: max(2, sp.defaults.min_nodes, (wish[p].min or 0) if p in wish else 0) for p in pools}
    count = Counter({p: len(ns) for p, ns in snap["nodes"].items()})
    cell = Counter((p, n["spec"]["flavor"]) for p, ns in snap["nodes"].items() for n in ns)
    flavor = {n["metadata"]["name"]: n["spec"]["flavor"] for ns in snap["nodes"].values() for n in ns}
    free = Counter({s["networkId"]: s["totalIps"] - s["usedIps"] for n in snap["networks"] for s in n["subnets"]})
    reserve, ips = sp.defaults.ip_reserve, sp.defaults.ips_per_node
    bad: list[str] = []
    waves: dict[int, list[dict[str, Any]]] = {}
    for s in doc["steps"]:
        waves.setdefault(s["wave"], []).append(s)
    for w in sorted(waves):
        steps = waves[w]
        for order in interleavings(len(steps)):
            c, ce, fr = Counter(count), Counter(cell), Counter(free)
            for kind, i in order:
                s = steps[i]
                src, dst = s["pool_name"], s["body"]["toPoolName"]
                names, g = s["body"]["migrateNodeNames"], s["body"]["resourceSpec"]["flavor"]
                k = len(names)
                if kind == "start":
                    c[src] -= k
                    for n in names:
                        ce[(src, flavor[n])] -= 1
                    fr[subnet[dst]] -= k * ips
                    if c[src] < floor[src]:
                        bad.append(f"wave {w}: {src} below floor")
                    if fr[subnet[dst]] < reserve:
                        bad.append(f"wave {w}: subnet {subnet[dst]} below reserve")
                else:
                    c[dst] += k
                    ce[(dst, g)] += k
                    fr[subnet[src]] += k * ips
                    mx = wish[dst].max if dst in wish else None
                    if mx is not None and c[dst] > mx:
                        bad.append(f"wave {w}: {dst} above max")
                    cap = caps[dst].get(g)
                    if cap is not None and ce[(dst, g)] > cap:
                        bad.append(f"wave {w}: {dst} above maxCount")
        for s in steps:  # the state after the whole wave
            src, dst, k = s["pool_name"], s["body"]["toPoolName"], len(s["body"]["migrateNodeNames"])
            count[src] -= k
            count[dst] += k
            for n in s["body"]["migrateNodeNames"]:
                cell[(src, flavor[n])] -= 1
                flavor[n] = s["body"]["resourceSpec"]["flavor"]
                cell[(dst, flavor[n])] += 1
            free[subnet[dst]] -= k * ips
            free[subnet[src]] += k * ips
    return bad


@pytest.mark.parametrize("case", [swap_at_max, full_subnets_swap, super_node_swap_at_max])
def test_adversarial_waves_are_safe_in_every_interleaving(case: Any) -> None:
    snap, sp = case()
    doc = check(snap, sp, wave_size=3)
    assert replay_waves(snap, sp, doc) == []


@settings(max_examples=80)
@given(instances())
def test_random_waves_are_safe_in_every_interleaving(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snap, sp = case
    try:
        doc = make_plan(snap, sp, options=PlanOptions(wave_size=3, per_pool=3)).document.model_dump(mode="json")
    except PlanningError:
        return
    assert replay_waves(snap, sp, doc) == []


def test_an_unreachable_first_placement_with_an_equal_reachable_one_is_optimal_and_not_news(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """PRODUCT §5: the first placement tried is unreachable (its one move would need a free address in a full
    subnet in flight, and no pool can stage it), the reachable one found next has the same (D, M) = (0, 1):
    the plan says OPTIMAL and names nothing in blocked_by."""
    import planner.planning.pipeline as pipeline
    from solvers.result import FlowResult, Status

    snap = snapshot([pool("pool-w1", subnet="full"), pool("pool-w2", subnet="roomy"), pool("pool-x", subnet="full")],
                    {"pool-w1": nodes_of("w1", 2), "pool-w2": nodes_of("w2", 2), "pool-x": nodes_of("x", 3)},
                    subnets={"full": (5, 5), "roomy": (50, 2)})
    raw_spec = spec({"pool-x": {"target": 2}, "pool-w2": {"give": False}})
    real = pipeline.solve_flow
    calls: list[FlowResult] = []

    def first_unreachable(problem: Any, params: Any = None, restrictions: Any = None) -> FlowResult:
        if calls:
            calls.append(real(problem, params, restrictions))
            return calls[-1]
        # pools are indexed in id order: pool-w1 0, pool-w2 1, pool-x 2; send x's unit to w1 (unreachable)
        out = tuple(1 if c.pool == 2 else 0 for c in problem.classes)
        into = tuple(1 if a.pool == 0 else 0 for a in problem.arrivals)
        calls.append(FlowResult(Status.OPTIMAL, out, into, 0, 1, 0, 0.0, "cpsat"))
        return calls[-1]

    monkeypatch.setattr(pipeline, "solve_flow", first_unreachable)
    doc = pipeline.make_plan(snap, raw_spec).document
    assert len(calls) == 2  # the first placement was tried, found unreachable, and the model solved again
    assert (doc.summary.status, doc.summary.deviation_after, doc.summary.moves) == ("OPTIMAL", 0, 1)
    assert doc.summary.blocked_by == [] and doc.summary.bound == 0
    assert [(s.source, s.target) for s in doc.steps] == [("pool-x", "pool-w2")]
    assert verify_plan(snap, parse_spec(raw_spec), doc) == []


def test_a_move_inside_a_full_subnet_runs_before_the_arrivals_that_would_take_its_room() -> None:
    # s1 has room for 3 more nodes: pool-a's 3 arrive there for good, and pool-d -> pool-b/e (inside s1) holds a
    # second address while it runs. Request order alone runs pool-a's arrivals first and leaves no room for it
    # (found on the 10k default family, seed 4, without cross-cluster moves); the move inside s1 must go first.
    snap = snapshot([pool("pool-a", subnet="s2"), pool("pool-b"), pool("pool-d"), pool("pool-e")],
                    {"pool-a": nodes_of("a", 5), "pool-b": nodes_of("b", 2), "pool-d": nodes_of("d", 4),
                     "pool-e": nodes_of("e", 2)},
                    subnets={"s1": (20, 17), "s2": (20, 5)})
    sp = spec({"pool-a": {"target": 2}, "pool-b": {"target": 5}, "pool-d": {"target": 3}, "pool-e": {"target": 3}})
    doc = check(snap, sp)
    s = doc["summary"]
    assert s["status"] == "OPTIMAL" and s["deviation_after"] == 0 and s["blocked_by"] == []
    assert s["staging_moves"] == 0 and s["moves"] == 4 == bfs_min_moves(snap, sp, final_placement(doc, snap))
    inside = [i for i, st in enumerate(doc["steps"]) if st["pool_name"] == "pool-d"]
    arrivals = [i for i, st in enumerate(doc["steps"]) if st["pool_name"] == "pool-a"]
    assert inside and arrivals and max(inside) < min(arrivals)


def test_arrivals_leave_a_full_subnet_the_room_a_move_inside_it_needs_later() -> None:
    # s1 has room for pool-a's 2 arriving nodes and nothing more. pool-d -> pool-e (inside s1) can only run once
    # pool-e (at its max) has sent a node to pool-f, and then needs a second address for a moment: the arrivals
    # must leave it one (found on the 10k hard family, seed 3, without cross-cluster moves). No pool can stage.
    snap = snapshot([pool("pool-a", ["f.c"], subnet="s2"), pool("pool-b", ["f.c"]), pool("pool-d", ["f.a"]),
                     pool("pool-e", ["f.a", "f.b"]), pool("pool-f", ["f.a", "f.b"])],
                    {"pool-a": nodes_of("a", 4, "f.c"), "pool-b": nodes_of("b", 2, "f.c"),
                     "pool-d": nodes_of("d", 3, "f.a"), "pool-e": nodes_of("e", 3, "f.b"),
                     "pool-f": nodes_of("f", 2, "f.a")},
                    subnets={"s1": (20, 18), "s2": (20, 4)})
    sp = spec({"pool-a": {"target": 2}, "pool-b": {"target": 4}, "pool-d": {"target": 2},
               "pool-e": {"max": 3, "flavors": {"f.a": 1, "f.b": 2}}, "pool-f": {"target": 3}})
    doc = check(snap, sp, wave_size=1)
    s = doc["summary"]
    assert s["status"] == "OPTIMAL" and s["deviation_after"] == 0 and s["blocked_by"] == []
    assert s["staging_moves"] == 0 and s["moves"] == 4
    order = [(st["pool_name"], st["body"]["toPoolName"], len(st["body"]["migrateNodeNames"])) for st in doc["steps"]]
    assert order.index(("pool-e", "pool-f", 1)) < order.index(("pool-d", "pool-e", 1))
    assert [n for src, _, n in order if src == "pool-a"] == [1, 1]  # one arrival waits for the move inside s1
