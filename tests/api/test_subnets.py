"""Subnet discovery without undocumented fields: every fallback, the provenance record, and the warning."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.inventory import build_inventory
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.pull import pull_snapshot
from planner.modelarts.subnets import (
    SOURCE_AVAILABLE_IP,
    SOURCE_NODES,
    SOURCE_SHOW_NETWORK,
    SOURCE_SHOW_POOL,
    SOURCE_SPEC,
)
from tests.api.cases import in_process
from tests.emulator_server import run_emulator, sample_snapshot

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory.json"
PID = "0123456789abcdef0123456789abcdef"


def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def subnets_by_pool(snapshot: dict[str, Any]) -> dict[str, str | None]:
    return {pool: entry["subnet"] for pool, entry in snapshot["pool_subnets"].items()}


def networks(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(({"name": n["name"], "subnets": sorted(n["subnets"], key=lambda s: s["networkId"])}
                   for n in snapshot["networks"]), key=lambda n: n["name"])


def pool(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in snapshot["pools"] if p["metadata"]["name"] == name)


@pytest.mark.emulator
def test_documented_shape_gives_every_example_pool_the_subnet_of_the_full_shape() -> None:
    seed = example()
    facts = build_inventory(seed).columns["pools"]
    expected = dict(zip(facts["pool"], facts["subnet"], strict=True))
    assert None not in expected.values()
    pulled = {}
    for shape in ("full", "documented"):
        with run_emulator(seed, shape=shape) as emu, emu.client(read_only=True) as client:  # type: ignore[arg-type]
            pulled[shape] = pull_snapshot(client, emu.region, emu.project_id)
    full, documented = pulled["full"], pulled["documented"]
    assert subnets_by_pool(documented) == subnets_by_pool(full) == expected
    assert networks(documented) == networks(full) == networks(seed)  # address counts known for every subnet
    assert {e["source"] for e in full["pool_subnets"].values()} == {SOURCE_SPEC, SOURCE_SHOW_NETWORK}
    assert {e["source"] for e in documented["pool_subnets"].values()} == {SOURCE_NODES}
    # the documented answers really lack the undocumented fields
    assert all(set(p["spec"]["network"]) == {"name"} for p in documented["pools"])
    east = documented["pool_subnets"]["pool-3f9a21c8-train-a"]["tried"]
    assert east == [f"{SOURCE_SPEC}: field absent", f"{SOURCE_SHOW_NETWORK}: field absent",
                    f"{SOURCE_SHOW_POOL}: no resource names a subnet"]


def test_documented_show_network_has_no_subnets() -> None:
    client, _ = in_process(shape="documented")
    assert "subnets" not in client.show_network("net-a")["status"]
    full, _ = in_process()
    assert [s["networkId"] for s in full.show_network("net-a")["status"]["subnets"]] == ["subnet-a1"]


def test_show_network_available_ip_by_network_names_the_only_subnet() -> None:
    """pool-lite-b has no nodes; in the documented shape its subnetId is left out: only the network answers."""
    client, _ = in_process(shape="documented")
    snapshot = pull_snapshot(client, "cn-north-4", client.project_id)
    entry = snapshot["pool_subnets"]["pool-lite-b"]
    assert entry == {"subnet": "subnet-a1", "source": SOURCE_AVAILABLE_IP, "tried": [
        f"{SOURCE_SPEC}: field absent", f"{SOURCE_SHOW_NETWORK}: field absent",
        f"{SOURCE_SHOW_POOL}: no resource names a subnet", f"{SOURCE_NODES}: the pool has no nodes"]}


def test_pool_resources_name_the_subnet_when_the_network_has_several() -> None:
    seed = sample_snapshot()
    lite_b = pool(seed, "pool-lite-b")
    lite_b["spec"]["network"] = {"name": "net-two"}
    lite_b["spec"]["resources"][0]["network"] = {"vpc": "vpc-0001", "subnet": "subnet-two-2"}
    client, state = in_process(seed)
    snapshot = pull_snapshot(client, "cn-north-4", client.project_id)
    assert snapshot["pool_subnets"]["pool-lite-b"]["subnet"] == "subnet-two-2"
    assert snapshot["pool_subnets"]["pool-lite-b"]["source"] == SOURCE_SHOW_POOL
    assert "2 subnets" in snapshot["pool_subnets"]["pool-lite-b"]["tried"][1]
    # the emulator knows the same subnet when the pool receives nodes
    assert state.store.pool_subnet(state.store.pools["pool-lite-b"], strict=True) == "subnet-two-2"


def test_show_pool_is_asked_when_the_listed_pool_lacks_resource_networks() -> None:
    listed = {"metadata": {"name": "pool-x"}, "spec": {"type": "Dedicate", "network": {"name": "net"},
                                                      "resources": [{"flavor": "f"}]}, "status": {"phase": "Running"}}
    shown = copy.deepcopy(listed)
    shown["spec"]["resources"][0]["network"] = {"subnet": "subnet-9"}
    usage = {"networkId": "subnet-9", "subnetIpAvailability": [{"cidr": "10.9.0.0/24", "ipVersion": 4,
                                                                "usedIps": 5, "totalIps": 250}]}
    seen: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(f"/v2/{PID}").removeprefix(f"/v1/{PID}")
        seen.append(f"{path}?{request.url.query.decode()}")
        answers = {"/pools": {"items": [listed]}, "/pools/pool-x": shown, "/pools/pool-x/nodes": {"items": []},
                   "/networks/net": {"metadata": {"name": "net"}, "status": {"phase": "Active"}},
                   "/networks/net/network-ip-availabilities": usage, "/pools/pool-x/workloads": {"items": []}}
        return httpx.Response(200, json=answers[path])

    client = ModelArtsClient(httpx.Client(transport=httpx.MockTransport(serve), base_url="https://m.test"), PID)
    snapshot = pull_snapshot(client, None, PID)
    assert snapshot["pool_subnets"]["pool-x"] == {"subnet": "subnet-9", "source": SOURCE_SHOW_POOL, "tried": [
        f"{SOURCE_SPEC}: field absent", f"{SOURCE_SHOW_NETWORK}: field absent"]}
    assert snapshot["networks"] == [{"name": "net", "subnets": [
        {"networkId": "subnet-9", "cidr": "10.9.0.0/24", "totalIps": 250, "usedIps": 5}]}]
    assert "/pools/pool-x?" in seen and "region" not in snapshot


def test_nodes_that_disagree_leave_the_subnet_unknown_and_say_why() -> None:
    client, _ = in_process()
    warnings: list[str] = []
    snapshot = pull_snapshot(client, "cn-north-4", client.project_id, warnings=warnings)
    wide = snapshot["pool_subnets"]["pool-wide"]
    assert wide["subnet"] is None and wide["source"] is None
    assert f"{SOURCE_NODES}: 2 different subnets" in wide["tried"]
    assert any(w.startswith("pool pool-wide: subnet unknown") for w in warnings)


@pytest.mark.emulator
def test_inventory_pull_warns_for_a_pool_with_every_source_removed(tmp_path: Path) -> None:
    """pool-lite-b: no subnetId (documented), a network of two subnets, no nodes, no resource network."""
    seed = sample_snapshot()
    pool(seed, "pool-lite-b")["spec"]["network"] = {"name": "net-two"}
    out = tmp_path / "snap.json"
    with run_emulator(seed, shape="documented") as emu:
        result = CliRunner().invoke(main, ["inventory", "pull", *emu.cli_args(), "-o", str(out)], env=emu.env())
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.stderr.splitlines() if "pool pool-lite-b" in line)
    assert warning.startswith("poolshift: warning: pool pool-lite-b: subnet unknown, it cannot receive nodes")
    for source in (SOURCE_SPEC, SOURCE_SHOW_NETWORK, SOURCE_SHOW_POOL, SOURCE_NODES, SOURCE_AVAILABLE_IP):
        assert f"{source}: " in warning
    assert "network_id is required" in warning
    snapshot = json.loads(out.read_text())
    assert snapshot["pool_subnets"]["pool-lite-b"]["subnet"] is None
    assert result.stdout.startswith(f"wrote {out}")
    # ... and `plan` on that snapshot explains that the pool cannot receive (it wants two more nodes)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("format: poolshift.spec/v1\npools:\n  pool-lite-b:\n    target: "
                         f"{len(snapshot['nodes']['pool-lite-b']) + 2}\n")
    planned = CliRunner().invoke(main, ["plan", "--inventory", str(out), "--spec", str(spec_file),
                                        "-o", str(tmp_path / "plan.json")])
    assert planned.exit_code == 0, planned.output
    residual = json.loads((tmp_path / "plan.json").read_text())["pools"]["pool-lite-b"]["residual"]
    assert residual["short"] == 2 and "no known subnet" in residual["limited_by"]
