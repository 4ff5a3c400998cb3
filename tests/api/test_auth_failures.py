"""A 401/403 is never retried anywhere, the emulator locks a key after five bad signatures, and failures say
where and what to check (exit 5, one line, no secret)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from planner.cli import main
from planner.errors import ApiAuthError, ApiStatusError, ApiTransportError
from planner.modelarts.client import ModelArtsClient, RetryPolicy
from tests.api.cases import body
from tests.emulator_server import EmulatorHandle, run_emulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PID = "0123456789abcdef0123456789abcdef"
WRONG_SK = "sk-wrong-for-lockout-7c1d"


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


def wrong_key_env(emu: EmulatorHandle) -> dict[str, str]:
    return {**emu.env(), "HUAWEICLOUD_SDK_SK": WRONG_SK}


@pytest.mark.emulator
@pytest.mark.parametrize("command", [
    ["inventory", "pull"],
    ["plan", "--live", "--spec", str(EXAMPLES / "spec.yaml")],
])
def test_a_wrong_secret_key_exits_5_at_once_after_one_request(command: list[str]) -> None:
    with run_emulator(json.loads((EXAMPLES / "inventory.json").read_text())) as emu:
        started = time.monotonic()
        result = CliRunner().invoke(main, [*command, *emu.cli_args()], env=wrong_key_env(emu))
        elapsed = time.monotonic() - started
        requests = emu.requests()
    assert result.exit_code == 5, result.output
    assert elapsed < 1.0
    assert [(r["method"], r["status"]) for r in requests] == [("GET", 401)]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"at {emu.url}: HTTP 401: APIGW.0301" in lines[0]
    assert "check HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK" in lines[0] and "not retried" in lines[0]
    assert WRONG_SK not in result.output and emu.sk not in result.output


def recorder(status: int, payload: dict[str, Any]) -> tuple[list[httpx.Request], ModelArtsClient]:
    seen: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=payload)

    http = httpx.Client(transport=httpx.MockTransport(serve), base_url="https://modelarts.test:8443",
                        headers={"Authorization": "SDK-HMAC-SHA256 Access=x, SignedHeaders=host, Signature=00"})
    return seen, ModelArtsClient(http, PID, retry=RetryPolicy(attempts=5), sleep=lambda _: None)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("call", ["list_pools", "list_workloads", "drain_nodes", "lock_nodes", "migrate_nodes"])
def test_no_call_retries_an_authentication_or_permission_error(status: int, call: str) -> None:
    seen, client = recorder(status, {"error_code": "APIGW.0301", "error_msg": "verify aksk signature fail"})
    calls = {"list_pools": lambda: client.list_pools(), "list_workloads": lambda: client.list_workloads("p"),
             "drain_nodes": lambda: client.drain_nodes("p", ["n1"]),
             "lock_nodes": lambda: client.lock_nodes("p", ["n"]),
             "migrate_nodes": lambda: client.migrate_nodes("p", body(["n1"]))}
    with pytest.raises(ApiAuthError) as info:
        calls[call]()
    assert len(seen) == 1
    assert isinstance(info.value, ApiStatusError) and info.value.status == status and info.value.exit_code == 5
    assert "https://modelarts.test:8443" in str(info.value)


def test_the_hint_follows_the_error() -> None:
    _, client = recorder(403, {"error_code": "ModelArts.0210", "error_msg": "project id does not match"})
    with pytest.raises(ApiAuthError, match="check --project-id / HUAWEICLOUD_SDK_PROJECT_ID"):
        client.list_pools()
    _, client = recorder(403, {"error_code": "ModelArts.0112", "error_msg": "Policy doesn't allow"})
    with pytest.raises(ApiAuthError, match="IAM permissions"):
        client.list_pools()
    _, client = recorder(401, {"error_code": "APIGW.0301", "error_msg": _LOCKED})
    with pytest.raises(ApiAuthError, match="locked for five minutes"):
        client.list_pools()


_LOCKED = "Incorrect IAM authentication information: AK access failed to reach the limit,forbidden."


@pytest.mark.emulator
def test_five_bad_signatures_lock_the_key_until_the_window_passes() -> None:
    clock = Clock()
    with run_emulator(clock=clock) as emu:
        wrong = emu.credentials().model_copy(update={"sk": SecretStr(WRONG_SK)})
        with emu.client(credentials=wrong) as bad, emu.client() as good:
            for _ in range(4):
                with pytest.raises(ApiAuthError, match="verify aksk signature fail"):
                    bad.list_pools()
            assert good.list_pools()  # a success resets the count
            for _ in range(5):
                with pytest.raises(ApiAuthError, match="verify aksk signature fail"):
                    bad.list_pools()
            with pytest.raises(ApiAuthError, match="reach the limit") as locked:
                good.list_pools()  # the sixth request: refused even with the right key
            assert "locked for five minutes" in str(locked.value)
            clock.now += 299
            with pytest.raises(ApiAuthError, match="reach the limit"):
                good.list_pools()
            clock.now += 1
            assert good.list_pools()
        statuses = [r["status"] for r in emu.requests()]
    assert statuses == [401] * 4 + [200] + [401] * 7 + [200]


@pytest.mark.emulator
def test_gateway_error_bodies_carry_the_request_id(emulator: EmulatorHandle) -> None:
    with emulator.http() as http:
        response = http.get(f"/v2/{emulator.project_id}/pools",
                            headers={"Authorization": "SDK-HMAC-SHA256 Access=nobody, SignedHeaders=host;x-sdk-date, "
                                                      "Signature=00", "X-Sdk-Date": "20250101T000000Z"})
        missing = http.get("/v3/not-published")
    assert response.status_code == 401
    assert response.json()["request_id"] == response.headers["X-Request-Id"]
    assert missing.json()["error_code"] == "APIGW.0101" and missing.json()["request_id"]


@pytest.mark.emulator
def test_a_refused_connection_names_host_and_port_and_does_not_spin(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    started = time.monotonic()
    result = CliRunner().invoke(main, ["inventory", "pull", "--endpoint", f"http://127.0.0.1:{port}",
                                       "--project-id", PID], env={"POOLSHIFT_TOKEN": "t"})
    elapsed = time.monotonic() - started
    assert result.exit_code == 5
    assert f"connection failed (127.0.0.1:{port})" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert elapsed < 5.0


def test_transport_errors_name_host_and_port() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client = ModelArtsClient(httpx.Client(transport=httpx.MockTransport(refuse), base_url="https://example.test"),
                             PID, retry=RetryPolicy(attempts=1))
    with pytest.raises(ApiTransportError, match=r"connection failed \(example.test:443\)"):
        client.show_pool("p")
