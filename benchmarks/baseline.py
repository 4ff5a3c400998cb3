"""Child process that runs one baseline solver on one instance and writes its result as JSON.

    python -m benchmarks.baseline --method greedy|pernode --inventory X --spec Y --out result.json
                                  [--time-limit S] [--workers N]

The runner (`benchmarks.run`) starts one such process per baseline and measures its wall time and peak
memory from outside; this module only loads the problem, solves it and reports what the solver said.

All assumptions about the planner's library interface live here (the `_load_problem` and `_solve`
functions), so that adapting to the real names is a change in one place:

- `load_problem(inventory_path, spec_path) -> (problem, context)` from `planner.planning.pipeline` (or
  `planner.pipeline`, where it lived before the planning core moved);
- `solvers.greedy.solve_greedy(problem) -> FlowResult`;
- `solvers.pernode.solve_pernode(problem, params) -> FlowResult` with `params` a `solvers.params.SolveParams`;
- `FlowResult` has `.status` (str or str enum), `.deviation`, `.moves`, `.bound` (int or None), `.seconds`.

Exit codes: 0 result written; 10 the planner does not provide the assumed interface yet (the result file
says what is missing); 1 anything else (the traceback is on stderr and the message in the result file).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_MISSING_INTERFACE = 10
METHODS = ("greedy", "pernode")


class MissingInterface(Exception):
    """The planner does not (yet) provide a function or module this adapter needs."""


def _load_problem(inventory: Path, spec: Path) -> tuple[Any, Any]:
    for module in ("planner.planning.pipeline", "planner.pipeline"):  # where the planning core lives
        try:
            load_problem = importlib.import_module(module).load_problem
            break
        except (ImportError, AttributeError):
            continue
    else:
        raise MissingInterface("load_problem: neither planner.planning.pipeline nor planner.pipeline has it")
    problem, context = load_problem(inventory, spec)
    return problem, context


def _solve(method: str, problem: Any, time_limit: float | None, workers: int | None) -> Any:
    if method == "greedy":
        try:
            from solvers.greedy import solve_greedy
        except ImportError as exc:
            raise MissingInterface(f"solvers.greedy.solve_greedy: {exc}") from exc
        return solve_greedy(problem)
    try:
        from solvers.pernode import solve_pernode
    except ImportError as exc:
        raise MissingInterface(f"solvers.pernode.solve_pernode: {exc}") from exc
    try:
        from solvers.params import SolveParams
    except ImportError as exc:
        raise MissingInterface(f"solvers.params.SolveParams: {exc}") from exc
    options: dict[str, Any] = {}
    if time_limit is not None:
        options["time_limit"] = time_limit
    if workers is not None:
        options["workers"] = workers
    return solve_pernode(problem, SolveParams(**options))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def result_fields(result: Any) -> dict[str, Any]:
    """The comparable fields of a FlowResult-like object (status as a plain string)."""
    status = getattr(result, "status", None)
    status_text = str(getattr(status, "value", status)) if status is not None else "UNKNOWN"
    seconds = getattr(result, "seconds", None)
    return {
        "status": status_text,
        "deviation": _int_or_none(getattr(result, "deviation", None)),
        "moves": _int_or_none(getattr(result, "moves", None)),
        "bound": _int_or_none(getattr(result, "bound", None)),
        "busy_moves": _int_or_none(getattr(result, "busy_moves", None)),
        "solver_seconds": None if seconds is None else float(seconds),
        "backend": getattr(result, "backend", None),
        "detail": getattr(result, "detail", ""),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline")
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--time-limit", type=float, default=None, help="per-node solver time limit (s)")
    parser.add_argument("--workers", type=int, default=None, help="per-node solver worker threads")
    args = parser.parse_args(argv)

    record: dict[str, Any] = {"method": args.method}
    code = 0
    started = time.perf_counter()
    try:
        problem, _context = _load_problem(args.inventory, args.spec)
        loaded = time.perf_counter()
        result = _solve(args.method, problem, args.time_limit, args.workers)
        solved = time.perf_counter()
        record.update(result_fields(result))
        record["load_seconds"] = round(loaded - started, 4)
        record["solve_wall_seconds"] = round(solved - loaded, 4)
    except MissingInterface as exc:
        record.update(status="N/A", error=f"interface not available: {exc}")
        code = EXIT_MISSING_INTERFACE
    except Exception as exc:  # report any failure of the baseline as data, not as a crash of the runner
        traceback.print_exc()
        record.update(status="ERROR", error=f"{type(exc).__name__}: {exc}")
        code = 1
    args.out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
