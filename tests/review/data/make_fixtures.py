"""Regenerate the review tests' plan files from the planner's own output.

    python -m tests.review.data.make_fixtures

Each `plan_<name>.json` is what `poolshift plan --inventory snapshot.json --spec spec_<name>.yaml` writes
(default options), with the two fields that change from run to run set to fixed values: `created_at` and
`summary.solve_seconds`. `tests/review/test_fixtures.py` fails when a committed file no longer matches what
`make_plan` writes today; run this module then, and review the change to the plan files like any other.

- `plan_a`: OPTIMAL, deviation 5 -> 0; 4 moves in 3 requests over 2 waves, cross-cluster moves into dev,
  one node pinned.
- `plan_b`: OPTIMAL, deviation 8 -> 0; train and infer swap flavors at their max, so one V100 node takes a
  staging hop through dev (5 moves, 1 of them staging, in 5 requests over 4 waves); another node pinned.
  Against plan A it has requests added, removed and kept, one kept request earlier, nodes that move only in
  one plan or differently, and different excluded nodes.
- `plan_blocked`: FEASIBLE, deviation 8 -> 4 with proven bound 0; dev's floor equals its max, so the
  placement that trades its CPU nodes for V100 nodes cannot be reached (`summary.blocked_by`).
- `plan_minimal`: no wishes in the spec: no moves at all.
"""

from __future__ import annotations

from pathlib import Path

from planner.inventory import read_snapshot_file
from planner.planfile import PlanDocument, write_plan
from planner.planning import make_plan
from planner.spec import read_spec_file

DATA = Path(__file__).resolve().parent
SNAPSHOT = DATA / "snapshot.json"
FIXTURES = ("a", "b", "blocked", "minimal")
CREATED_AT = "2026-11-28T00:00:00Z"
SOLVE_SECONDS = 0.1


def normalised(document: PlanDocument) -> PlanDocument:
    """The document with `created_at` and `summary.solve_seconds` set to the fixtures' fixed values (and its digest
    sealed again over them)."""
    summary = document.summary.model_copy(update={"solve_seconds": SOLVE_SECONDS})
    return document.model_copy(update={"created_at": CREATED_AT, "summary": summary}).sealed()


def spec_path(name: str) -> Path:
    return DATA / f"spec_{name}.yaml"


def plan_path(name: str) -> Path:
    return DATA / f"plan_{name}.json"


def build(name: str) -> PlanDocument:
    """The plan `make_plan` writes today for fixture `name`, normalised."""
    plan = make_plan(read_snapshot_file(SNAPSHOT), read_spec_file(spec_path(name)),
                     snapshot_source=str(SNAPSHOT), spec_source=str(spec_path(name)))
    return normalised(plan.document)


def main() -> None:
    for name in FIXTURES:
        document = build(name)
        write_plan(plan_path(name), document)
        s = document.summary
        print(f"{plan_path(name).relative_to(DATA.parents[2])}: {s.status}, deviation {s.deviation_before} -> "
              f"{s.deviation_after}, {s.moves} moves in {s.requests} requests")


if __name__ == "__main__":
    main()
