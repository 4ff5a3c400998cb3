"""Contract tests: the client against the emulator over a real socket (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from planner.errors import ApiStatusError, ApiTransportError
from planner.inventory import build_inventory
from planner.modelarts.client import ModelArtsClient, RetryPolicy
from planner.modelarts.emulator.api import EmulatorApi
from planner.modelarts.emulator.server import EmulatorServer
from planner.modelarts.emulator.state import EmulatorState
from planner.modelarts.pull import pull_snapshot
from planner.modelarts.settings import Credentials
from tests.api.cases import CPUD, HYPER, REFUSALS, body, lite
from tests.api.test_signing import GET_SIGNATURE, HOST, POST_BODY, POST_SIGNATURE, VECTOR_TIME
from tests.emulator_server import EmulatorHandle, run_emulator, sample_snapshot

pytestmark = pytest.mark.emulator


def normalised(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Snapshot content without capture time and pull provenance (workspace, pool_subnets), with every list in
    name order (a pool without nodes or workloads: no entry)."""
    skip = {"captured_at", "pool_subnets", "workspace_id", "workspace_ids", "workloads"}
    data = copy.deepcopy({k: v for k, v in snapshot.items() if k not in skip})
    workloads = {pool: items for pool, items in (snapshot.get("workloads") or {}).items() if items}
    if workloads:
        data["workloads"] = copy.deepcopy(workloads)
    data["pools"].sort(key=lambda p: p["metadata"]["name"])
    data["nodes"] = {pool: sorted(nodes, key=lambda n: n["metadata"]["name"])
                     for pool, nodes in data["nodes"].items() if nodes}
    for network in data["networks"]:
        network["subnets"].sort(key=lambda s: s["networkId"])
    data["networks"].sort(key=lambda n: n["name"])
    return data


@pytest.fixture(scope="module")
def shared() -> Iterator[EmulatorHandle]:
    """One emulator for read-only tests and refusals (which change nothing)."""
    with run_emulator(sample_snapshot()) as handle:
        yield handle


# -- every endpoint -----------------------------------------------------------------------------------------


def test_pool_endpoints(shared: EmulatorHandle) -> None:
    with shared.client() as client:
        pools = client.list_pools()
        assert [p["metadata"]["name"] for p in pools] == [p["metadata"]["name"] for p in sample_snapshot()["pools"]]
        assert client.show_pool("pool-src") == sample_snapshot()["pools"][0]
        with pytest.raises(ApiStatusError) as info:
            client.show_pool("pool-nope")
    assert (info.value.status, info.value.error_code) == (404, "ModelArts.50015001")
    assert info.value.request_id and info.value.request_id.startswith("emu-")


def test_node_listing_with_paging(shared: EmulatorHandle) -> None:
    seen: list[httpx.Request] = []
    with shared.client() as client:
        client._http.event_hooks["request"].append(seen.append)  # count round trips
        nodes = client.list_pool_nodes("pool-src", page_size=2)
    assert len(nodes) == 9 and len(seen) == 5
    assert [n["metadata"]["name"] for n in nodes] == sorted(n["metadata"]["name"] for n in nodes)


def test_node_listing_when_paging_is_ignored() -> None:
    with run_emulator(faults={"ignore_paging": True}) as emu, emu.client() as client:
        seen: list[httpx.Request] = []
        client._http.event_hooks["request"].append(seen.append)
        assert len(client.list_pool_nodes("pool-src", page_size=2)) == 9
        assert len(seen) == 1


def test_network_endpoints(shared: EmulatorHandle) -> None:
    with shared.client() as client:
        network = client.show_network("net-two")
        assert [s["networkId"] for s in network["status"]["subnets"]] == ["subnet-two-1", "subnet-two-2"]
        usage = client.show_network_available_ip("net-a", "subnet-a1")
        assert usage["subnetIpAvailability"] == [{"cidr": "192.168.0.0/24", "ipVersion": 4, "usedIps": 40,
                                                  "totalIps": 251}]
        with pytest.raises(ApiStatusError) as info:
            client.show_network("net-nope")
    assert (info.value.status, info.value.error_code) == (404, "ModelArts.50025001")


def test_migrate_then_follow_the_job() -> None:
    with run_emulator(job_seconds=30) as emu, emu.client() as client:
        job_id = client.migrate_nodes("pool-src", body(["src-1", "src-2"]))
        assert client.get_job(job_id)["phase"] == "Running"
        assert [j["jobId"] for j in client.list_jobs(pool_name="pool-src")] == [job_id]
        creating = {n["metadata"]["name"]: n["status"]["phase"] for n in client.list_pool_nodes("pool-dst")}
        assert creating == {"dst-1": "Available", "dst-2": "Available", "src-1": "Creating", "src-2": "Creating"}
        emu.advance(30)
        job = client.get_job(job_id, pool_name="pool-src")
        assert job["phase"] == "Success" and job["endTimestamp"] >= job["startTimestamp"]
        assert {n["status"]["phase"] for n in client.list_pool_nodes("pool-dst")} == {"Available"}
        assert {n["spec"]["flavor"] for n in client.list_pool_nodes("pool-dst")} == {CPUD}
        state = emu.state()
    assert state["migrate_requests"] == [{"pool_name": "pool-src", "body": body(["src-1", "src-2"]),
                                          "job_id": job_id}]
    assert [j["jobId"] for j in state["jobs"]] == [job_id]
    build_inventory(state["inventory"])  # the state is a valid snapshot


def test_jobs_fall_back_to_list_jobs_when_get_job_is_hidden() -> None:
    with run_emulator(faults={"hide_get_job": True}) as emu, emu.client() as client:
        job_id = client.migrate_nodes("pool-lite-a", lite(HYPER, creatingStep={"step": 4, "type": "hyperinstance"}))
        assert client.get_job(job_id, pool_name="pool-lite-a")["phase"] == "Success"


def test_real_time_jobs_finish_after_job_seconds() -> None:
    import time

    with run_emulator(job_seconds=0.2) as emu, emu.client() as client:
        job_id = client.migrate_nodes("pool-src", body(["src-3"]))
        assert client.get_job(job_id)["phase"] == "Running"
        time.sleep(0.25)
        assert client.get_job(job_id)["phase"] == "Success"


# -- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pool", "request_body", "status", "fragment"), REFUSALS)
def test_batch_migrate_refusals_over_http(shared: EmulatorHandle, pool: str, request_body: Any, status: int,
                                          fragment: str) -> None:
    with shared.client() as client, pytest.raises(ApiStatusError) as info:
        client.migrate_nodes(pool, request_body)
    assert info.value.status == status
    assert info.value.error_code == ("ModelArts.50015001" if status == 404 else "ModelArts.50004000")
    assert fragment in (info.value.error_msg or "")
    assert shared.state()["migrate_requests"] == []


def test_a_body_that_is_not_json_is_a_bad_request(shared: EmulatorHandle) -> None:
    with shared.client() as client:
        response = client._http.post(f"/v2/{shared.project_id}/pools/pool-src/nodes/batch-migrate", content=b"{nope")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error_msg"]


def test_unknown_paths_are_not_published(shared: EmulatorHandle) -> None:
    with shared.client() as client:
        response = client._http.get(f"/v2/{shared.project_id}/workloads")
    assert (response.status_code, response.json()["error_code"]) == (404, "APIGW.0101")


# -- authentication and project ---------------------------------------------------------------------------


def expect_refusal(client: ModelArtsClient, status: int, code: str, fragment: str = "") -> ApiStatusError:
    with client, pytest.raises(ApiStatusError) as info:
        client.list_pools()
    assert (info.value.status, info.value.error_code) == (status, code)
    assert fragment in str(info.value)
    return info.value


def test_a_wrong_secret_key_is_refused(shared: EmulatorHandle) -> None:
    creds = shared.credentials().model_copy(update={"sk": shared.credentials().ak})
    expect_refusal(shared.client(credentials=creds), 401, "APIGW.0301", "verify aksk signature fail")


def test_an_unknown_access_key_is_refused(shared: EmulatorHandle) -> None:
    creds = shared.credentials().model_copy(update={"ak": shared.credentials().sk})
    expect_refusal(shared.client(credentials=creds), 401, "APIGW.0301", "err:ak not exist")


def test_a_stale_signature_is_refused(shared: EmulatorHandle) -> None:
    client = ModelArtsClient.from_settings(shared.settings(), retry=RetryPolicy(attempts=1),
                                           sign_clock=lambda: datetime.now(UTC) - timedelta(hours=1))
    expect_refusal(client, 401, "APIGW.0301", "signature expired")


def test_a_tampered_body_is_refused(shared: EmulatorHandle) -> None:
    with shared.client() as client:
        request = client._http.build_request("POST", f"/v2/{shared.project_id}/pools/pool-src/nodes/batch-migrate",
                                             content=json.dumps(body(["src-1"])).encode())
        signed = next(client._http.auth.sync_auth_flow(request))  # type: ignore[union-attr]
        tampered = httpx.Request("POST", signed.url, headers=signed.headers,
                                 content=json.dumps(body(["src-2"])).encode())
        response = client._http.send(tampered, auth=None)
    assert (response.status_code, response.json()["error_code"]) == (401, "APIGW.0301")
    assert shared.state()["migrate_requests"] == []


def test_requests_without_credentials_are_refused(shared: EmulatorHandle) -> None:
    with shared.http() as http:
        response = http.get(f"/v2/{shared.project_id}/pools")
    assert (response.status_code, response.json()["error_code"]) == (401, "ModelArts.0205")


def test_a_project_that_is_not_the_emulators_is_refused(shared: EmulatorHandle) -> None:
    expect_refusal(shared.client(project_id="fedcba9876543210"), 403, "ModelArts.0210")


def test_token_authentication() -> None:
    with run_emulator(ak=None, sk=None, token="iam-token-abc") as emu:
        with emu.client() as client:
            assert len(client.list_pools()) == 8
        wrong = Credentials(token=SecretStr("iam-token-xyz"))
        expect_refusal(emu.client(credentials=wrong), 401, "ModelArts.0203")
        signed = Credentials(ak=SecretStr("AK"), sk=SecretStr("SK"))
        expect_refusal(emu.client(credentials=signed), 401, "APIGW.0301", "AK/SK is not accepted")


def test_temporary_keys_need_their_security_token() -> None:
    with run_emulator(security_token="st-temporary") as emu:
        with emu.client() as client:
            assert client.list_pools()
        wrong = emu.credentials().model_copy(update={"security_token": SecretStr("st-other")})
        expect_refusal(emu.client(credentials=wrong), 401, "APIGW.0301", "invalid security token")


def test_reference_signing_vectors_are_accepted_verbatim() -> None:
    """The exact GET and POST of modelarts_api.md §7.2, signatures included, pass the emulator's check."""
    pools = [{"apiVersion": "v2", "kind": "Pool", "metadata": {"name": name},
              "spec": {"type": "Dedicate", "resources": [{"flavor": flavor}], "network": {"name": "net"}},
              "status": {"phase": "Running"}}
             for name, flavor in [("pool-a", "cpu"), ("pool-src", "cpu"), ("pool-dst", "modelarts.vm.cpu.16u64g.d")]]

    def node(name: str) -> dict[str, Any]:
        return {"metadata": {"name": name}, "spec": {"flavor": "cpu"}, "status": {"phase": "Available"}}

    snapshot = {"format": "poolshift.inventory/v1", "project_id": "0123456789abcdef", "region": "cn-north-4",
                "pools": pools, "nodes": {"pool-a": [node("a-1"), node("a-2")],
                                          "pool-src": [node(f"os-node-created-{s}") for s in ("abcde", "fg", "kl")]},
                "networks": [{"name": "net", "subnets": [{"networkId": "s", "cidr": "", "totalIps": 9, "usedIps": 0}]}]}
    state = EmulatorState(snapshot)
    api = EmulatorApi(state, ak="AK_EXAMPLE", sk="SK_EXAMPLE", wall_clock=lambda: VECTOR_TIME)
    common = {"Content-Type": "application/json", "Host": HOST, "X-Sdk-Date": "20250101T000000Z"}
    with EmulatorServer(api) as server, httpx.Client(base_url=server.url, trust_env=False) as http:
        get = http.get("/v2/0123456789abcdef/pools/pool-a/nodes?continue=abc&limit=2", headers={
            **common, "Authorization": "SDK-HMAC-SHA256 Access=AK_EXAMPLE, SignedHeaders=content-type;host;x-sdk-date, "
                                       f"Signature={GET_SIGNATURE}"})
        # The signature passed; the made-up continue token of the vector is what the service refuses.
        assert (get.status_code, get.json()["error_msg"]) == (400, "Bad request. invalid continue token")
        post = http.post("/v2/0123456789abcdef/pools/pool-src/nodes/batch-migrate", content=POST_BODY, headers={
            **common, "X-Project-Id": "0123456789abcdef",
            "Authorization": "SDK-HMAC-SHA256 Access=AK_EXAMPLE, SignedHeaders=content-type;host;x-project-id;"
                             f"x-sdk-date, Signature={POST_SIGNATURE}"})
        assert post.status_code == 200 and post.json()["job_id"]
        forged = http.post("/v2/0123456789abcdef/pools/pool-src/nodes/batch-migrate", content=POST_BODY, headers={
            **common, "X-Project-Id": "0123456789abcdef",
            "Authorization": "SDK-HMAC-SHA256 Access=AK_EXAMPLE, SignedHeaders=content-type;host;x-project-id;"
                             f"x-sdk-date, Signature={GET_SIGNATURE}"})
        assert (forged.status_code, forged.json()["error_code"]) == (401, "APIGW.0301")
    assert [r["body"] for r in state.migrate_requests] == [json.loads(POST_BODY)]


# -- faults ------------------------------------------------------------------------------------------------


def test_throttling_and_server_errors_are_retried_then_reported() -> None:
    with run_emulator(faults={"next_errors": [429, 503]}) as emu, emu.client() as client:
        assert len(client.list_pools()) == 8  # two faults, then success
        emu.set_faults(rate_429=1.0)
        with pytest.raises(ApiStatusError) as info:
            client.list_pools()
        assert (info.value.status, info.value.error_code) == (429, "APIGW.0308")
        emu.set_faults(rate_429=0.0, rate_5xx=1.0)
        with pytest.raises(ApiStatusError) as info:
            client.list_pools()
        assert (info.value.status, info.value.error_code) == (500, "ModelArts.50005000")


def test_seeded_fault_rates_are_reproducible() -> None:
    outcomes = []
    for _ in range(2):
        with run_emulator(ak=None, sk=None, seed=11, faults={"rate_5xx": 0.5}) as emu, \
                emu.http() as http:
            outcomes.append([http.get(f"/v2/{emu.project_id}/pools").status_code for _ in range(16)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_added_latency_can_trip_the_client_timeout() -> None:
    with run_emulator(faults={"latency": 0.3}) as emu:
        with emu.client(timeout=0.05, retry=RetryPolicy(attempts=2, base_delay=0.001)) as client, \
                pytest.raises(ApiTransportError, match="timed out"):
            client.list_pools()
        emu.set_faults(latency=0.0)
        with emu.client() as client:
            assert client.list_pools()


def test_a_dropped_connection_after_acceptance_is_an_ambiguous_transport_error() -> None:
    with run_emulator(faults={"drop_after_accept": 1}) as emu, emu.client() as client:
        with pytest.raises(ApiTransportError):
            client.migrate_nodes("pool-src", body(["src-1"]))
        state = emu.state()
    assert len(state["migrate_requests"]) == 1          # accepted once, never sent again
    assert state["jobs"][0]["phase"] == "Success"


def test_a_failed_job_keeps_the_nodes_in_place() -> None:
    with run_emulator(job_seconds=5) as emu, emu.client() as client:
        emu.set_faults(fail_jobs=1)
        job_id = client.migrate_nodes("pool-src", body(["src-4"]))
        emu.advance(5)
        job = client.get_job(job_id)
        assert job["phase"] == "Failed" and job["message"]
        assert "src-4" in {n["metadata"]["name"] for n in client.list_pool_nodes("pool-src")}
        assert normalised(emu.state()["inventory"]) == normalised(sample_snapshot())


def test_fault_settings_are_validated(shared: EmulatorHandle) -> None:
    with shared.http() as http:
        bad = http.post("/_emulator/faults", json={"rate_429": 2})
        unknown = http.post("/_emulator/faults", json={"explode": True})
        current = http.get("/_emulator/faults").json()
    assert bad.status_code == 400 and "rate_429" in bad.json()["error_msg"]
    assert unknown.status_code == 400
    assert current["rate_429"] == 0.0


def test_control_endpoints_answer_loopback_clients_only(shared: EmulatorHandle) -> None:
    from planner.modelarts.emulator.api import EmuRequest

    answer = shared.api.handle(EmuRequest("GET", "/_emulator/state", client_host="10.1.2.3"))
    assert answer.status == 403


# -- snapshots ---------------------------------------------------------------------------------------------


def test_a_pulled_snapshot_has_the_seed_content(shared: EmulatorHandle) -> None:
    with shared.client(read_only=True) as client:
        pulled = pull_snapshot(client, shared.region, shared.project_id)
    assert pulled["format"] == "poolshift.inventory/v1" and pulled["captured_at"].endswith("Z")
    assert normalised(pulled) == normalised(sample_snapshot())
    assert [p["metadata"]["name"] for p in pulled["pools"]] == sorted(p["metadata"]["name"] for p in pulled["pools"])
    assert list(pulled["nodes"]["pool-src"]) == sorted(pulled["nodes"]["pool-src"], key=lambda n: n["metadata"]["name"])
    build_inventory(pulled)


def test_a_pulled_snapshot_follows_migrations() -> None:
    with run_emulator() as emu, emu.client() as client:
        client.migrate_nodes("pool-src", body(["src-1"]))
        pulled = pull_snapshot(client, emu.region, emu.project_id)
        assert normalised(pulled) == normalised(emu.state()["inventory"])
    assert "src-1" in [n["metadata"]["name"] for n in pulled["nodes"]["pool-dst"]]


def test_every_api_request_is_logged() -> None:
    lines: list[str] = []
    with run_emulator(on_request=lines.append, faults={"latency": 0.01}) as emu, emu.client() as client:
        client.list_pools()
        with pytest.raises(ApiStatusError):
            client.show_pool("pool-nope")
        emu.state()  # control requests are not logged
        log = emu.requests()
        assert [e["seq"] for e in emu.requests(since=1)] == [2]
    assert [(e["method"], e["path"].rsplit("/", 1)[-1], e["status"]) for e in log] == [
        ("GET", "pools", 200), ("GET", "pool-nope", 404)]
    assert all(e["ms"] >= 10 and e["request_id"].startswith("emu-") and not e["dropped"] for e in log)
    assert [line.split()[2] for line in lines] == ["200", "404"] and lines[0].endswith("ms")
