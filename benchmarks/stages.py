"""The work around the solve, stage by stage, and two source trees side by side (issue 16: "≤ 1.2 s at 100k").

    python -m benchmarks.stages --inventory X --spec Y [--repeat 5] [--tree A --tree B ...] [--json out.json]

Each repeat runs in a fresh child process (nothing warm, like a real `poolshift plan`), which calls the stages
of `make_plan` one by one under a paused collector and times each with `time.perf_counter()`:

| stage | what |
|---|---|
| imports | importing the planning pipeline |
| read snapshot | the file read, parsed and its depth checked (`read_snapshot_file`) |
| inventory | validation and derived facts (`build_inventory`) |
| spec | the spec read and parsed |
| problem | the solvers' integer problem (`build_problem`) |
| solve | every solve (reachability re-solves included) |
| order | requests, safe order, staging, waves |
| fingerprint | the inventory fingerprint the plan records |
| document | the rest of the plan document (`build_document`, sealed) |
| verify | the independent verifier (`verify_plan`) |
| write plan | the canonical JSON written atomically (`write_plan`) |

With several `--tree` folders (each a checkout of this project: its `planner` and `solvers` are imported from
there), the children alternate tree by tree (A B A B …, so a drift of the machine's speed hits every tree alike)
and the table shows each tree's medians side by side with the ratio to the first. The child is this file run as
a script, so a tree need not contain it.
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

STAGES = ("imports", "read snapshot", "inventory", "spec", "problem", "solve", "order", "fingerprint", "document",
          "verify", "write plan")
AROUND = tuple(s for s in STAGES if s not in ("imports", "solve"))


def stages_once(inventory: Path, spec: Path, workers: int) -> dict[str, Any]:
    """One plan, stage by stage, in this process (the same calls `make_plan` makes, in the same order)."""
    t0 = time.perf_counter()
    from planner.inventory import build_inventory, read_snapshot_file
    from planner.planfile import write_plan
    from planner.planning import pipeline
    from planner.planning.document import Settings, build_document
    from planner.planning.order import assign_waves
    from planner.planning.problem import build_problem
    from planner.spec import parse_spec, read_spec_file
    from planner.verify import verify_plan

    out: dict[str, Any] = {"imports": time.perf_counter() - t0}
    options = pipeline.PlanOptions(workers=workers)
    marks = [time.perf_counter()]

    def lap(name: str) -> None:
        marks.append(time.perf_counter())
        out[name] = marks[-1] - marks[-2]

    with pipeline.gc_paused():
        raw = read_snapshot_file(inventory)
        lap("read snapshot")
        inv = build_inventory(raw, source=str(inventory))
        lap("inventory")
        spec_model = parse_spec(read_spec_file(spec), source=str(spec))
        lap("spec")
        problem, ctx = build_problem(inv, spec_model, spec_source=str(spec))
        lap("problem")
        timings: dict[str, float] = {}
        result, ordered, blocked_by = pipeline._reachable_plan(problem, ctx, options, spec_model.limits, timings)
        steps = assign_waves(ordered, ctx.rules, max_parallel=options.wave_size, per_pool=options.per_pool)
        lap("order")
        out["solve"] = timings["solve"]
        out["order"] -= timings["solve"]
        _ = inv.fingerprint
        lap("fingerprint")
        settings = Settings(options.backend, options.workers, options.seed, options.time_limit)
        document = build_document(inv, spec_model, problem, ctx, result, steps, settings, blocked_by)
        lap("document")
        problems = verify_plan(inv.raw, spec_model, document)
        lap("verify")
        if problems:
            raise SystemExit(f"stages: the verifier rejected the plan: {problems[:3]}")
        with tempfile.TemporaryDirectory() as tmp:
            write_plan(Path(tmp) / "plan.json", document)
            lap("write plan")
    out["around"] = sum(out[s] for s in AROUND)
    out["status"] = document.summary.status
    out["moves"] = document.summary.moves
    out["deviation"] = document.summary.deviation_after
    return out


def run_trees(trees: Sequence[Path], inventory: Path, spec: Path, repeat: int, workers: int) -> dict[str, Any]:
    """`repeat` children per tree, alternating tree by tree; every run and each tree's medians."""
    runs: dict[str, list[dict[str, Any]]] = {str(t): [] for t in trees}
    for _ in range(repeat):
        for tree in trees:
            env = dict(os.environ, PYTHONPATH=str(tree))
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--inventory",
                                   str(inventory), "--spec", str(spec), "--workers", str(workers)],
                                  capture_output=True, text=True, check=False, env=env, cwd=tree, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"stages child in {tree} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
            runs[str(tree)].append(json.loads(done.stdout.strip().splitlines()[-1]))
    medians = {tree: {s: statistics.median(float(r[s]) for r in rs) for s in (*STAGES, "around")}
               for tree, rs in runs.items()}
    outcome = {tree: sorted({f"{r['status']} moves={r['moves']} deviation={r['deviation']}" for r in rs})
               for tree, rs in runs.items()}
    return {"inventory": str(inventory), "spec": str(spec), "repeat": repeat, "median": medians,
            "outcome": outcome, "runs": runs}


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
