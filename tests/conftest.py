"""Session-wide test settings: hypothesis profiles, a clean credential environment, loopback-only sockets.

No test may reach a real credential source or any address but loopback: the credential chain of
`planner.modelarts.credentials` would otherwise ask the ECS metadata service (169.254.169.254) on a machine
without credentials. Every IPv4/IPv6 `connect` to a non-loopback address fails at once, in every test.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_SECRET_VARS = (
    "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "HUAWEICLOUD_SDK_PROJECT_ID", "POOLSHIFT_TOKEN", "HUAWEICLOUD_SDK_REGION", "POOLSHIFT_WORKSPACE_ID",
    "POOLSHIFT_METADATA_ENDPOINT", "HUAWEICLOUD_SDK_IDP_ID", "HUAWEICLOUD_SDK_ID_TOKEN_FILE",
    "HUAWEICLOUD_SDK_DOMAIN_ID", "HUAWEICLOUD_SDK_IAM_ENDPOINT", "HUAWEICLOUD_SDK_STS_ENDPOINT",
    "HC_CONTAINER_CREDENTIALS_FULL_URI", "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "POOLSHIFT_EMULATOR_AK", "POOLSHIFT_EMULATOR_SK", "POOLSHIFT_EMULATOR_TOKEN", "POOLSHIFT_EMULATOR_SECURITY_TOKEN",
)
_NO_PROFILE = "/nonexistent/poolshift-tests/huaweicloud-credentials"


@pytest.fixture(autouse=True)
def _clean_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real credentials or profile; tests that need some set them explicitly."""
    for name in _SECRET_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("HUAWEICLOUD_OIDC_")]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", _NO_PROFILE)


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    try:
        loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConnectionRefusedError(f"tests may connect to loopback addresses only, not {host} (tests/conftest.py)")


def _connect(self: socket.socket, address: Any) -> None:
    _check_loopback(self, address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check_loopback(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _no_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output is rendered as it is for a pipe (full width) unless a test sets COLUMNS: the runner's own terminal
    (or a parallel worker's inherited COLUMNS) must not change what a test sees."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own project-lock folder: tests (and other checkouts running theirs at the same time on this
    host) use the same project ids, and must not exclude one another through the user's state directory."""
    folder = tmp_path_factory.mktemp("locks")
    monkeypatch.setenv("POOLSHIFT_LOCK_DIR", str(folder))
    return folder


@pytest.fixture
def finishes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, int]]:
    """(collector enabled?, exit code) of every call of `planner.cli._common.finish`, where a one-shot command
    ends (the console script's os._exit), recorded as the command runs; the real `finish` still runs."""
    import gc

    import planner.cli._common as common

    seen: list[tuple[bool, int]] = []
    real = common.finish

    def recording(code: int = 0) -> None:
        seen.append((gc.isenabled(), code))
        real(code)

    monkeypatch.setattr(common, "finish", recording)
    return seen
