"""Stage profile of one `poolshift plan`: where the time goes between reading the files and writing the plan.

    python -m benchmarks.profile --inventory X --spec Y [--repeat 3] [--workers 1] [--json out.json]

Each repeat runs in a fresh child process (like a real `poolshift plan`, nothing warm), which times with
`time.perf_counter()`:

| stage | what |
|---|---|
| imports | importing the planner (what `poolshift plan` imports before it reads a file) |
| read snapshot | the snapshot file read and parsed (`read_snapshot_file`) |
| read spec | the spec file read and parsed |
| model input | derived facts and the solver's integer problem (`Plan.timings["model_input"]`) |
| solve | every solve, reachability re-solves included (`Plan.timings["solve"]`) |
| order | requests, safe order, staging and waves (`Plan.timings["order"]`) |
| verify | the independent verifier (`Plan.timings["verify"]`) |
| document | the rest of `make_plan`: the plan document, residual report (its total minus the stages above) |
| write plan | the canonical JSON written atomically |

The planner's library API is found where it lives (`planner.pipeline`, or `planner.planning.pipeline`
after the planning core moves); the rest of this module does not depend on it. The parent prints the
median of each stage over the repeats, and with `--json` writes every run.
"""

from __future__ import annotations

import argparse
import importlib
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

STAGES = ("imports", "read snapshot", "read spec", "model input", "solve", "order", "verify", "document",
          "write plan")


def _first(candidates: Sequence[str], name: str) -> Any:
    """Attribute `name` of the first importable module among `candidates`."""
    for module in candidates:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise SystemExit(f"profile: cannot find {name} in {', '.join(candidates)}")


def profile_once(inventory: Path, spec: Path, workers: int) -> dict[str, Any]:
    """One plan, stage by stage (runs in the current process)."""
    t0 = time.perf_counter()
    pipeline = ("planner.planning.pipeline", "planner.pipeline")
    make_plan = _first(pipeline, "make_plan")
    plan_options = _first(pipeline, "PlanOptions")
    gc_paused = _first(pipeline, "gc_paused")
    read_snapshot = _first(("planner.inventory",), "read_snapshot_file")
    read_spec = _first(("planner.spec",), "read_spec_file")
    write_plan = _first(("planner.planfile", "planner.plan_file"), "write_plan")
    stages: dict[str, float] = {"imports": time.perf_counter() - t0}
    with gc_paused():
        t1 = time.perf_counter()
        snapshot = read_snapshot(inventory)
        t2 = time.perf_counter()
        spec_data = read_spec(spec)
        t3 = time.perf_counter()
        plan = make_plan(snapshot, spec_data, options=plan_options(workers=workers),
                         snapshot_source=str(inventory), spec_source=str(spec))
        t4 = time.perf_counter()
    stages["read snapshot"] = t2 - t1
    stages["read spec"] = t3 - t2
    timings = dict(plan.timings)
    for key, stage in (("model_input", "model input"), ("solve", "solve"), ("order", "order"),
                       ("verify", "verify")):
        stages[stage] = float(timings.get(key, 0.0))
    stages["document"] = max(0.0, (t4 - t3) - sum(float(v) for v in timings.values()))
    with tempfile.TemporaryDirectory() as tmp:
        t5 = time.perf_counter()
        write_plan(Path(tmp) / "plan.json", plan.document)
        stages["write plan"] = time.perf_counter() - t5
    stages["total"] = sum(stages[s] for s in STAGES)
    document = plan.document  # a dict, or (after the planning core moved) a typed document
    status = document["summary"]["status"] if isinstance(document, dict) else document.summary.status
    return {**stages, "status": str(status)}


def profile(inventory: Path, spec: Path, repeat: int = 3, workers: int = 1,
            env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """`repeat` child processes; the median of every stage and all the runs."""
    runs: list[dict[str, Any]] = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-m", "benchmarks.profile", "--child", "--inventory", str(inventory),
                               "--spec", str(spec), "--workers", str(workers)],
                              capture_output=True, text=True, check=False, env=env, cwd=cwd, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"profile child failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    medians = {s: round(statistics.median(float(r[s]) for r in runs), 3) for s in (*STAGES, "total")}
    return {"inventory": str(inventory), "spec": str(spec), "workers": workers, "median": medians,
            "status": sorted({str(r["status"]) for r in runs}), "runs": runs}


def format_profile(result: dict[str, Any]) -> str:
    """A Markdown table of the median stages, with each stage's share of the total."""
    med = result["median"]
    total = med["total"] or 1.0
    lines = ["| stage | median s | share |", "|---|---|---|"]
    lines += [f"| {s} | {med[s]:.3f} | {100 * med[s] / total:.0f}% |" for s in STAGES]
    around = total - med["solve"] - med["imports"]
    lines.append(f"| **total** (in process, start-up of the interpreter not included) | {total:.3f} | 100% |")
    lines.append(f"| work around the solve (all but imports and solve) | {around:.3f} | {100 * around / total:.0f}% |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(profile_once(args.inventory.resolve(), args.spec.resolve(), args.workers)))
        return 0
    env = dict(os.environ)
    result = profile(args.inventory.resolve(), args.spec.resolve(), args.repeat, args.workers, env=env)
    print(format_profile(result))
    print(f"status: {', '.join(result['status'])}; {args.repeat} runs, medians", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
