"""How long `poolshift plan` takes to end once its work is done: the console script, and `planner.cli.main` called.

    python -m benchmarks.exit_tail --inventory X --spec Y [--repeat 5]

The `poolshift` console script ends `plan` with `os._exit` once its output is flushed, leaving the snapshot and the
plan to the operating system (planner/cli/_common.py `finish`); `planner.cli.main` called from other code (tests,
`python -c`) frees them and tears the interpreter down first. Both run as child processes, alternating; for each
the medians of the whole wall time and of the tail (from the `plan written to` line on standard output to the
process's end) are printed as JSON. The snapshot is also freed before that line without the console script's
keeping it (planner/cli/_common.py `keep_until_exit`), so the whole wall time differs by more than the tail.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

VARIANTS = ("console script", "planner.cli:main")


def once(variant: str, inventory: Path, spec: Path, out: Path) -> tuple[float, float]:
    """(wall, tail) seconds of one `plan` run: through the console script, or `planner.cli.main` called."""
    args = ["plan", "--inventory", str(inventory), "--spec", str(spec), "-o", str(out)]
    if variant == "console script":
        cmd = [str(Path(sys.executable).with_name("poolshift")), *args]
    else:
        cmd = [sys.executable, "-c", "from planner.cli import main; main(prog_name='poolshift')", *args]
    started = time.perf_counter()
    written = None
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("plan written to"):
                written = time.perf_counter()
    if proc.returncode != 0 or written is None:
        raise SystemExit(f"exit_tail: {' '.join(cmd)} failed (exit {proc.returncode})")
    ended = time.perf_counter()
    return ended - started, ended - written


def measure(inventory: Path, spec: Path, repeat: int, out: Path) -> dict[str, dict[str, float]]:
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    for _ in range(repeat):
        for name in VARIANTS:
            runs[name].append(once(name, inventory, spec, out))
    return {name: {"wall_s": round(statistics.median(w for w, _ in got), 3),
                   "tail_s": round(statistics.median(t for _, t in got), 3)} for name, got in runs.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exit_tail", description=__doc__.split("\n")[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("exit-tail-plan.json"), help="where the runs write the plan")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.inventory, args.spec, args.repeat, args.out), indent=2))
    args.out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
