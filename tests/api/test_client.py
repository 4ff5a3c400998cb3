"""The ModelArts client without sockets: httpx.MockTransport and the emulator's in-process transport."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from planner.errors import ApiStatusError, ApiTransportError
from planner.modelarts.client import ModelArtsClient, ReadOnlyTransport, ReadOnlyViolation, RetryPolicy
from planner.modelarts.emulator.api import EmulatorApi
from planner.modelarts.emulator.state import EmulatorState
from planner.modelarts.emulator.transport import EmulatorTransport
from tests.emulator_server import sample_snapshot

PID = "0123456789abcdef0123456789abcdef"
BODY = {"migrateNodeNames": ["src-1", "src-2"], "fromClusterName": "pool-src", "toClusterName": "pool-dst",
        "toPoolName": "pool-dst", "resourceSpec": {"flavor": "modelarts.vm.cpu.8u.d"}}
Handler = Callable[[httpx.Request], httpx.Response]


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v2", "kind": "Node", "metadata": {"name": name}, "spec": {"flavor": "f"},
            "status": {"phase": "Available"}}


class Recorder:
    """A MockTransport handler that logs requests and plays a script of answers (or exceptions)."""

    def __init__(self, answers: list[httpx.Response | Exception | Handler]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


def make_client(handler: Handler, sleeps: list[float] | None = None, *, attempts: int = 4,
                transport: httpx.BaseTransport | None = None) -> ModelArtsClient:
    http = httpx.Client(transport=transport or httpx.MockTransport(handler), base_url="https://modelarts.test")
    return ModelArtsClient(http, PID, retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0),
                           sleep=(sleeps.append if sleeps is not None else lambda _: None), rng=random.Random(7))


def emulated(**faults: Any) -> tuple[ModelArtsClient, EmulatorState]:
    state = EmulatorState(sample_snapshot())
    for key, value in faults.items():
        setattr(state.faults, key, value)
    http = httpx.Client(transport=EmulatorTransport(EmulatorApi(state), sleep=lambda _: None),
                        base_url="http://127.0.0.1:1", headers={"Content-Type": "application/json"})
    return ModelArtsClient(http, state.project_id, sleep=lambda _: None), state


# -- paging ------------------------------------------------------------------------------------------------


def test_list_pool_nodes_follows_continue_tokens() -> None:
    pages = {"": (["n1", "n2"], "t1"), "t1": (["n3", "n4"], "t2"), "t2": (["n5"], "")}

    def serve(request: httpx.Request) -> httpx.Response:
        items, token = pages[request.url.params.get("continue", "")]
        return httpx.Response(200, json={"kind": "NodeList", "metadata": {"continue": token},
                                         "items": [node(n) for n in items]})

    recorder = Recorder([serve])
    nodes = make_client(recorder).list_pool_nodes("pool-a", page_size=2)
    assert [n["metadata"]["name"] for n in nodes] == ["n1", "n2", "n3", "n4", "n5"]
    assert [r.url.params.get("continue") for r in recorder.requests] == [None, "t1", "t2"]
    assert {r.url.params["limit"] for r in recorder.requests} == {"2"}
    assert recorder.requests[0].url.path == f"/v2/{PID}/pools/pool-a/nodes"


def test_list_pool_nodes_when_the_server_ignores_paging() -> None:
    recorder = Recorder([httpx.Response(200, json={"metadata": {}, "items": [node(f"n{i}") for i in range(7)]})])
    assert len(make_client(recorder).list_pool_nodes("pool-a", page_size=2)) == 7
    assert len(recorder.requests) == 1


def test_a_continue_token_that_does_not_advance_is_an_error() -> None:
    recorder = Recorder([httpx.Response(200, json={"metadata": {"continue": "same"}, "items": [node("n")]})])
    with pytest.raises(ApiStatusError, match="paging does not advance"):
        make_client(recorder).list_pool_nodes("pool-a")
    assert len(recorder.requests) == 2


def test_list_jobs_pages_with_offset() -> None:
    jobs = [{"jobId": f"j{i}"} for i in range(5)]

    def serve(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params.get("offset", "0")), int(request.url.params["limit"])
        return httpx.Response(200, json={"count": len(jobs), "items": jobs[offset:offset + limit]})

    recorder = Recorder([serve])
    found = make_client(recorder).list_jobs(pool_name="pool-a", page_size=2)
    assert [j["jobId"] for j in found] == ["j0", "j1", "j2", "j3", "j4"]
    assert recorder.requests[0].url.params["resource"] == "pools"
    assert recorder.requests[0].url.params["name"] == "pool-a"
    assert [r.url.params.get("offset") for r in recorder.requests] == [None, "2", "4"]


# -- retries and error mapping --------------------------------------------------------------------------------


def test_reads_retry_on_429_5xx_and_connection_errors() -> None:
    recorder = Recorder([
        httpx.Response(429, headers={"Retry-After": "1"}, json={"error_code": "APIGW.0308", "error_msg": "slow"}),
        httpx.Response(503, json={"error_code": "ModelArts.50005000", "error_msg": "internal error"}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"items": [{"metadata": {"name": "p"}}]}),
    ])
    sleeps: list[float] = []
    pools = make_client(recorder, sleeps).list_pools()
    assert pools == [{"metadata": {"name": "p"}}]
    assert len(recorder.requests) == 4
    assert sleeps[0] == 1.0  # Retry-After wins
    assert 0.5 <= sleeps[1] <= 1.0 and 1.0 <= sleeps[2] <= 2.0  # second and third retry: [d/2, d]


def test_reads_give_up_after_bounded_attempts() -> None:
    recorder = Recorder([httpx.Response(503, headers={"X-Request-Id": "rid-9"},
                                        json={"error_code": "ModelArts.50005000", "error_msg": "internal error"})])
    sleeps: list[float] = []
    with pytest.raises(ApiStatusError) as info:
        make_client(recorder, sleeps, attempts=3).show_pool("pool-a")
    assert len(recorder.requests) == 3 and len(sleeps) == 2
    err = info.value
    assert (err.status, err.error_code, err.error_msg, err.request_id) == (
        503, "ModelArts.50005000", "internal error", "rid-9")
    assert err.exit_code == 5 and err.method == "GET" and err.path == f"/v2/{PID}/pools/pool-a"


def test_client_errors_are_not_retried() -> None:
    recorder = Recorder([httpx.Response(404, headers={"X-Request-Id": "abc"},
                                        json={"error_code": "ModelArts.50015001", "error_msg": "pool not found"})])
    with pytest.raises(ApiStatusError) as info:
        make_client(recorder).show_pool("nope")
    assert len(recorder.requests) == 1
    assert str(info.value) == (f"ModelArts API GET /v2/{PID}/pools/nope: HTTP 404: ModelArts.50015001: "
                               "pool not found (request id abc)")


@pytest.mark.parametrize(("answer", "code", "msg"), [
    (httpx.Response(401, json={"errorCode": "APIGW.0301", "errorMsg": "bad sig"}), "APIGW.0301", "bad sig"),
    (httpx.Response(403, json={"error": {"code": "ModelArts.0210", "message": "wrong project"}}),
     "ModelArts.0210", "wrong project"),
    (httpx.Response(400, json={"code": "X.1", "message": "m"}), "X.1", "m"),
    (httpx.Response(502, text="<html>Bad Gateway</html>"), None, "<html>Bad Gateway</html>"),
])
def test_error_body_shapes(answer: httpx.Response, code: str | None, msg: str) -> None:
    with pytest.raises(ApiStatusError) as info:
        make_client(Recorder([answer]), attempts=1).list_pools()
    assert (info.value.status, info.value.error_code, info.value.error_msg) == (answer.status_code, code, msg)


def test_timeouts_map_to_transport_errors_after_retries() -> None:
    recorder = Recorder([httpx.ReadTimeout("read timed out")])
    with pytest.raises(ApiTransportError, match="timed out") as info:
        make_client(recorder, attempts=2).list_pools()
    assert len(recorder.requests) == 2
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def test_an_answer_that_is_not_a_json_object_is_an_api_error() -> None:
    with pytest.raises(ApiStatusError, match="not a JSON object"):
        make_client(Recorder([httpx.Response(200, json=[1, 2])])).list_pools()


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        delays = {policy.delay(retry, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1
    assert policy.delay(1, rng, retry_after=100) == 4.0


# -- read-only guard --------------------------------------------------------------------------------------------


def test_read_only_transport_refuses_writes_before_sending() -> None:
    recorder = Recorder([httpx.Response(200, json={"items": []})])
    client = make_client(recorder, transport=ReadOnlyTransport(httpx.MockTransport(recorder)))
    assert client.list_pools() == []
    with pytest.raises(ReadOnlyViolation, match="POST"):
        client.migrate_nodes("pool-src", BODY)
    assert [r.method for r in recorder.requests] == ["GET"]


# -- jobs ------------------------------------------------------------------------------------------------------


def test_get_job_falls_back_to_list_jobs_when_the_endpoint_is_unpublished() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/jobs"):
            return httpx.Response(200, json={"count": 2, "items": [{"jobId": "a", "phase": "Running"},
                                                                   {"jobId": "b", "phase": "Success"}]})
        return httpx.Response(404, json={"error_code": "APIGW.0101", "error_msg": "The API does not exist"})

    recorder = Recorder([serve])
    client = make_client(recorder)
    assert client.get_job("b", pool_name="pool-src")["phase"] == "Success"
    assert client.get_job("a", pool_name="pool-src")["phase"] == "Running"
    paths = [r.url.path for r in recorder.requests]
    assert paths == [f"/v2/{PID}/jobs/b", f"/v2/{PID}/jobs", f"/v2/{PID}/jobs"]  # no second GET /jobs/{id}
    with pytest.raises(ApiStatusError, match="job zzz not found") as info:
        client.get_job("zzz")
    assert info.value.status == 404


def test_get_job_uses_the_job_endpoint_when_it_exists() -> None:
    client, state = emulated()
    job_id = client.migrate_nodes("pool-src", BODY)
    assert client.get_job(job_id) == state.get_job(job_id)


# -- batch-migrate: a plain POST (whether an ambiguous failure was accepted is planner.apply.acceptance's call) --


def test_migrate_sends_the_body_compactly_and_returns_the_job_id() -> None:
    client, state = emulated()
    job_id = client.migrate_nodes("pool-src", BODY)
    assert state.migrate_requests == [{"pool_name": "pool-src", "body": BODY, "job_id": job_id}]
    assert json.loads(state.get_job(job_id)["inputs"]) == BODY


def test_a_dropped_answer_after_acceptance_is_raised_not_resent() -> None:
    client, state = emulated(drop_after_accept=1)
    with pytest.raises(ApiTransportError, match="connection failed"):
        client.migrate_nodes("pool-src", BODY)
    assert len(state.migrate_requests) == 1


def test_a_5xx_is_raised_not_resent() -> None:
    client, state = emulated(next_errors=[503])
    with pytest.raises(ApiStatusError) as info:
        client.migrate_nodes("pool-src", BODY)
    assert info.value.status == 503 and state.migrate_requests == []


def test_throttled_and_unsent_posts_are_retried_without_lookups() -> None:
    recorder = Recorder([
        httpx.Response(429, json={"error_code": "APIGW.0308", "error_msg": "slow down"}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"job_id": "job-1"}),
    ])
    assert make_client(recorder).migrate_nodes("pool-src", BODY) == "job-1"
    assert [r.method for r in recorder.requests] == ["POST", "POST", "POST"]


def test_refusals_are_not_retried() -> None:
    client, state = emulated()
    with pytest.raises(ApiStatusError) as info:
        client.migrate_nodes("pool-src", {**BODY, "migrateNodeNames": ["src-locked"]})
    assert info.value.status == 400 and "locked" in (info.value.error_msg or "")
    assert state.migrate_requests == []


@pytest.mark.parametrize("failure", [httpx.ReadError("connection reset"), httpx.ReadTimeout("timed out")])
def test_a_failure_after_sending_is_raised_at_once_without_lookups(failure: Exception) -> None:
    recorder = Recorder([failure])
    with pytest.raises(ApiTransportError) as info:
        make_client(recorder, attempts=3).migrate_nodes("pool-src", BODY)
    assert [r.method for r in recorder.requests] == ["POST"]
    assert info.value.__cause__ is failure
