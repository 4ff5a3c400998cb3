"""Where the time of one `poolshift plan` goes, stage by stage; one tree, or several side by side.

    python -m benchmarks.stages --inventory X --spec Y [--repeat 5] [--workers 1] [--tree A --tree B ...] [--json F]

Each repeat runs in a fresh child process (nothing warm, like a real `poolshift plan`), which imports the
planner, reads the files and calls `make_plan` under a paused collector, then writes the plan, and times:

| stage | what |
|---|---|
| imports | importing the planning pipeline, the file readers and the plan writer |
| read snapshot | the file read, parsed and its depth checked (`read_snapshot_file`) |
| inventory | validation and derived facts (`make_plan`'s own `Plan.timings`, as every stage down to verify) |
| spec | the spec file read (timed here) and parsed |
| problem | the solvers' integer problem |
| solve | every solve (reachability re-solves included) |
| order | requests, safe order, staging, waves |
| fingerprint | the inventory fingerprint the plan records (since session 22: the wait for it and the verifier's |
| | reading of the snapshot, both taken in a thread beside the solve) |
| document | the rest of the plan document (sealed) |
| verify | the independent verifier (since session 22: its replay of the plan) |
| write plan | the canonical JSON written atomically (`write_plan`) |

The stages come from the planner's public API only (`make_plan` and the timings it records), so a checkout whose
pipeline is organised differently inside still runs. With several `--tree` folders (each a checkout of this
project: its `planner` and `solvers` are imported from there), the children alternate tree by tree (A B A B …, so
a drift of the machine's speed hits every tree alike) and the table shows each tree's medians side by side with
the ratio to the first. The child is this file run as a script, so a tree need not contain it. The runner
(`benchmarks.run --profile`) and the whatif budget (`benchmarks.whatif`) read their stages from `profile` here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PLAN_STAGES = ("inventory", "spec", "problem", "solve", "order", "fingerprint", "document", "verify")  # Plan.timings
STAGES = ("imports", "read snapshot", *PLAN_STAGES, "other", "write plan")
AROUND = tuple(s for s in STAGES if s not in ("imports", "solve"))


def stages_once(inventory: Path, spec: Path, workers: int) -> dict[str, Any]:
    """One plan, stage by stage, in this process."""
    t0 = time.perf_counter()
    from planner.inventory import read_snapshot_file
    from planner.planfile import write_plan
    from planner.planning import PlanOptions, gc_paused, make_plan
    from planner.spec import read_spec_file

    out: dict[str, Any] = {"imports": time.perf_counter() - t0}
    with gc_paused():
        t1 = time.perf_counter()
        raw = read_snapshot_file(inventory)
        t2 = time.perf_counter()
        spec_data = read_spec_file(spec)
        t3 = time.perf_counter()
        plan = make_plan(raw, spec_data, options=PlanOptions(workers=workers), snapshot_source=str(inventory),
                         spec_source=str(spec))
        t4 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            write_plan(Path(tmp) / "plan.json", plan.document)
            t5 = time.perf_counter()
    timed = {stage: float(plan.timings.get(stage, 0.0)) for stage in PLAN_STAGES}
    out.update({"read snapshot": t2 - t1, **timed, "write plan": t5 - t4})
    out["spec"] += t3 - t2
    out["other"] = max(0.0, (t4 - t3) - sum(timed.values()))  # make_plan's time outside its stages
    out["around"] = sum(out[s] for s in AROUND)
    out["total"] = sum(out[s] for s in STAGES)
    summary = plan.document.summary
    out.update(status=summary.status, moves=summary.moves, deviation=summary.deviation_after)
    return out


def run_trees(trees: Sequence[Path], inventory: Path, spec: Path, repeat: int, workers: int,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """`repeat` children per tree, alternating tree by tree; every run and each tree's medians. Each child runs in
    its tree with the tree first on PYTHONPATH (ahead of `env`'s, default this process's environment)."""
    base = dict(os.environ if env is None else env)
    runs: dict[str, list[dict[str, Any]]] = {str(t): [] for t in trees}
    for _ in range(repeat):
        for tree in trees:
            path = os.pathsep.join(p for p in (str(tree), base.get("PYTHONPATH", "")) if p)
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--inventory",
                                   str(inventory), "--spec", str(spec), "--workers", str(workers)],
                                  capture_output=True, text=True, check=False, env={**base, "PYTHONPATH": path},
                                  cwd=tree, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"stages child in {tree} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
            runs[str(tree)].append(json.loads(done.stdout.strip().splitlines()[-1]))
    medians = {tree: {s: statistics.median(float(r[s]) for r in rs) for s in (*STAGES, "around", "total")}
               for tree, rs in runs.items()}
    outcome = {tree: sorted({f"{r['status']} moves={r['moves']} deviation={r['deviation']}" for r in rs})
               for tree, rs in runs.items()}
    return {"inventory": str(inventory), "spec": str(spec), "repeat": repeat, "workers": workers,
            "median": medians, "outcome": outcome, "runs": runs}


def profile(inventory: Path, spec: Path, repeat: int = 3, workers: int = 1, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> dict[str, Any]:
    """One tree's stage profile (`cwd`, default this project; the runner passes its code snapshot): the median of
    every stage, "around" (the work around the solve) and "total" (all stages), the statuses and every run."""
    tree = cwd or Path(__file__).resolve().parent.parent
    result = run_trees([tree], inventory, spec, repeat, workers, env=env)
    runs = result["runs"][str(tree)]
    return {"inventory": str(inventory), "spec": str(spec), "workers": workers,
            "median": {s: round(v, 3) for s, v in result["median"][str(tree)].items()},
            "status": sorted({str(r["status"]) for r in runs}), "runs": runs}


def format_profile(result: dict[str, Any]) -> str:
    """A Markdown table of one profile's median stages, with each stage's share of the total."""
    med = result["median"]
    total = med["total"] or 1.0
    lines = ["| stage | median s | share |", "|---|---|---|"]
    lines += [f"| {s} | {med[s]:.3f} | {100 * med[s] / total:.0f}% |" for s in STAGES]
    lines.append(f"| **total** (in process, start-up of the interpreter not included) | {total:.3f} | 100% |")
    lines.append(f"| work around the solve (all but imports and solve) | {med['around']:.3f} | "
                 f"{100 * med['around'] / total:.0f}% |")
    return "\n".join(lines)


def format_table(result: dict[str, Any]) -> str:
    """A Markdown table of each tree's median stages, with the ratio of each later tree to the first."""
    trees = list(result["median"])
    first = result["median"][trees[0]]
    head = "| stage | " + " | ".join(f"`{t}` s" for t in trees)
    head += "".join(f" | ratio {k + 1}/1" for k in range(1, len(trees))) + " |"
    lines = [head, "|---" * (1 + 2 * len(trees) - 1) + "|"]
    for stage in (*STAGES, "around"):
        label = "**work around the solve** (all but imports and solve)" if stage == "around" else stage
        cells = [f"{result['median'][t][stage]:.3f}" for t in trees]
        ratios = [f"{result['median'][t][stage] / first[stage]:.2f}" if first[stage] > 0 else "-" for t in trees[1:]]
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stages", description=__doc__.split("\n")[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tree", type=Path, action="append", default=None,
                        help="a checkout to import the planner from (repeat to compare; default: this project)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(stages_once(args.inventory.resolve(), args.spec.resolve(), args.workers)))
        return 0
    trees = [t.resolve() for t in (args.tree or [Path(__file__).resolve().parent.parent])]
    result = run_trees(trees, args.inventory.resolve(), args.spec.resolve(), args.repeat, args.workers)
    print(format_table(result))
    for tree, outcome in result["outcome"].items():
        print(f"{tree}: {'; '.join(outcome)}", file=sys.stderr)
    print(f"{args.repeat} runs per tree, alternating, medians", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
