"""Fixtures for the apply tests: an inventory whose plan has several steps and waves, and the emulator."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_server import emulator  # noqa: F401  (pytest fixture; it uses emulator_snapshot below)

PROJECT = "5f3c0a9e1b2d4c6e8f7a9b0c1d2e3f40"
CPU = "modelarts.vm.cpu.8u"
CPU_D = "modelarts.vm.cpu.8u.d"


def _node(name: str, flavor: str = CPU) -> dict[str, Any]:
    return {"apiVersion": "v2", "kind": "Node",
            "metadata": {"name": name, "labels": {}, "annotations": {}},
            "spec": {"flavor": flavor, "hostNetwork": {"subnet": ""}},
            "status": {"phase": "Available"}}


def _pool(name: str, flavors: list[str], network: str) -> dict[str, Any]:
    return {"apiVersion": "v2", "kind": "Pool",
            "metadata": {"name": name, "labels": {"os.modelarts/name": name.removeprefix("pool-")}},
            "spec": {"type": "Dedicate", "network": {"name": network},
                     "resources": [{"flavor": f} for f in flavors]},
            "status": {"phase": "Running"}}


def apply_snapshot() -> dict[str, Any]:
    """Four pools on two subnets: pool-a (12 nodes) must give 8 to pool-b, pool-c and pool-d."""
    nodes = {
        "pool-a": [_node(f"a-{i:02d}") for i in range(12)],
        "pool-b": [_node(f"b-{i:02d}") for i in range(2)],
        "pool-c": [_node(f"c-{i:02d}", CPU_D) for i in range(2)],
        "pool-d": [_node(f"d-{i:02d}") for i in range(2)],
    }
    return {
        "format": "poolshift.inventory/v1", "project_id": PROJECT, "region": "cn-north-4",
        "captured_at": "2026-11-28T00:00:00Z",
        "pools": [_pool("pool-a", [CPU], "net-1"), _pool("pool-b", [CPU], "net-1"),
                  _pool("pool-c", [CPU_D], "net-2"), _pool("pool-d", [CPU], "net-2")],
        "nodes": nodes,
        "networks": [
            {"name": "net-1", "subnets": [{"networkId": "subnet-1", "cidr": "10.1.0.0/24", "totalIps": 60,
                                           "usedIps": 14}]},
            {"name": "net-2", "subnets": [{"networkId": "subnet-2", "cidr": "10.2.0.0/24", "totalIps": 30,
                                           "usedIps": 4}]},
        ],
    }


def apply_spec() -> dict[str, Any]:
    return {
        "format": "poolshift.spec/v1",
        "pools": {"pool-a": {"target": 4}, "pool-b": {"target": 5}, "pool-c": {"target": 4},
                  "pool-d": {"target": 5}},
        "flavor_compat": {CPU: [CPU, CPU_D]},
        "limits": {"max_batch_size": 1},
    }


def make_apply_plan(snapshot: dict[str, Any] | None = None, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    from planner.planning.pipeline import make_plan

    plan = make_plan(copy.deepcopy(snapshot or apply_snapshot()), spec or apply_spec())
    document: dict[str, Any] = plan.document.model_dump(mode="json")
    return document


def write_plan_data(path: Path, data: dict[str, Any]) -> None:
    """Write plan data (as make_apply_plan returns it, perhaps edited) through the one plan writer."""
    from planner.planfile import parse_plan, write_plan

    write_plan(path, parse_plan(data, source=str(path)))


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own project-lock folder: tests (and other checkouts running theirs at the same time on this
    host) use the same project ids, and must not exclude one another through the user's state directory."""
    folder = tmp_path_factory.mktemp("locks")
    monkeypatch.setenv("POOLSHIFT_LOCK_DIR", str(folder))
    return folder


@pytest.fixture
def emulator_snapshot() -> dict[str, Any]:
    """What the `emulator` fixture serves here: the inventory of `apply_snapshot()`."""
    return apply_snapshot()


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    write_plan_data(path, make_apply_plan())
    return path
