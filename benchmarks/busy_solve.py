"""The solver alone on busy nodes (PRODUCT §9): the same class problem under each policy, side by side.

    python -m benchmarks.busy_solve [--families busy,hard] [--sizes 10k,100k] [--seeds 1] [--repeat 3] [--weighted]
                                    [--noface] [--novicinity] [--nobranching]

`poolshift plan` reads the snapshot's `workloads` itself (time it with `benchmarks.run --busy-nodes ...`); this
module isolates the solve. It builds the planner's problem once, from the instance's spec with
`busy_nodes: ignore` (a spec without a `workloads:` section means `keep`), marks the busy
nodes by the PRODUCT §9 rule (listed by a Running workload, or an accelerator in use), derives from it:

| mode | problem |
|---|---|
| ignore | today's problem: busy state not used |
| keep | busy units are not movable: each class keeps only its idle units |
| drain | each class split into an idle and a busy class of the same commodity; objective (D, B, M) |
| drain-weighted | (`--weighted`) drain as one weighted sum `Wd·D + Wb·B + M` (`SolveParams(staged=False)`) |
| drain-noface | (`--noface`) drain without the search on the LP's optimal face (`SolveParams(face=False)`) |
| drain-novicinity | (`--novicinity`) drain without the searches near the LP optimum (`SolveParams(vicinity=False)`) |
| drain-nobranching | (`--nobranching`) drain with every window proven by CP-SAT (`SolveParams(branching=False)`) |

and times `solve_flow` on each in one process (the problem is built once; medians of `--repeat` solves).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.families import busy_node_names


def split_problems(problem: Any, context: Any, busy: set[str]) -> dict[str, Any]:
    """The ignore / keep / drain problems (see the module docstring)."""
    keep, drain = [], []
    for cls, units in zip(problem.classes, context.class_units, strict=True):
        n_busy = sum(1 for u in units if any(n in busy for n in context.unit_nodes[u]))
        idle = cls.count - n_busy
        if idle:
            keep.append(replace(cls, count=idle))
            drain.append(replace(cls, count=idle))
        if n_busy:
            drain.append(replace(cls, count=n_busy, busy=True))
    return {"ignore": problem, "keep": replace(problem, classes=tuple(keep)),
            "drain": replace(problem, classes=tuple(drain))}


def measure(inventory: Path, spec: Path, repeat: int, weighted: bool = False, noface: bool = False,
            novicinity: bool = False, nobranching: bool = False) -> dict[str, Any]:
    """Solve each mode's problem `repeat` times, the modes alternating (A B C A B C ...); medians."""
    from benchmarks.baseline import _load_problem
    from solvers.flow import solve_flow
    from solvers.params import SolveParams

    snapshot = json.loads(inventory.read_text(encoding="utf-8"))
    busy = busy_node_names(snapshot)
    problem, context = _load_problem(inventory, spec)
    problems = split_problems(problem, context, busy)
    modes = [(mode, p, SolveParams()) for mode, p in problems.items()]
    if weighted:
        modes.append(("drain-weighted", problems["drain"], SolveParams(staged=False)))
    if noface:
        modes.append(("drain-noface", problems["drain"], SolveParams(face=False)))
    if novicinity:
        modes.append(("drain-novicinity", problems["drain"], SolveParams(vicinity=False)))
    if nobranching:
        modes.append(("drain-nobranching", problems["drain"], SolveParams(branching=False)))
    runs: dict[str, list[float]] = {mode: [] for mode, _, _ in modes}
    out: dict[str, Any] = {"busy_nodes": len(busy)}
    for _ in range(repeat):
        for mode, p, params in modes:
            t = time.perf_counter()
            r = solve_flow(p, params)
            runs[mode].append(time.perf_counter() - t)
            out[mode] = {"seconds": round(statistics.median(runs[mode]), 3), "status": str(r.status),
                         "D": r.deviation, "B": r.busy_moves, "M": r.moves,
                         "movable_units": sum(c.count for c in p.classes), "detail": r.detail}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks import instances

    parser = argparse.ArgumentParser(prog="python -m benchmarks.busy_solve", description=__doc__.split("\n")[0])
    instances.add_instance_options(parser, families="busy,hard", sizes="10k,100k", seeds="1", repeat=3)
    parser.add_argument("--weighted", action="store_true", help="also solve drain as one weighted sum")
    parser.add_argument("--noface", action="store_true", help="also solve drain without the face search")
    parser.add_argument("--novicinity", action="store_true", help="also solve drain without the vicinity search")
    parser.add_argument("--nobranching", action="store_true", help="also solve drain with CP-SAT's proofs only")
    parser.add_argument("--details", action="store_true", help="print each mode's solver steps (last solve)")
    args = parser.parse_args(argv)
    lines = ["| instance | busy nodes | mode | movable units | status | D | B | M | solve s (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for family in instances.families_of(parser, args.families):
        for size in (instances.parse_size(s) for s in args.sizes.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                # the `ignore` spec: its problem has every busy unit movable, which split_problems splits
                inventory, spec, _ = instances.ensure_instance(size, seed, True, args.data_dir.resolve(), False,
                                                         lambda m: print(m, file=sys.stderr), family, "ignore")
                result = measure(inventory, spec, args.repeat, args.weighted, args.noface, args.novicinity,
                                 args.nobranching)
                modes = ["ignore", "keep", "drain"] + ["drain-weighted"] * args.weighted
                modes += ["drain-noface"] * args.noface + ["drain-novicinity"] * args.novicinity
                modes += ["drain-nobranching"] * args.nobranching
                for mode in modes:
                    r = result[mode]
                    lines.append(f"| {family}-{size.label}-s{seed} | {result['busy_nodes']} | {mode} | "
                                 f"{r['movable_units']} | {r['status']} | {r['D']} | {r['B']} | {r['M']} | "
                                 f"{r['seconds']} |")
                    if args.details:
                        print(f"{family}-{size.label}-s{seed} {mode}: {r['detail']}", file=sys.stderr, flush=True)
                print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
