"""Credentials the way Huawei Cloud users keep them: the SDK's providers, renewed temporary keys, no leaks.

A fake ECS metadata service / CCE pod-identity endpoint runs on 127.0.0.1; nothing here (or anywhere in the
test suite, see tests/conftest.py) may reach 169.254.169.254 or any other non-loopback address.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.errors import InputError
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.credentials import Credentials
from planner.modelarts.settings import ConnectionSettings
from tests.emulator_server import TEST_AK, TEST_SK, run_emulator

PID = "0123456789abcdef0123456789abcdef"
SECURITY_TOKEN = "st-temporary-token-3e9a"


def expiry(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CredentialServer:
    """Serves the ECS metadata endpoints and a pod-identity endpoint, handing out `keys` in turn."""

    def __init__(self, keys: list[dict[str, str]], pod_token: str = "pod-identity-token") -> None:
        self.keys = keys
        self.calls: list[str] = []
        self.pod_token = pod_token
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _credential(self) -> None:
                entry = server.keys[min(server.key_fetches() - 1, len(server.keys) - 1)]
                self._send(200, json.dumps({"credential": entry}))

            def do_PUT(self) -> None:  # noqa: N802  (the metadata token)
                server.calls.append(f"PUT {self.path}")
                self._send(200, "metadata-session-token")

            def do_GET(self) -> None:  # noqa: N802
                server.calls.append(f"GET {self.path}")
                if self.path == "/openstack/latest/securitykey":
                    self._credential()
                else:
                    self._send(404, "not here")

            def do_POST(self) -> None:  # noqa: N802  (pod identity)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.calls.append(f"POST {self.path}")
                if self.headers.get("Authorization") != server.pod_token:
                    self._send(401, "bad pod token")
                    return
                self._credential()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def key_fetches(self) -> int:
        return sum(1 for call in self.calls if call.startswith(("GET /openstack", "POST /pod")))

    def __enter__(self) -> CredentialServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def key(ak: str, sk: str, minutes: float, token: str = SECURITY_TOKEN) -> dict[str, str]:
    return {"access": ak, "secret": sk, "securitytoken": token, "expires_at": expiry(minutes)}


@pytest.fixture
def metadata(monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialServer]:
    """Keys valid for an hour, then keys valid for three hours."""
    with CredentialServer([key("AK-FIRST", "sk-first", 60), key("AK-SECOND", "sk-second", 180)]) as server:
        monkeypatch.setenv("POOLSHIFT_METADATA_ENDPOINT", server.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield server


def signing_keys(client: ModelArtsClient, count: int) -> list[tuple[str, str | None]]:
    """(Access=..., X-Security-Token) of `count` requests the client signs."""
    seen: list[tuple[str, str | None]] = []

    def serve(request: httpx.Request) -> httpx.Response:
        access = request.headers["Authorization"].split("Access=")[1].split(",")[0]
        seen.append((access, request.headers.get("X-Security-Token")))
        return httpx.Response(200, json={"items": []})

    client._http._transport = httpx.MockTransport(serve)
    for _ in range(count):
        client.list_pools()
    return seen


def test_metadata_keys_are_picked_up_and_renewed_before_they_expire(metadata: CredentialServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from huaweicloudsdkcore.utils import time_utils

    creds = Credentials.from_env()
    assert creds.kind == "aksk" and "metadata" in creds.source and creds.ak is None
    settings = ConnectionSettings(region="cn-north-4", project_id=PID, credentials=creds)
    with ModelArtsClient.from_settings(settings) as client:
        seen = signing_keys(client, 2)
        assert metadata.key_fetches() == 1
        # 25 minutes later the first keys have 35 minutes left: the SDK renews them (threshold 40 minutes)
        later = time_utils.get_timestamp_utc() + 25 * 60
        monkeypatch.setattr(time_utils, "get_timestamp_utc", lambda: later)
        seen += signing_keys(client, 2)
    assert seen == [("AK-FIRST", SECURITY_TOKEN)] * 2 + [("AK-SECOND", SECURITY_TOKEN)] * 2
    assert metadata.key_fetches() == 2
    assert metadata.calls[0] == "PUT /meta-data/latest/api/token"
    text = f"{creds!r} {creds.model_dump_json()} {settings!r} {client!r} {client._http.auth!r}"
    for secret in ("sk-first", "sk-second", SECURITY_TOKEN, "AK-FIRST", "AK-SECOND"):
        assert secret not in text


@pytest.mark.emulator
def test_inventory_pull_with_metadata_keys_against_the_emulator(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with CredentialServer([key(TEST_AK, TEST_SK, 120)]) as server, \
            run_emulator(security_token=SECURITY_TOKEN) as emu:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        out = tmp_path / "snap.json"
        env = {"POOLSHIFT_METADATA_ENDPOINT": server.url, "HUAWEICLOUD_SDK_PROJECT_ID": emu.project_id}
        result = CliRunner().invoke(main, ["inventory", "pull", "--endpoint", emu.url, "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    written = out.read_text()
    assert "region" not in json.loads(written)  # --endpoint without a region is fine
    for secret in (TEST_SK, SECURITY_TOKEN, TEST_AK):
        assert secret not in result.output and secret not in written


def test_pod_identity_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("pod-identity-token")
    with CredentialServer([key("AK-POD", "sk-pod", 120)]) as server:
        monkeypatch.setenv("HC_CONTAINER_CREDENTIALS_FULL_URI", f"{server.url}/pod-identity")
        monkeypatch.setenv("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        creds = Credentials.from_env()
        settings = ConnectionSettings(region="cn-north-4", project_id=PID, credentials=creds)
        with ModelArtsClient.from_settings(settings) as client:
            assert signing_keys(client, 2) == [("AK-POD", SECURITY_TOKEN)] * 2
    assert "pod identity" in creds.source and server.calls == ["POST /pod-identity"]


def test_profile_file_gives_keys_project_and_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = tmp_path / "credentials"
    profile.write_text("[basic]\nak = AK-PROFILE\nsk = sk-profile-secret\nproject_id = "
                       f"{PID}\nregion = ap-southeast-3\n")
    monkeypatch.setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", str(profile))
    settings = ConnectionSettings.from_options(region=None)
    assert (settings.region, settings.project_id) == ("ap-southeast-3", PID)
    assert settings.base_url == "https://modelarts.ap-southeast-3.myhuaweicloud.com"
    with ModelArtsClient.from_settings(settings) as client:
        assert signing_keys(client, 1) == [("AK-PROFILE", None)]
    assert "sk-profile-secret" not in f"{settings!r}{settings.model_dump_json()}"


def test_explicit_keys_win_and_region_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION", "cn-east-3")
    settings = ConnectionSettings.from_options(region=None, project_id=PID,
                                               env={"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "s",
                                                    "HUAWEICLOUD_SDK_REGION": "cn-east-3"})
    assert settings.region == "cn-east-3" and settings.credentials.source == "environment"
    assert ConnectionSettings.from_options(region="cn-north-4", project_id=PID,
                                           env={"POOLSHIFT_TOKEN": "t"}).region == "cn-north-4"
    with pytest.raises(InputError, match="--region is required"):
        ConnectionSettings.from_options(region=None, project_id=PID, env={"POOLSHIFT_TOKEN": "t"})


def test_without_any_source_the_error_lists_what_was_tried_and_nothing_left_the_machine() -> None:
    started = time.monotonic()
    with pytest.raises(InputError) as info:
        Credentials.from_env({})
    message = str(info.value)
    assert time.monotonic() - started < 2.0
    assert message.startswith("environment: no credentials: set HUAWEICLOUD_SDK_AK")
    for tried in ("OIDC", "profile file /nonexistent/", "CCE pod identity", "ECS/CCE metadata http://169.254.169.254"):
        assert tried in message  # the metadata address was refused at once by the guard of tests/conftest.py


def test_the_guard_refuses_every_non_loopback_connection() -> None:
    for address in (("169.254.169.254", 80), ("10.0.0.1", 443)):
        with pytest.raises(ConnectionRefusedError, match="loopback addresses only"):
            socket.create_connection(address, timeout=1)


def test_the_metadata_endpoint_may_only_be_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOLSHIFT_METADATA_ENDPOINT", "http://10.1.2.3")
    with pytest.raises(InputError, match="POOLSHIFT_METADATA_ENDPOINT must be an http URL on a loopback host"):
        Credentials.from_env({})
