"""Fixtures for the review tests: plan files the planner wrote (see `tests/review/data/make_fixtures.py`).

Tests that need a plan the planner would not write edit a fixture's JSON data and read it back through
`parse_plan`, the one reader, as a hand-edited file would be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.planfile import PlanDocument

DATA = Path(__file__).parent / "data"
GPU = "modelarts.vm.gpu.8xv100"
CPU = "modelarts.vm.cpu.8u"


def plan_path(name: str) -> Path:
    """`tests/review/data/plan_<name>.json` (a, b, blocked, minimal)."""
    return DATA / f"plan_{name}.json"


def read_plan_data(name: str) -> dict[str, Any]:
    """A fixture plan's JSON data, fresh for each call (tests may edit it)."""
    data: dict[str, Any] = json.loads(plan_path(name).read_text(encoding="utf-8"))
    return data


def parse(data: dict[str, Any], source: str = "plan.json") -> PlanDocument:
    """Plan data, edited by a test to show a renderer some case, read by the plan model alone: the renderers are
    tested on the cases, the reader's refusal of edited plans is tested in tests/core/test_planfile.py."""
    return PlanDocument.model_validate(data)


@pytest.fixture
def plan_a_data() -> dict[str, Any]:
    return read_plan_data("a")


@pytest.fixture
def plan_b_data() -> dict[str, Any]:
    return read_plan_data("b")


@pytest.fixture
def plan_blocked_data() -> dict[str, Any]:
    return read_plan_data("blocked")


@pytest.fixture
def plan_minimal_data() -> dict[str, Any]:
    return read_plan_data("minimal")


def with_disrupts(data: dict[str, Any]) -> dict[str, Any]:
    """Plan A's data with step 2 ending a training job on its two nodes and an inference service on one (the
    workload feature fills `disrupts`; until it lands, this is the plan a reviewer would get), the summary's
    busy moves to match."""
    step = data["steps"][1]
    first, second = step["body"]["migrateNodeNames"]
    step["disrupts"] = [
        {"node": first, "workload": "llm-pretrain-7", "type": "training job", "priority": 3},
        {"node": second, "workload": "llm-pretrain-7", "type": "training job", "priority": 3},
        {"node": second, "workload": "chat-infer", "type": "inference service", "priority": None},
    ]
    data["summary"]["busy_moves"] = 2
    return data


def write_sealed(data: dict[str, Any], path: Path) -> Path:
    """Write plan data as the planner would (sealed: its digest over its content), so the reader accepts it when
    it adds up."""
    from planner.planfile import write_plan

    write_plan(path, PlanDocument.model_validate(data).sealed())
    return path
