"""Workspaces: ListPools reads workspace "0" unless told otherwise; `--workspace-id` and `all` select pools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.modelarts.pull import pull_snapshot
from tests.api.cases import in_process
from tests.emulator_server import EmulatorHandle, run_emulator, sample_snapshot

OTHER = "9f1c2e3d4b5a69788796a5b4c3d2e1f0"
MOVED = {"pool-gpu", "pool-wide"}


def two_workspaces() -> dict[str, Any]:
    seed = sample_snapshot()
    for pool in seed["pools"]:
        if pool["metadata"]["name"] in MOVED:
            pool["metadata"]["labels"]["os.modelarts/workspace.id"] = OTHER
    return seed


def pool_names(snapshot: dict[str, Any]) -> set[str]:
    return {p["metadata"]["name"] for p in snapshot["pools"]}


ALL = {p["metadata"]["name"] for p in sample_snapshot()["pools"]}


def test_the_default_workspace_is_0_and_another_is_asked_for_by_id() -> None:
    client, _ = in_process(two_workspaces())
    default = pull_snapshot(client, "cn-north-4", client.project_id)
    assert pool_names(default) == ALL - MOVED and default["workspace_id"] == "0"
    other = pull_snapshot(client, "cn-north-4", client.project_id, workspace_id=OTHER)
    assert pool_names(other) == MOVED and other["workspace_id"] == OTHER
    assert set(other["nodes"]) == MOVED and set(other["workloads"]) == MOVED
    everything = pull_snapshot(client, "cn-north-4", client.project_id, workspace_id="all")
    assert pool_names(everything) == ALL
    assert everything["workspace_id"] == "all" and everything["workspace_ids"] == ["0", OTHER]


def run(emu: EmulatorHandle, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    out = tmp_path / "snap.json"
    result = CliRunner().invoke(main, ["inventory", "pull", *emu.cli_args(), "-o", str(out), *args],
                                env={**emu.env(), **(env or {})})
    return result.exit_code, json.loads(out.read_text()) if result.exit_code == 0 else None, result.stderr


@pytest.mark.emulator
def test_workspace_option_and_environment_select_the_pools(tmp_path: Path) -> None:
    with run_emulator(two_workspaces()) as emu:
        code, default, _ = run(emu, tmp_path)
        assert code == 0 and pool_names(default) == ALL - MOVED
        code, chosen, _ = run(emu, tmp_path, "--workspace-id", OTHER)
        assert code == 0 and pool_names(chosen) == MOVED and chosen["workspace_id"] == OTHER
        code, from_env, _ = run(emu, tmp_path, env={"POOLSHIFT_WORKSPACE_ID": OTHER})
        assert code == 0 and pool_names(from_env) == MOVED
        code, everything, _ = run(emu, tmp_path, "--workspace-id", "all")
        assert code == 0 and pool_names(everything) == ALL
        queries = [r["query"] for r in emu.requests() if r["path"].endswith("/pools")]
        assert f"workspaceId={OTHER}" in queries and "workspaceId=0" in queries
        code, _, stderr = run(emu, tmp_path, "--workspace-id", "bad id!")
        assert code == 2 and "--workspace-id" in stderr


@pytest.mark.emulator
def test_all_workspaces_needs_list_workspace(tmp_path: Path) -> None:
    with run_emulator(two_workspaces(), faults={"next_errors": [403]}) as emu:
        code, _, stderr = run(emu, tmp_path, "--workspace-id", "all")
    assert code == 5
    assert "--workspace-id all: ListWorkspace was refused" in stderr and "name one workspace" in stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.emulator
def test_plan_live_reads_the_chosen_workspace(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("format: poolshift.spec/v1\npools: {}\n")
    with run_emulator(two_workspaces()) as emu:
        result = CliRunner().invoke(main, ["plan", "--live", *emu.cli_args(), "--workspace-id", OTHER,
                                           "--spec", str(spec)], env=emu.env())
        queries = [r["query"] for r in emu.requests() if r["path"].endswith("/pools")]
    assert result.exit_code == 0, result.output
    assert queries == [f"workspaceId={OTHER}"]
