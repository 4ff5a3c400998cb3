"""Ordering speed: at least 10,000 moved nodes put in a safe order and grouped into waves.

`python -m benchmarks.order_speed [--nodes 100000] [--pools 1000] [--seed 3]` generates an inventory,
then sets its targets so that roughly a fifth of the pools must shed two thirds of their nodes and as many
must grow. It solves once, then times the ordering stage by itself: requests, safe order with staging,
and waves. It prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from benchmarks.generate import generate
from planner.inventory import build_inventory
from planner.planning.order import assign_waves, group_requests
from planner.planning.placement import choose_moves
from planner.planning.problem import build_problem
from planner.planning.staging import order_with_staging
from planner.spec import parse_spec
from solvers.flow import solve_flow


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--pools", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--batch", type=int, default=20, help="max_batch_size (1: one request per node)")
    args = ap.parse_args()
    gc.disable()
    snapshot, spec = generate(args.nodes, args.pools, seed=args.seed)
    counts = {p: len(ns) for p, ns in snapshot["nodes"].items()}
    names = sorted(counts)
    wishes: dict[str, dict[str, int]] = {}
    for i, name in enumerate(names):
        if i % 5 == 0:
            wishes[name] = {"target": max(2, counts[name] // 3)}
        elif i % 5 == 1:
            wishes[name] = {"target": counts[name] + counts[names[i - 1]] * 2 // 3}
    spec = dict(spec, pools=wishes, limits=dict(spec.get("limits", {}), max_moves=None, max_batch_size=args.batch))
    spec["defaults"] = dict(spec.get("defaults", {}), ip_reserve=0)
    for net in snapshot["networks"]:
        for sub in net["subnets"]:
            sub["totalIps"] = max(sub["totalIps"], sub["usedIps"] + args.nodes)
    inv = build_inventory(snapshot)
    problem, ctx = build_problem(inv, parse_spec(spec))
    result = solve_flow(problem)
    t0 = time.perf_counter()
    moves = choose_moves(problem, ctx, result)
    t1 = time.perf_counter()
    steps = group_requests(moves, args.batch)
    staged = order_with_staging(steps, ctx.rules, allow_cross_cluster=True)
    t2 = time.perf_counter()
    waves = assign_waves(staged.ordered, ctx.rules, max_parallel=10, per_pool=2)
    t3 = time.perf_counter()
    print(json.dumps({
        "nodes": args.nodes, "pools": args.pools, "batch": args.batch, "status": str(result.status),
        "moved_nodes": sum(s.size for s in staged.ordered), "requests": len(staged.ordered),
        "blocked": len(staged.blocked), "waves": max((s.wave for s in waves), default=0),
        "choose_s": round(t1 - t0, 3), "order_s": round(t2 - t1, 3), "waves_s": round(t3 - t2, 3),
        "order_and_waves_s": round(t3 - t1, 3),
    }))


if __name__ == "__main__":
    main()
