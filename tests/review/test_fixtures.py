"""The review fixtures are what the planner writes today (apart from `created_at` and `summary.solve_seconds`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.inventory import read_snapshot_file
from planner.planfile import read_plan
from planner.planning import make_plan
from planner.spec import read_spec_file
from tests.review.data import make_fixtures

REGENERATE = "python -m tests.review.data.make_fixtures"


def _differences(committed: Any, fresh: Any, path: str = "$") -> list[str]:
    """Key paths where two JSON values differ (the first few), for a readable failure."""
    if isinstance(committed, dict) and isinstance(fresh, dict):
        out: list[str] = []
        for key in sorted(set(committed) | set(fresh)):
            if key not in fresh or key not in committed:
                out.append(f"{path}.{key} only in the {'committed file' if key in committed else 'planner output'}")
            else:
                out += _differences(committed[key], fresh[key], f"{path}.{key}")
        return out
    if isinstance(committed, list) and isinstance(fresh, list) and len(committed) == len(fresh):
        return [d for i, (c, f) in enumerate(zip(committed, fresh, strict=True))
                for d in _differences(c, f, f"{path}[{i}]")]
    return [] if committed == fresh else [f"{path}: committed {committed!r}, planner now {fresh!r}"]


@pytest.mark.parametrize("name", make_fixtures.FIXTURES)
def test_committed_fixture_is_what_make_plan_writes_today(name: str) -> None:
    committed = make_fixtures.plan_path(name).read_text(encoding="utf-8")
    fresh = make_fixtures.build(name).to_json()
    if fresh != committed:
        diffs = _differences(json.loads(committed), json.loads(fresh))
        pytest.fail(f"plan_{name}.json is not what the planner writes today; run `{REGENERATE}` and review the "
                    f"change. Differences: " + "; ".join(diffs[:8] or ["key order or formatting"]))


def test_normalising_changes_only_the_timing_fields() -> None:
    plan = make_plan(read_snapshot_file(make_fixtures.SNAPSHOT), read_spec_file(make_fixtures.spec_path("a")))
    raw, fixed = plan.document, make_fixtures.normalised(plan.document)
    assert (fixed.created_at, fixed.summary.solve_seconds) == ("2026-11-28T00:00:00Z", 0.1)
    assert fixed.model_dump(exclude={"created_at": True, "digest": True, "summary": {"solve_seconds"}}) == \
        raw.model_dump(exclude={"created_at": True, "digest": True, "summary": {"solve_seconds"}})
    assert fixed.digest != raw.digest  # sealed again over the fixed values


def test_fixture_is_what_poolshift_plan_writes(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(main, ["plan", "--inventory", str(make_fixtures.SNAPSHOT),
                                       "--spec", str(make_fixtures.spec_path("b")), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert make_fixtures.normalised(read_plan(out)).to_json() == make_fixtures.plan_path("b").read_text()


def test_differences_name_the_key_path() -> None:
    committed = {"summary": {"moves": 4, "waves": 2}, "steps": [{"id": 1}], "old": 1}
    fresh = {"summary": {"moves": 5, "waves": 2}, "steps": [{"id": 2}], "new": 1}
    assert _differences(committed, fresh) == [
        "$.new only in the planner output",
        "$.old only in the committed file",
        "$.steps[0].id: committed 1, planner now 2",
        "$.summary.moves: committed 4, planner now 5",
    ]
