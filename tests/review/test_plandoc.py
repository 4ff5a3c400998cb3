from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.errors import InputError
from planner.review.plandoc import load_plan, parse_plan
from tests.review.conftest import DATA


def test_fixtures_load_with_their_optional_fields() -> None:
    a = load_plan(DATA / "plan_a.json")
    assert a.summary.moves == 5
    assert a.wave_count == 2
    assert a.subnets["subnet-a9f04b36"].reserve == 2
    assert a.steps[0].nodes == ["os-node-created-g1a7c", "os-node-created-g2b8d"]
    # fields the review does not model are kept, not rejected
    assert a.model_extra is not None and a.model_extra["created_at"] == "2026-11-28T00:00:00Z"
    assert (a.pools["pool-train-7f3a"].model_extra or {})["display_name"] == "train-v100"


def test_minimal_plan_defaults_optional_fields() -> None:
    m = load_plan(DATA / "plan_minimal.json")
    assert m.summary.staging_moves == 0
    assert m.summary.blocked_by == []
    assert m.subnets == {}
    assert m.wave_count == 0


def test_wave_count_falls_back_to_the_steps(plan_b_data: dict[str, Any]) -> None:
    del plan_b_data["summary"]["waves"]
    assert parse_plan(plan_b_data, source="b.json").wave_count == 3


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found") as info:
        load_plan(tmp_path / "absent.json")
    assert info.value.source == str(tmp_path / "absent.json")


def test_invalid_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "format": "poolshift.plan/v1",\n  oops\n}')
    with pytest.raises(InputError, match=r"not valid JSON \(line 3"):
        load_plan(path)


def test_other_format_is_rejected(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["format"] = "poolshift.inventory/v1"
    with pytest.raises(InputError) as info:
        parse_plan(plan_a_data, source="a.json")
    assert info.value.path == "format"
    assert str(info.value).startswith("a.json: format: expected format 'poolshift.plan/v1'")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["summary"].pop("moves"), "summary.moves"),
        (lambda d: d["steps"][1]["body"].update(migrateNodeNames="n1"), "steps[1].body.migrateNodeNames"),
        (lambda d: d["pools"]["pool-dev-91b0"].update(before=-1), "pools.pool-dev-91b0.before"),
        (lambda d: d["excluded"][0].pop("reason"), "excluded[0].reason"),
        (lambda d: d["steps"][0].update(wave=0), "steps[0].wave"),
    ],
)
def test_bad_fields_name_the_key_path(plan_a_data: dict[str, Any], mutate: Any, path: str) -> None:
    mutate(plan_a_data)
    with pytest.raises(InputError) as info:
        parse_plan(plan_a_data, source="a.json")
    assert info.value.path == path
    assert "\n" not in str(info.value)


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(InputError, match="top level must be a JSON object"):
        load_plan(path)


def test_pool_names_use_display_names_only_when_they_tell_pools_apart(plan_a_data: dict[str, Any]) -> None:
    names = parse_plan(plan_a_data, source="a.json").pool_names()
    assert names["pool-train-7f3a"] == "train-v100" and names["pool-dev-91b0"] == "pool-dev-91b0"
    plan_a_data["pools"]["pool-dev-91b0"]["display_name"] = "train-v100"
    plan = parse_plan(plan_a_data, source="a.json")
    assert plan.pool_names() == {p: p for p in plan_a_data["pools"]}
    assert plan.pool_name("pool-unknown") == "pool-unknown"
