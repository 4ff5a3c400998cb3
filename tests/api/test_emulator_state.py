"""The emulator's state machine driven directly (no HTTP): jobs on a controlled clock, IPs, refusals, paging."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from planner.errors import InputError
from planner.modelarts.emulator.state import EmulatorState, Faults, Refusal
from tests.api.cases import CPU, CPUD, REFUSALS, body, lite
from tests.emulator_server import sample_snapshot

T0 = 1_780_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def names(state: EmulatorState, pool: str) -> list[str]:
    return [n["metadata"]["name"] for n in state.list_pool_nodes(pool)["items"]]


def subnet(state: EmulatorState, network: str, subnet_id: str) -> dict[str, Any]:
    usage = state.show_network_available_ip(network, subnet_id)["subnetIpAvailability"][0]
    return {"used": usage["usedIps"], "free": usage["totalIps"] - usage["usedIps"]}


def test_a_job_moves_nodes_as_creating_then_available_and_accounts_ips() -> None:
    clock = Clock()
    state = EmulatorState(sample_snapshot(), job_seconds=30, clock=clock)
    assert subnet(state, "net-a", "subnet-a1")["used"] == 40
    job_id = state.batch_migrate("pool-src", body(["src-1", "src-2"]))
    assert "src-1" not in names(state, "pool-src")
    moved = {n["metadata"]["name"]: n for n in state.list_pool_nodes("pool-dst")["items"]}
    assert moved["src-1"]["status"]["phase"] == "Creating" and moved["src-1"]["spec"]["flavor"] == CPUD
    assert moved["src-1"]["spec"]["hostNetwork"]["subnet"] == "subnet-a1"
    assert state.get_job(job_id)["phase"] == "Running"
    assert subnet(state, "net-a", "subnet-a1")["used"] == 42  # target takes its addresses at once
    clock.now += 29
    assert state.get_job(job_id)["phase"] == "Running"
    clock.now += 1
    job = state.get_job(job_id)
    assert job["phase"] == "Success" and job["endTimestamp"] == int((T0 + 30) * 1000)
    moved = {n["metadata"]["name"]: n for n in state.list_pool_nodes("pool-dst")["items"]}
    assert moved["src-1"]["status"]["phase"] == "Available"
    assert subnet(state, "net-a", "subnet-a1")["used"] == 40  # the source addresses are freed when it ends


def test_advance_moves_emulator_time() -> None:
    state = EmulatorState(sample_snapshot(), job_seconds=60, clock=Clock())
    job_id = state.batch_migrate("pool-src", body(["src-1"]))
    state.advance(60)
    assert state.get_job(job_id)["phase"] == "Success"
    with pytest.raises(ValueError):
        state.advance(-1)


def test_a_failed_job_leaves_the_nodes_where_they_were() -> None:
    clock = Clock()
    snapshot = sample_snapshot()
    state = EmulatorState(snapshot, job_seconds=10, clock=clock, faults=Faults(fail_jobs=1))
    before = copy.deepcopy(state.inventory())
    job_id = state.batch_migrate("pool-src", body(["src-1"]))
    assert "src-1" in names(state, "pool-dst")
    clock.now += 10
    job = state.get_job(job_id)
    assert job["phase"] == "Failed" and job["message"]
    after = state.inventory()
    assert after["nodes"] == before["nodes"] and after["networks"] == before["networks"]
    assert state.faults.fail_jobs == 0
    assert state.get_job(state.batch_migrate("pool-src", body(["src-1"])))["phase"] == "Running"


def test_fail_nodes_fault_targets_one_migration() -> None:
    state = EmulatorState(sample_snapshot(), faults=Faults(fail_nodes=["src-2"]))
    assert state.get_job(state.batch_migrate("pool-src", body(["src-1"])))["phase"] == "Success"
    assert state.get_job(state.batch_migrate("pool-src", body(["src-2"])))["phase"] == "Failed"


def test_super_node_moves_whole_into_another_cluster() -> None:
    state = EmulatorState(sample_snapshot())
    hyper = [f"hyper-{i}" for i in range(1, 5)]
    request = lite(hyper, creatingStep={"step": 4, "type": "hyperinstance"})
    state.get_job(state.batch_migrate("pool-lite-a", request))
    moved = state.list_pool_nodes("pool-lite-b")["items"]
    assert [n["metadata"]["name"] for n in moved] == hyper
    assert {n["metadata"]["labels"]["os.modelarts.node/cluster"] for n in moved} == {"lite-cluster-2"}


def refusal(state: EmulatorState, pool: str, request: Any) -> Refusal:
    with pytest.raises(Refusal) as info:
        state.batch_migrate(pool, request)
    return info.value


@pytest.mark.parametrize(("pool", "request_body", "status", "fragment"), REFUSALS)
def test_batch_migrate_refusals(pool: str, request_body: Any, status: int, fragment: str) -> None:
    state = EmulatorState(sample_snapshot())
    before = state.inventory()
    error = refusal(state, pool, request_body)
    assert error.status == status
    assert error.error_code == ("ModelArts.50015001" if status == 404 else "ModelArts.50004000")
    assert fragment in error.error_msg
    assert state.inventory()["nodes"] == before["nodes"] and state.migrate_requests == []


def test_a_node_in_flight_cannot_move_again() -> None:
    state = EmulatorState(sample_snapshot(), job_seconds=10, clock=Clock())
    state.batch_migrate("pool-src", body(["src-1"]))
    error = refusal(state, "pool-dst", body(["src-1"], to="pool-src", src_cluster="pool-dst", flavor=CPU))
    assert "phase is Creating" in error.error_msg


def test_subnet_room_counts_addresses_already_taken_by_running_jobs() -> None:
    snapshot = sample_snapshot()
    snapshot["networks"][0]["subnets"][0]["usedIps"] = 249  # net-a: 2 free
    state = EmulatorState(snapshot, job_seconds=10, clock=Clock())
    state.batch_migrate("pool-src", body(["src-1", "src-2"]))
    assert "0 free IP" in refusal(state, "pool-src", body(["src-3"])).error_msg


def test_node_paging_and_bad_tokens() -> None:
    state = EmulatorState(sample_snapshot())
    first = state.list_pool_nodes("pool-src", limit=4)
    assert len(first["items"]) == 4 and first["metadata"]["remainingItemCount"] == 5
    second = state.list_pool_nodes("pool-src", limit=4, continue_token=first["metadata"]["continue"])
    third = state.list_pool_nodes("pool-src", limit=4, continue_token=second["metadata"]["continue"])
    assert third["metadata"] == {"continue": "", "remainingItemCount": 0} and len(third["items"]) == 1
    for bad in ("garbage!", first["metadata"]["continue"] + "x"):
        with pytest.raises(Refusal, match="invalid continue token"):
            state.list_pool_nodes("pool-src", continue_token=bad)
    with pytest.raises(Refusal, match="limit"):
        state.list_pool_nodes("pool-src", limit=501)
    state.faults.ignore_paging = True
    assert state.list_pool_nodes("pool-src", limit=4) == {
        "apiVersion": "v2", "kind": "NodeList", "metadata": {}, "items": first["items"] + second["items"] +
        third["items"]}


def test_list_pools_filters() -> None:
    state = EmulatorState(sample_snapshot())
    every = [p["metadata"]["name"] for p in state.list_pools()["items"]]
    assert len(every) == 8
    assert [p["metadata"]["name"] for p in state.list_pools(status="creating")["items"]] == ["pool-creating"]
    assert state.list_pools(status="failed")["items"] == []
    selected = state.list_pools(label_selector="os.modelarts/name=pool-src")["items"]
    assert [p["metadata"]["name"] for p in selected] == ["pool-src"]
    with pytest.raises(Refusal):
        state.list_pools(status="bogus")


def test_list_jobs_filters_by_pool_and_time() -> None:
    clock = Clock()
    state = EmulatorState(sample_snapshot(), clock=clock)
    first = state.batch_migrate("pool-src", body(["src-1"]))
    clock.now += 100
    second = state.batch_migrate("pool-lite-a", lite(["lite-a-1"]))
    assert [j["jobId"] for j in state.list_jobs()["items"]] == [second, first]  # newest first
    assert [j["jobId"] for j in state.list_jobs(name="pool-dst")["items"]] == [first]
    assert state.list_jobs(since_ms=int((T0 + 50) * 1000))["count"] == 1
    assert state.list_jobs(limit=1, offset=1)["items"][0]["jobId"] == first
    assert state.list_jobs(job_type="reboot-node")["count"] == 0


def test_dump_has_requests_jobs_and_a_valid_inventory() -> None:
    from planner.inventory import build_inventory

    state = EmulatorState(sample_snapshot(), seed=3)
    job_id = state.batch_migrate("pool-src", body(["src-1"]))
    dump = state.dump()
    assert set(dump) == {"migrate_requests", "jobs", "inventory", "drains", "disrupted", "workloads", "history"}
    assert dump["drains"] == [] and dump["disrupted"] == []
    assert dump["migrate_requests"] == [{"pool_name": "pool-src", "body": body(["src-1"]), "job_id": job_id}]
    assert [j["jobId"] for j in dump["jobs"]] == [job_id]
    inventory = build_inventory(dump["inventory"])
    assert inventory.nodes.set_index("node").loc["src-1", "pool"] == "pool-dst"


def test_job_ids_follow_the_seed() -> None:
    first = EmulatorState(sample_snapshot(), seed=5).batch_migrate("pool-src", body(["src-1"]))
    again = EmulatorState(sample_snapshot(), seed=5).batch_migrate("pool-src", body(["src-1"]))
    other = EmulatorState(sample_snapshot(), seed=6).batch_migrate("pool-src", body(["src-1"]))
    assert first == again != other


def test_a_malformed_snapshot_is_an_input_error_with_its_path() -> None:
    snapshot = sample_snapshot()
    snapshot["networks"][0]["subnets"][0]["usedIps"] = -1
    with pytest.raises(InputError, match=r"seed.json: \$\.networks\[0\]\.subnets\[0\]\.usedIps"):
        EmulatorState(snapshot, source="seed.json")


# -- optional fields, as the documentation has them ----------------------------------------------------------


def test_to_pool_name_may_be_left_out_when_the_cluster_names_the_pool() -> None:
    state = EmulatorState(sample_snapshot())
    dedicated = {k: v for k, v in body(["src-1"]).items() if k != "toPoolName"}  # toClusterName is pool-dst
    job_id = state.batch_migrate("pool-src", dedicated)
    assert "src-1" in names(state, "pool-dst") and state.get_job(job_id)["phase"] == "Success"
    lite_request = {k: v for k, v in lite(["lite-a-1"]).items() if k != "toPoolName"}  # lite-cluster-2
    state.batch_migrate("pool-lite-a", lite_request)
    assert "lite-a-1" in names(state, "pool-lite-b")


def test_what_the_emulator_does_not_model_is_a_bad_request_that_says_so() -> None:
    state = EmulatorState(sample_snapshot())
    unknown_cluster = {k: v for k, v in body(["src-1"], dst_cluster="cluster-x").items() if k != "toPoolName"}
    with pytest.raises(Refusal, match="toPoolName is needed: cluster cluster-x holds 0 other pool"):
        state.batch_migrate("pool-src", unknown_cluster)
    every_node = {k: v for k, v in body(["src-1"]).items() if k != "migrateNodeNames"}
    with pytest.raises(Refusal, match="migrating every node of the pool .* is not modelled") as info:
        state.batch_migrate("pool-src", every_node)
    assert info.value.status == 400


# -- soak faults ---------------------------------------------------------------------------------------------


def test_failed_job_rate_is_seeded() -> None:
    def failures(seed: int) -> list[str]:
        state = EmulatorState(sample_snapshot(), seed=seed, faults=Faults(rate_failed_jobs=0.5))
        phases = []
        for node in ("src-1", "src-2", "src-3"):
            job_id = state.batch_migrate("pool-src", body([node]))
            phases.append(state.get_job(job_id)["phase"])
            if phases[-1] == "Success":
                state.batch_migrate("pool-dst", body([node], to="pool-src", src_cluster="pool-dst", flavor=CPU))
        return phases

    assert failures(1) == failures(1)
    assert {"Failed", "Success"} == set(failures(1) + failures(2) + failures(3))
    always = EmulatorState(sample_snapshot(), faults=Faults(rate_failed_jobs=1.0))
    assert always.get_job(always.batch_migrate("pool-src", body(["src-1"])))["phase"] == "Failed"


def test_a_lost_answer_is_accepted_by_the_emulator_and_raised_by_the_client_sent_once() -> None:
    """rate_lost_answer drops the answer after acceptance; the client's plain POST raises (the apply layer
    decides whether it was accepted, planner.apply.acceptance) and never sends it again on its own."""
    from planner.errors import ApiTransportError
    from tests.api.cases import in_process

    client, state = in_process(rate_lost_answer=1.0)
    with pytest.raises(ApiTransportError, match="batch-migrate"):
        client.migrate_nodes("pool-src", body(["src-1"]))
    assert len(state.migrate_requests) == 1 and state.migrate_requests[0]["body"]["migrateNodeNames"] == ["src-1"]
