"""Every malformed snapshot or spec is rejected with exit 2, one line naming file and field, and no plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from planner.cli import main
from tests.core.builders import node, nodes_of, pool, snapshot, spec, two_pool_snapshot


def _good_snapshot() -> dict[str, Any]:
    return two_pool_snapshot()


def _mutate(fn: Any) -> dict[str, Any]:
    data = _good_snapshot()
    fn(data)
    return data


def _set(path: list[Any], value: Any) -> Any:
    def apply(d: dict[str, Any]) -> None:
        cur: Any = d
        for p in path[:-1]:
            cur = cur[p]
        cur[path[-1]] = value
    return apply


def _delete(path: list[Any]) -> Any:
    def apply(d: dict[str, Any]) -> None:
        cur: Any = d
        for p in path[:-1]:
            cur = cur[p]
        del cur[path[-1]]
    return apply


# (case id, snapshot bytes or dict, text expected in the message)
SNAPSHOT_CASES: list[tuple[str, Any, str]] = [
    ("empty file", b"", "file is empty"),
    ("whitespace only", b"  \n\t", "file is empty"),
    ("binary", bytes(range(256)) * 4, "not a UTF-8"),
    ("truncated json", json.dumps(_good_snapshot())[:200].encode(), "not valid JSON"),
    ("json array", b"[1, 2]", "expected a JSON object"),
    ("wrong format", _mutate(_set(["format"], "poolshift.inventory/v2")), "$.format"),
    ("missing format", _mutate(_delete(["format"])), "$.format"),
    ("missing project_id", _mutate(_delete(["project_id"])), "$.project_id"),
    ("pools not a list", _mutate(_set(["pools"], {"a": 1})), "$.pools"),
    ("nodes not an object", _mutate(_set(["nodes"], [])), "$.nodes"),
    ("pool without metadata.name", _mutate(_delete(["pools", 0, "metadata", "name"])), "$.pools[0].metadata.name"),
    ("pool name is a number", _mutate(_set(["pools", 1, "metadata", "name"], 7)), "$.pools[1].metadata.name"),
    ("duplicate pool names", _mutate(_set(["pools", 1, "metadata", "name"], "pool-a")), "duplicate pool name"),
    ("pool without status.phase", _mutate(_delete(["pools", 0, "status", "phase"])), "$.pools[0].status.phase"),
    ("flavor not a string", _mutate(_set(["pools", 0, "spec", "resources", 0, "flavor"], ["x"])),
     "$.pools[0].spec.resources[0].flavor"),
    ("negative maxCount", _mutate(_set(["pools", 0, "spec", "resources", 0, "maxCount"], -1)), "maxCount"),
    ("nodes under an unknown pool", _mutate(_set(["nodes", "pool-zzz"], [node("z-1")])), "pool-zzz"),
    ("duplicate node names", _mutate(_set(["nodes", "pool-b", 0, "metadata", "name"], "a-0")), "duplicate node name"),
    ("node without spec.flavor", _mutate(_delete(["nodes", "pool-a", 1, "spec", "flavor"])), "spec.flavor"),
    ("node without status", _mutate(_delete(["nodes", "pool-a", 2, "status"])), ".status"),
    ("node labels not strings", _mutate(_set(["nodes", "pool-a", 0, "metadata", "labels"], {"k": 1})), "labels"),
    ("negative usedIps", _mutate(_set(["networks", 0, "subnets", 0, "usedIps"], -3)), "usedIps"),
    ("negative totalIps", _mutate(_set(["networks", 0, "subnets", 0, "totalIps"], -1)), "totalIps"),
    ("totalIps is a string", _mutate(_set(["networks", 0, "subnets", 0, "totalIps"], "250")), "totalIps"),
    ("totalIps is a boolean", _mutate(_set(["networks", 0, "subnets", 0, "totalIps"], True)), "totalIps"),
    ("subnet without networkId", _mutate(_delete(["networks", 0, "subnets", 0, "networkId"])), "networkId"),
    ("network without name", _mutate(_delete(["networks", 0, "name"])), "$.networks[0].name"),
    # PRODUCT §9: the optional `workloads` key and the node fields busy nodes are told by
    ("workloads not an object", _mutate(_set(["workloads"], [])), "$.workloads: expected object"),
    ("workloads of an unknown pool", _mutate(_set(["workloads"], {"pool-zzz": []})), '$.workloads["pool-zzz"]'),
    ("workload without status", _mutate(_set(["workloads"], {"pool-a": [{"name": "job"}]})),
     '$.workloads["pool-a"][0].status: required field is missing'),
    ("node privateIp not a string", _mutate(_set(["nodes", "pool-a", 0, "status", "privateIp"], 1)),
     '$.nodes["pool-a"][0].status.privateIp'),
    ("accelerator amount not a quantity", _mutate(lambda d: d["nodes"]["pool-a"][0]["status"].update(
        resources={"nvidia.com/gpu": "eight"}, availableResources={"nvidia.com/gpu": "8"})),
     '$.nodes["pool-a"][0].status.resources["nvidia.com/gpu"]: expected a quantity'),
]

GOOD_SPEC = spec({"pool-a": {"target": 4}, "pool-b": {"target": 4}})

SPEC_CASES: list[tuple[str, Any, str]] = [
    ("empty spec", b"", "file is empty"),
    ("binary spec", b"\x00\x01\x02\xff\xfe", "not a UTF-8"),
    ("not yaml", b"pools: [unclosed\n  - x: {", "not valid YAML"),
    ("yaml list", b"- a\n- b\n", "top level must be a mapping"),
    ("wrong format", {**GOOD_SPEC, "format": "poolshift.spec/v0"}, "format"),
    ("missing format", {k: v for k, v in GOOD_SPEC.items() if k != "format"}, "format"),
    ("unknown top-level key", {**GOOD_SPEC, "targets": {}}, "targets: unknown key"),
    ("unknown pool key", spec({"pool-a": {"taget": 3}}), "pools.pool-a.taget: unknown key"),
    ("unknown pool", spec({"pool-nope": {"target": 3}}), "pools.pool-nope"),
    ("unknown pinned node", spec({}, pin=["ghost-node"]), "pin[0]"),
    ("negative target", spec({"pool-a": {"target": -2}}), "pools.pool-a.target"),
    ("target not a number", spec({"pool-a": {"target": "many"}}), "pools.pool-a.target"),
    ("min above max", spec({"pool-a": {"min": 5, "max": 3}}), "greater than max"),
    ("min_nodes below 2", spec({}, defaults={"min_nodes": 1}), "defaults.min_nodes"),
    ("ips_per_node below 1", spec({}, defaults={"ips_per_node": 0}), "defaults.ips_per_node"),
    ("negative ip_reserve", spec({}, defaults={"ip_reserve": -1}), "defaults.ip_reserve"),
    ("max_batch_size below 1", spec({}, limits={"max_batch_size": 0}), "limits.max_batch_size"),
    ("negative max_moves", spec({}, limits={"max_moves": -5}), "limits.max_moves"),
    ("flavor target not accepted", spec({"pool-a": {"flavors": {"f.zzz": 2}}}), "pools.pool-a.flavors.f.zzz"),
    ("bad balance", spec({}, balance="fair"), "balance"),
    ("accept not a boolean", spec({"pool-a": {"accept": "maybe"}}), "pools.pool-a.accept"),
    ("empty flavor_compat list", spec({}, flavor_compat={"f.a": []}), "flavor_compat.f.a"),
    # contradictions (PRODUCT §3, ruling of 2026-11-29): the pool and both numbers are named
    ("target above max", spec({"pool-a": {"target": 7, "max": 2}}), "pools.pool-a: target (7) is above max (2)"),
    ("target below min", spec({"pool-a": {"target": 3, "min": 5}}), "pools.pool-a: target (3) is below min (5)"),
    ("flavor targets above max", spec({"pool-a": {"max": 5, "flavors": {"f.a": 4, "f.b": 3}}}),
     "pools.pool-a: flavor targets add up to 7, above max (5)"),
]


def _write(tmp: Path, name: str, content: Any, as_yaml: bool = False) -> Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif as_yaml:
        path.write_text(yaml.safe_dump(content))
    else:
        path.write_text(json.dumps(content))
    return path


def _run_plan(tmp: Path, inventory: Path, spec_path: Path) -> Any:
    out = tmp / "plan.json"
    result = CliRunner().invoke(main, ["plan", "--inventory", str(inventory), "--spec", str(spec_path),
                                       "-o", str(out)])
    return result, out


@pytest.mark.parametrize(("case", "content", "expected"), SNAPSHOT_CASES, ids=[c[0] for c in SNAPSHOT_CASES])
def test_bad_snapshot_exits_2_naming_file_and_field(tmp_path: Path, case: str, content: Any, expected: str) -> None:
    inv = _write(tmp_path, "snap.json", content)
    sp = _write(tmp_path, "spec.yaml", GOOD_SPEC, as_yaml=True)
    result, out = _run_plan(tmp_path, inv, sp)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert str(inv) in lines[0] and expected in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(("case", "content", "expected"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_bad_spec_exits_2_naming_file_and_key(tmp_path: Path, case: str, content: Any, expected: str) -> None:
    inv = _write(tmp_path, "snap.json", _good_snapshot())
    sp = _write(tmp_path, "spec.yaml", content, as_yaml=True)
    result, out = _run_plan(tmp_path, inv, sp)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert str(sp) in lines[0] and expected in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()


def test_missing_files_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    sp = _write(tmp_path, "spec.yaml", GOOD_SPEC, as_yaml=True)
    result, _ = _run_plan(tmp_path, tmp_path / "nope.json", sp)
    assert result.exit_code == 2 and "nope.json: file not found" in result.output
    runner = CliRunner()
    r = runner.invoke(main, ["plan", "--spec", str(sp)])
    assert r.exit_code == 2 and "--inventory" in r.output
    r = runner.invoke(main, ["plan", "--inventory", str(sp), "--spec", str(sp), "--time-limit", "-1"])
    assert r.exit_code == 2


def test_a_target_below_the_floor_plans_with_one_warning_naming_the_pool(tmp_path: Path) -> None:
    inv = _write(tmp_path, "snap.json", {**_good_snapshot(), "workloads": {}})  # workloads known: no §9 warning
    sp = _write(tmp_path, "spec.yaml", spec({"pool-a": {"target": 1}, "pool-b": {"target": 4}},
                                            defaults={"min_nodes": 3}), as_yaml=True)
    result, out = _run_plan(tmp_path, inv, sp)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [f"poolshift: warning: {sp}: pools.pool-a: target 1 is below the floor 3 every pool keeps "
                        f"(defaults.min_nodes, at least 2); it will not go below 3 nodes"]
    assert out.exists()


def test_there_are_at_least_25_rejection_cases() -> None:
    assert len(SNAPSHOT_CASES) + len(SPEC_CASES) >= 25


def test_pool_listed_by_display_name_is_accepted(tmp_path: Path) -> None:
    snap = snapshot([pool("pool-a", display="alpha"), pool("pool-b", display="beta")],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2)})
    inv = _write(tmp_path, "snap.json", snap)
    sp = _write(tmp_path, "spec.yaml", spec({"alpha": {"target": 4}, "beta": {"target": 4}}), as_yaml=True)
    result, out = _run_plan(tmp_path, inv, sp)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["summary"]["deviation_after"] == 0


def test_a_display_name_two_pools_share_is_refused_naming_both(tmp_path: Path) -> None:
    snap = snapshot([pool("pool-a", display="gpu"), pool("pool-b", display="gpu")],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2)})
    inv = _write(tmp_path, "snap.json", snap)
    sp = _write(tmp_path, "spec.yaml", spec({"gpu": {"target": 4}}), as_yaml=True)
    result, out = _run_plan(tmp_path, inv, sp)
    assert result.exit_code == 2 and not out.exists()
    assert f"{sp}: pools.gpu: display name 'gpu' is shared by pools pool-a, pool-b" in result.output
