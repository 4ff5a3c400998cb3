"""What `poolshift plan` cannot avoid: the interpreter's start, the imports a plan needs, the snapshot's parse.

    python -m benchmarks.floor [--families all] [--sizes 10k,100k] [--seeds 1] [--repeat 5] [--data-dir D]
                               [--json F] [--markdown F]

For every instance (generated into `--data-dir` like the runner's, or reused), three whole processes alternate
`--repeat` times (A B C A B C ..., so a drift of the machine's speed hits them alike), each timed from outside:

| process | what it does |
|---|---|
| `plan` | the real command, `poolshift plan --inventory X --spec Y -o plan.json` |
| `floor` | a `python -c` program: imports every module that a plan of this instance imports, in the order the plan |
| | imported them (listed once per instance by a child that plans it in-process; the few standard modules that |
| | child needs first, json, tempfile and pathlib, are not listed, so if anything the floor is lower), reads the |
| | snapshot file (`read_snapshot_file`: the file read and parsed, its depth checked), the collector paused |
| | throughout, and ends with `os._exit`, as the CLI does |
| `python -c pass` | the interpreter alone |

The floor does none of the planner's own work (validation, derived facts, problem, solve, order, document, verify,
write), so no change to that work can bring `poolshift plan` below it; only a lighter stack can (fewer or cheaper
imports, a faster parse). The table shows each process's median wall time, what the plan spends beyond the floor
(plan - floor: the planner's own work, as the medians give it), the floor's own split (interpreter, imports, read:
the floor child times the last two itself), the issue-16 target of the instance's size (10k: 0.5 s, 100k: 3.0 s)
and the share of that target the floor already takes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import instances, report
from benchmarks import measure as ms

TARGETS = {10_000: 0.5, 100_000: 3.0}  # issue 16: end to end, start-up included
PROCESSES = ("plan", "floor", "python -c pass")


# The two children run as `python -c` programs, so that nothing of this file (or of the runner's modules it
# imports) is imported in them: what they import is exactly what a plan imports.
_LIST_MODULES = """
import json, sys, tempfile
from pathlib import Path
before = set(sys.modules)
import planner.cli.core_cmds  # what `poolshift plan` itself imports
from planner.inventory import read_snapshot_file
from planner.planfile import write_plan
from planner.planning import make_plan
from planner.spec import read_spec_file
inventory, spec = sys.argv[1], sys.argv[2]
plan = make_plan(read_snapshot_file(inventory), read_spec_file(spec), snapshot_source=inventory, spec_source=spec)
with tempfile.TemporaryDirectory() as tmp:
    write_plan(Path(tmp) / "plan.json", plan.document)
# (only modules an import finds: SWIG registers its runtime data as a module no import can find)
print(json.dumps([name for name, module in list(sys.modules.items())
                  if name not in before and getattr(module, "__spec__", None) is not None]))
"""

_FLOOR = """
import gc, importlib, os, sys, time
gc.disable()  # as `poolshift plan` pauses the collector (planner.collector), here from the first line
t0 = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as fh:
    names = fh.read().split()
for name in names:
    importlib.import_module(name)
t1 = time.perf_counter()
from planner.inventory import read_snapshot_file
read_snapshot_file(sys.argv[2])
t2 = time.perf_counter()
print('{"imports": %r, "read": %r}' % (t1 - t0, t2 - t1), flush=True)
os._exit(0)
"""


def modules_of_a_plan(inventory: Path, spec: Path) -> list[str]:
    """The modules a plan of this instance imports beyond the interpreter's own start, in the order imported
    (a child plans it in-process and writes the plan, the CLI's modules imported as `poolshift plan` does)."""
    _, out = _timed([sys.executable, "-c", _LIST_MODULES, str(inventory), str(spec)], "listing a plan's modules")
    return [str(name) for name in json.loads(out.strip().splitlines()[-1])]


def _timed(cmd: list[str], label: str) -> tuple[float, str]:
    """Wall seconds of a whole process and its standard output; a failing process is an error."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=ms.child_env(), cwd=ms.child_cwd(),
                          timeout=900)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"floor: {label} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return wall, done.stdout


def measure_instance(inventory: Path, spec: Path, repeat: int, work: Path) -> dict[str, Any]:
    """Medians of the three processes over `repeat` alternating rounds, and the floor child's own split."""
    modules = work / "modules.txt"
    names = modules_of_a_plan(inventory, spec)
    modules.write_text("\n".join(names) + "\n", encoding="utf-8")
    commands = {
        "plan": [ms.poolshift_executable(), "plan", "--inventory", str(inventory), "--spec", str(spec),
                 "-o", str(work / "plan.json"), "--quiet"],
        "floor": [sys.executable, "-c", _FLOOR, str(modules), str(inventory)],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    walls: dict[str, list[float]] = {p: [] for p in PROCESSES}
    split: dict[str, list[float]] = {"imports": [], "read": []}
    for _ in range(repeat):
        for process in PROCESSES:
            wall, out = _timed(commands[process], process)
            walls[process].append(wall)
            if process == "floor":
                inner = json.loads(out.strip().splitlines()[-1])
                for part in split:
                    split[part].append(float(inner[part]))
    median = {p: statistics.median(v) for p, v in walls.items()}
    median.update({part: statistics.median(v) for part, v in split.items()})
    return {"median": median, "runs": walls, "split": split, "modules": len(names)}


def format_markdown(table: list[dict[str, Any]]) -> str:
    """One row an instance: the processes' medians, the floor's split, the target and the floor's share of it."""
    lines = ["| instance | plan s | floor s | plan - floor s | interpreter s | imports s | read s | target s | "
             "floor / target |", "|---|---|---|---|---|---|---|---|---|"]
    for row in table:
        m, target = row["median"], row["target"]
        share = f"{m['floor'] / target:.2f}" if target else "-"
        lines.append(f"| {row['instance']} | {m['plan']:.3f} | {m['floor']:.3f} | {m['plan'] - m['floor']:.3f} | "
                     f"{m['python -c pass']:.3f} | {m['imports']:.3f} | {m['read']:.3f} | {target if target else '-'} "
                     f"| {share} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__.split("\n")[0])
    instances.add_instance_options(parser, families="all", sizes="10k,100k", seeds="1", repeat=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    families = instances.families_of(parser, args.families)
    table: list[dict[str, Any]] = []
    for family, size, seed in itertools.product(families, (instances.parse_size(s) for s in args.sizes.split(",")),
                                                (int(s) for s in args.seeds.split(","))):
        inventory, spec, _ = instances.ensure_instance(size, seed, True, args.data_dir.resolve(), False,
                                                       lambda m: print(m, file=sys.stderr), family)
        key = f"{family}-{size.label}-s{seed}"
        print(f"{key}: {', '.join(PROCESSES)} x {args.repeat}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            result = measure_instance(inventory, spec, args.repeat, Path(tmp))
        table.append({"instance": key, "nodes": size.nodes, "target": TARGETS.get(size.nodes), **result})
    report.emit(format_markdown(table), table, args.markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
