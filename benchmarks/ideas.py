"""Solver-only side-by-side measurements behind the design decisions of solvers/flow.py (RESULTS.md).

    python -m benchmarks.ideas [--families all] [--sizes 10k,100k] [--seeds 1,2] [--repeat 3]
                               [--cross-cluster on|off|both] [--busy-nodes none,keep,drain,ignore]
                               [--variants reference,cpsat,cpsat+cuts,...] [--reference COMMIT]
                               [--data-dir DIR] [--markdown out.md] [--json out.json]

Every variant solves the same class-level problem (`load_problem` of the planner under test; the reference
variant loads it with the reference commit's planner). Each (instance, variant) runs in its own child
process, which loads the problem once and times `solve_flow` `--repeat` times in a row (the median is
reported); the order of the variants rotates from instance to instance so that a change of load on the
shared machine does not always hit the same one. `--cross-cluster` picks the instances' cross-cluster setting (as
`benchmarks.run`), and `--busy-nodes` the specs of the busy families (busy, hard): `none` is the family's own spec,
`keep`/`drain`/`ignore` the spec with that `workloads:` section; the other families take their own spec only.
With `--reference COMMIT`, `reference` is that commit's solver with its defaults: the code before a change.

| variant | what |
|---|---|
| `reference` | the solver of commit aa80520: CP-SAT on the model as it was (`--workers 1`) |
| `reference-w2` | the same with `--workers 2` |
| `cpsat` | today's model (subnet rows divided by ips, the move bound computed once), CP-SAT alone |
| `cpsat+cuts` | plus the lattice cuts |
| `cpsat+cuts+lp` | plus the exact LP bound, CP-SAT searching with the objective restricted to it, CP-SAT proofs |
| `scip+lp` | the LP bound, SCIP searching (no cuts), CP-SAT proofs |
| `scip+cuts+lp` | the LP bound and the cuts, SCIP searching, CP-SAT proofs |
| `auto` | the default: CP-SAT with the cuts below 3,000 variables, `scip+cuts+lp` above |
| `auto-w2` | the default with `--workers 2` |
| `auto-noface` | the default without the search on the LP's optimal face (`SolveParams(face=False)`) |
| `auto-novicinity` | the default without the searches near the LP optimum (`SolveParams(vicinity=False)`) |
| `auto-nowindow` | the default without the one-stage solve's window search (`SolveParams(window=False)`) |
| `auto-scipface` | the default with SCIP, not CP-SAT, on the one-stage solve's LP face (`exact_face=False`) |
| `auto-presolve3` | the default with CP-SAT's own 3 presolve rounds on the LP face (`presolve_rounds=3`) |
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import measure as ms
from benchmarks import report
from benchmarks.generate import BUSY_POLICIES

VARIANTS: dict[str, tuple[bool, dict[str, Any]]] = {  # name -> (reference code?, SolveParams keywords)
    "reference": (True, {}),
    "reference-w2": (True, {"workers": 2}),
    "cpsat": (False, {"search": "cpsat", "cuts": False, "lp_bound": False}),
    "cpsat+cuts": (False, {"search": "cpsat", "cuts": True, "lp_bound": False}),
    "cpsat+cuts+lp": (False, {"search": "cpsat", "cuts": True, "lp_bound": True}),
    "scip+lp": (False, {"search": "scip", "cuts": False, "lp_bound": True}),
    "scip+cuts+lp": (False, {"search": "scip", "cuts": True, "lp_bound": True}),
    "auto": (False, {}),
    "auto-w2": (False, {"workers": 2}),
    "auto-noface": (False, {"face": False}),
    "auto-novicinity": (False, {"vicinity": False}),
    "auto-nowindow": (False, {"window": False}),
    "auto-scipface": (False, {"exact_face": False}),
    "auto-presolve3": (False, {"presolve_rounds": 3}),
}

CHILD = r"""
import importlib, json, sys, time
inventory, spec, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
repeat, limit = int(sys.argv[4]), float(sys.argv[5])
for module in ("planner.planning.pipeline", "planner.pipeline"):
    try:
        load_problem = importlib.import_module(module).load_problem
        break
    except (ImportError, AttributeError):
        continue
from solvers.flow import solve_flow
from solvers.params import SolveParams
problem, _ = load_problem(inventory, spec)
runs = []
for _ in range(repeat):
    t = time.perf_counter()
    r = solve_flow(problem, SolveParams(time_limit=limit, **kwargs))
    runs.append({"seconds": time.perf_counter() - t, "status": str(r.status), "deviation": r.deviation,
                 "moves": r.moves, "detail": getattr(r, "detail", "")})
print(json.dumps(runs))
"""


def measure_variant(variant: str, inventory: Path, spec: Path, repeat: int, time_limit: float,
                    reference: Path | None) -> dict[str, Any]:
    """One child process: the problem loaded once, `repeat` timed solves."""
    use_reference, kwargs = VARIANTS[variant]
    code = reference if use_reference else None
    done = subprocess.run([sys.executable, "-c", CHILD, str(inventory), str(spec), json.dumps(kwargs), str(repeat),
                           str(time_limit)], capture_output=True, text=True, check=False,
                          env=ms.child_env(code), cwd=ms.child_cwd(code), timeout=repeat * (time_limit + 120))
    if done.returncode != 0:
        return {"variant": variant, "error": done.stderr.strip()[-400:]}
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    return {"variant": variant, "median": round(statistics.median(r["seconds"] for r in runs), 3),
            "status": "/".join(sorted({r["status"] for r in runs})),
            "dm": sorted({(r["deviation"], r["moves"]) for r in runs}), "runs": runs}


def format_markdown(table: list[dict[str, Any]], variants: Sequence[str]) -> str:
    lines = ["| instance | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for entry in table:
        cells = []
        for v in variants:
            r = entry["results"].get(v, {})
            if "median" not in r:
                cells.append("error")
                continue
            flag = "" if r["status"] == "OPTIMAL" else f" {r['status']}"
            dm = r["dm"][0] if len(r["dm"]) == 1 else r["dm"]
            cells.append(f"{r['median']:.2f} s{flag} {tuple(dm) if len(r['dm']) == 1 else dm}")
        lines.append(f"| {entry['instance']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks import instances, run  # instance generation and sizes; the reference commit

    parser = argparse.ArgumentParser(prog="python -m benchmarks.ideas", description=__doc__.split("\n")[0])
    instances.add_instance_options(parser, families="all", sizes="10k,100k", seeds="1,2", repeat=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--reference", default=run.REFERENCE_COMMIT)
    parser.add_argument("--cross-cluster", choices=tuple(run.CROSSES), default="on")
    parser.add_argument("--busy-nodes", default="none",
                        help="comma-separated specs of the busy families: none (their own), keep, drain, ignore")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    families = instances.families_of(parser, args.families)
    variants = args.variants.split(",")
    policies = args.busy_nodes.split(",")
    unknown = [v for v in variants if v not in VARIANTS] + \
        [b for b in policies if b != "none" and b not in BUSY_POLICIES]
    if unknown:
        parser.error(f"unknown variant or busy policy: {', '.join(unknown)}")
    crosses = run.CROSSES[args.cross_cluster]
    root = Path(tempfile.gettempdir()) / "poolshift-benchmarks"
    ms.CODE_SNAPSHOT, _ = ms.snapshot_code(root)
    reference = ms.reference_code(args.reference, root) if any(VARIANTS[v][0] for v in variants) else None
    table: list[dict[str, Any]] = []
    for family in families:
        for size in (instances.parse_size(s) for s in args.sizes.split(",")):
            for seed, cross, busy in itertools.product((int(s) for s in args.seeds.split(",")), crosses,
                                                       policies if family in run.BUSY_FAMILIES else ["none"]):
                inventory, spec, _ = instances.ensure_instance(
                    size, seed, cross, args.data_dir.resolve(), False, lambda m: print(m, file=sys.stderr), family,
                    None if busy == "none" else busy)
                key = f"{family}-{size.label}-s{seed}" + ("" if cross else "-nocross") + \
                    ("" if busy == "none" else f"-{busy}")
                shift = len(table) % len(variants)
                order = variants[shift:] + variants[:shift]
                print(f"{key}: {', '.join(order)}", file=sys.stderr, flush=True)
                results = {v: measure_variant(v, inventory, spec, args.repeat, args.time_limit, reference)
                           for v in order}
                table.append({"instance": key, "results": results})
    report.emit(format_markdown(table, variants), table, args.markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
