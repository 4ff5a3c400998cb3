"""The workload API (ListWorkloads, ShowPoolNode, batch-drain, batch-lock/unlock) in the client and the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from planner.errors import ApiStatusError
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.pull import pull_snapshot
from tests.api.cases import body, in_process
from tests.emulator_server import run_emulator, sample_snapshot

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory.json"
PID = "0123456789abcdef0123456789abcdef"
T0 = 1_780_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def workload(name: str, ips: list[str], status: str = "Running", kind: str = "train") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Workload", "type": kind, "namespace": "default", "name": name,
            "uid": f"uid-{name}", "status": status, "priority": "1", "hostIps": ",".join(ips),
            "nodes": [{"hostIp": ip} for ip in ips]}


def with_workloads() -> dict[str, Any]:
    """The sample inventory with GPU resources on pool-src's nodes and workloads on some of them."""
    seed = sample_snapshot()
    for node in seed["nodes"]["pool-src"]:
        node["status"]["resources"] = {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "8"}
        node["status"]["availableResources"] = {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "0"}
    seed["workloads"] = {"pool-src": [
        workload("train-a", ["192.168.0.10", "192.168.0.11"]),      # src-1, src-2
        workload("infer-b", ["192.168.0.12"], kind="infer"),         # src-3
        workload("pending-c", ["192.168.0.13"], status="Pending"),   # src-4, not running
    ]}
    return seed


def names(items: list[dict[str, Any]]) -> list[str]:
    return [str(i["name"]) for i in items]


# -- ListWorkloads ---------------------------------------------------------------------------------------------


def test_list_workloads_by_pool_pages_and_filters_running() -> None:
    client, _ = in_process(with_workloads())
    seen: list[httpx.Request] = []
    client._http.event_hooks["request"].append(seen.append)
    assert names(client.list_workloads("pool-src", page_size=1)) == ["train-a", "infer-b"]
    assert [(r.url.params.get("offset"), r.url.params["limit"], r.url.params["status"]) for r in seen] == [
        (None, "1", "Running"), ("1", "1", "Running"), ("2", "1", "Running")]
    assert names(client.list_workloads("pool-src", status=None)) == ["train-a", "infer-b", "pending-c"]
    assert names(client.list_workloads("pool-src", workload_type="infer")) == ["infer-b"]
    assert client.list_workloads("pool-dst") == []


def test_list_workloads_by_host_ip_is_one_unpaged_request() -> None:
    client, _ = in_process(with_workloads())
    seen: list[httpx.Request] = []
    client._http.event_hooks["request"].append(seen.append)
    found = client.list_workloads("pool-src", host_ips=["192.168.0.11", "192.168.0.12", "192.168.0.99"])
    assert names(found) == ["train-a", "infer-b"]
    assert len(seen) == 1 and seen[0].url.params["hostip"] == "192.168.0.11,192.168.0.12,192.168.0.99"
    assert "limit" not in seen[0].url.params


def paging_client(serve: Any) -> tuple[ModelArtsClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return serve(request)  # type: ignore[no-any-return]

    return ModelArtsClient(httpx.Client(transport=httpx.MockTransport(record), base_url="https://m.test"), PID), seen


def test_list_workloads_stops_when_the_server_ignores_offset() -> None:
    client, seen = paging_client(lambda r: httpx.Response(200, json={"items": [workload("a", []), workload("b", [])]}))
    assert names(client.list_workloads("p", page_size=2)) == ["a", "b"]
    assert len(seen) == 2  # the second page added nothing new


def test_list_workloads_follows_continue_tokens_when_the_server_sends_them() -> None:
    pages = {"": (["a", "b"], "t1"), "t1": (["c"], "")}

    def serve(request: httpx.Request) -> httpx.Response:
        items, token = pages[request.url.params.get("continue", "")]
        return httpx.Response(200, json={"metadata": {"continue": token}, "items": [workload(n, []) for n in items]})

    client, seen = paging_client(serve)
    assert names(client.list_workloads("p", page_size=2)) == ["a", "b", "c"]
    assert [r.url.params.get("continue") for r in seen] == [None, "t1"]


# -- drain, lock, ShowPoolNode ------------------------------------------------------------------------------------


def test_drain_sends_at_most_ten_nodes_per_call() -> None:
    client, seen = paging_client(lambda r: httpx.Response(200, json={"ok": True}))
    nodes = [f"n{i:02d}" for i in range(23)]
    assert client.drain_nodes("pool-a", nodes + ["n00"]) == [{"ok": True}] * 3
    bodies = [json.loads(r.content) for r in seen]
    assert [len(b["nodeNames"]) for b in bodies] == [10, 10, 3]
    assert [n for b in bodies for n in b["nodeNames"]] == nodes
    assert {r.url.path for r in seen} == {f"/v2/{PID}/pools/pool-a/nodes/batch-drain"}


def test_drained_workloads_end_after_drain_seconds_and_free_the_accelerators() -> None:
    clock = Clock()
    client, state = in_process(with_workloads(), drain_seconds=60, clock=clock)
    assert client.drain_nodes("pool-src", ["src-1"]) == [{"nodes": [{"name": "src-1", "status": "success"}]}]
    assert names(client.list_workloads("pool-src")) == ["train-a", "infer-b"]  # still running
    clock.now += 60
    assert names(client.list_workloads("pool-src")) == ["infer-b"]
    ended = {w["name"]: w["status"] for w in client.list_workloads("pool-src", status=None)}
    assert ended == {"train-a": "Terminated", "infer-b": "Running", "pending-c": "Pending"}
    gpus = {n: client.show_pool_node("pool-src", n)["status"]["availableResources"]["nvidia.com/gpu"]
            for n in ("src-1", "src-2", "src-3")}
    assert gpus == {"src-1": "8", "src-2": "8", "src-3": "0"}  # the job spanned src-1 and src-2
    assert state.dump()["drains"] == [{"pool": "pool-src", "nodes": ["src-1"], "at": T0}]
    assert state.dump()["disrupted"] == []


def test_drain_refuses_more_than_ten_nodes_and_foreign_nodes() -> None:
    client, _ = in_process()
    with pytest.raises(ApiStatusError, match="at most 10 nodes"):
        client._post_idempotent(client._v2("pools", "pool-src", "nodes", "batch-drain"),
                                {"nodeNames": [f"n{i}" for i in range(11)]})
    with pytest.raises(ApiStatusError, match="node dst-1 is not in pool pool-src"):
        client.drain_nodes("pool-src", ["dst-1"])


def test_lock_and_unlock_set_the_lock_annotation() -> None:
    client, _ = in_process()
    answer = client.lock_nodes("pool-src", ["src-1", "ghost"], actions=["migrate", "delete"])
    assert answer == {"nodes": [{"name": "src-1", "status": "success"}, {"name": "ghost", "status": "failed"}]}
    lock = "os.modelarts.node/lock.action"
    assert client.show_pool_node("pool-src", "src-1")["metadata"]["annotations"][lock] == "delete,migrate"
    with pytest.raises(ApiStatusError, match="locked"):
        client.migrate_nodes("pool-src", body(["src-1"]))
    client.unlock_nodes("pool-src", ["src-1"], actions=["migrate"])
    assert client.show_pool_node("pool-src", "src-1")["metadata"]["annotations"][lock] == "delete"
    client.unlock_nodes("pool-src", ["src-1"], actions=["delete"])
    assert lock not in client.show_pool_node("pool-src", "src-1")["metadata"]["annotations"]
    client.migrate_nodes("pool-src", body(["src-1"]))


def test_show_pool_node_answers_404_for_a_node_elsewhere() -> None:
    client, _ = in_process()
    assert client.show_pool_node("pool-dst", "dst-1")["metadata"]["name"] == "dst-1"
    with pytest.raises(ApiStatusError) as info:
        client.show_pool_node("pool-src", "dst-1")
    assert info.value.status == 404


# -- what ends a workload -------------------------------------------------------------------------------------------


def test_a_migrated_busy_node_ends_its_workload_and_is_recorded() -> None:
    client, state = in_process(with_workloads())
    job_id = client.migrate_nodes("pool-src", body(["src-3", "src-5"]))
    disrupted = state.dump()["disrupted"]
    assert [(d["job_id"], d["node"], d["workload"], d["type"]) for d in disrupted] == [
        (job_id, "src-3", "infer-b", "infer")]
    assert names(client.list_workloads("pool-src")) == ["train-a"]


def test_a_workload_starts_on_a_node_at_the_given_request_count() -> None:
    client, _ = in_process(start_workloads=[{"node": "dst-1", "at_request": 3, "name": "surprise", "type": "notebook"}])
    assert client.list_workloads("pool-dst") == []          # request 1
    assert client.list_workloads("pool-dst") == []          # request 2
    found = client.list_workloads("pool-dst", host_ips=["192.168.0.19"])  # request 3: it has started
    assert [(w["name"], w["type"], w["status"], w["hostIps"]) for w in found] == [
        ("surprise", "notebook", "Running", "192.168.0.19")]


@pytest.mark.emulator
def test_pull_writes_the_running_workloads_of_every_pool() -> None:
    seed = json.loads(EXAMPLE.read_text())
    with run_emulator(seed) as emu, emu.client(read_only=True) as client:
        pulled = pull_snapshot(client, emu.region, emu.project_id)
    assert set(pulled["workloads"]) == {p["metadata"]["name"] for p in seed["pools"]}
    assert pulled["workloads"] == seed["workloads"]
    assert {n: len(ws) for n, ws in pulled["workloads"].items() if ws} == {
        "pool-3f9a21c8-train-a": 1, "pool-8c2b6f10-infer-a": 1, "pool-e6b91a07-ascend-a": 1}
    nodes = {n["metadata"]["name"]: n for items in pulled["nodes"].values() for n in items}
    assert all({"privateIp", "resources", "availableResources"} <= set(n["status"]) for n in nodes.values())
