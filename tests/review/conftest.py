"""Fixtures for the review tests: hand-written plan files in the PRODUCT §6 format."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def read_plan_data(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture
def plan_a_data() -> dict[str, Any]:
    return read_plan_data("plan_a.json")


@pytest.fixture
def plan_b_data() -> dict[str, Any]:
    return read_plan_data("plan_b.json")


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    """Write a plan dict to a file under tmp_path and return its path."""

    def write(data: dict[str, Any], name: str = "plan.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(copy.deepcopy(data)), encoding="utf-8")
        return path

    return write
