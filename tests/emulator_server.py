"""Run the ModelArts emulator on 127.0.0.1 for tests, over a real socket (uvicorn in a thread).

Usage:

    from tests.emulator_server import run_emulator, sample_snapshot

    with run_emulator(sample_snapshot(), job_seconds=0.2) as emu:
        client = emu.client()                 # ModelArtsClient signed with the emulator's AK/SK
        client.migrate_nodes("pool-src", body)
        emu.set_faults(rate_429=0.5)          # POST /_emulator/faults
        emu.advance(1.0)                      # move emulator time on: running jobs finish
        emu.state()["migrate_requests"]       # GET /_emulator/state
        emu.requests()                        # GET /_emulator/requests: every API request answered

For CLI tests: `CliRunner().invoke(main, [..., *emu.cli_args()], env=emu.env())`.

Fixtures (import them into a conftest.py: `from tests.emulator_server import emulator, emulator_snapshot`):
`emulator_snapshot` (override it to seed another inventory) and `emulator` (a running `EmulatorHandle`).
Tests that use them carry `@pytest.mark.emulator`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from planner.modelarts.client import ModelArtsClient, RetryPolicy, tls_context
from planner.modelarts.emulator.api import EmulatorApi
from planner.modelarts.emulator.pools import Shape
from planner.modelarts.emulator.server import EmulatorServer
from planner.modelarts.emulator.state import EmulatorState, Faults
from planner.modelarts.settings import ConnectionSettings, Credentials

TEST_AK = "AKTEST0EMULATOR0ACCESS"
TEST_SK = "sk-test-emulator-secret-9f8e7d6c5b4a"
SAMPLE_SNAPSHOT_PATH = Path(__file__).parent / "api" / "data" / "small_inventory.json"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


def sample_snapshot() -> dict[str, Any]:
    """A fresh copy of tests/api/data/small_inventory.json (8 pools, 21 nodes, 3 networks)."""
    return json.loads(SAMPLE_SNAPSHOT_PATH.read_text(encoding="utf-8"))


@dataclass
class EmulatorHandle:
    """A running emulator: its URL, credentials, and helpers for its control endpoints."""

    server: EmulatorServer
    ak: str | None
    sk: str | None
    token: str | None
    security_token: str | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api(self) -> EmulatorApi:
        return self.server.api

    @property
    def machine(self) -> EmulatorState:
        """The state machine itself, for direct inspection (prefer `state()` in contract tests)."""
        return self.server.api.state

    @property
    def project_id(self) -> str:
        return self.machine.project_id

    @property
    def region(self) -> str:
        return self.machine.region or "cn-north-4"

    def http(self) -> httpx.Client:
        """A plain httpx client for this emulator (no credentials); close it after use."""
        return httpx.Client(base_url=self.url, timeout=10, trust_env=False,
                            transport=httpx.HTTPTransport(verify=tls_context()))

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        with self.http() as http:
            response = http.request(method, f"/_emulator/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        """`GET /_emulator/state`: {"migrate_requests", "jobs", "inventory", "drains", "disrupted", "workloads",
        "requests"}."""
        result: dict[str, Any] = self._control("GET", "state")
        return result

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """`GET /_emulator/requests`: one entry per API request after the `since`-th (method, path, query,
        status, dropped, ms, request_id)."""
        result: list[dict[str, Any]] = self._control("GET", f"requests?since={since}")["requests"]
        return result

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """`POST /_emulator/faults` with the given fields (see `Faults`); returns all fault settings."""
        result: dict[str, Any] = self._control("POST", "faults", faults)
        return result

    def advance(self, seconds: float) -> None:
        """`POST /_emulator/advance`: move emulator time on so running jobs can finish."""
        self._control("POST", "advance", {"seconds": seconds})

    def credentials(self) -> Credentials:
        if self.ak is not None and self.sk is not None:
            token = SecretStr(self.security_token) if self.security_token else None
            return Credentials(ak=SecretStr(self.ak), sk=SecretStr(self.sk), security_token=token)
        return Credentials(token=SecretStr(self.token or "open-emulator-token"))

    def settings(self, **overrides: Any) -> ConnectionSettings:
        values: dict[str, Any] = {"region": self.region, "project_id": self.project_id, "endpoint": self.url,
                                  "credentials": self.credentials(), "timeout": 5.0, "connect_timeout": 2.0}
        values.update(overrides)
        return ConnectionSettings(**values)

    def client(self, *, read_only: bool = False, retry: RetryPolicy = FAST_RETRY,
               sleep: Callable[[float], None] | None = None, **overrides: Any) -> ModelArtsClient:
        """A client for this emulator; retries back off in milliseconds so tests stay fast."""
        return ModelArtsClient.from_settings(self.settings(**overrides), read_only=read_only, retry=retry,
                                             sleep=sleep)

    def env(self) -> dict[str, str]:
        """Environment variables a CLI run needs (credentials and project id)."""
        env = {"HUAWEICLOUD_SDK_PROJECT_ID": self.project_id}
        if self.ak is not None and self.sk is not None:
            env.update({"HUAWEICLOUD_SDK_AK": self.ak, "HUAWEICLOUD_SDK_SK": self.sk})
            if self.security_token:
                env["HUAWEICLOUD_SDK_SECURITY_TOKEN"] = self.security_token
        elif self.token:
            env["POOLSHIFT_TOKEN"] = self.token
        return env

    def cli_args(self) -> list[str]:
        """`--endpoint URL --region R --project-id P` for CLI commands that talk to the API."""
        return ["--endpoint", self.url, "--region", self.region, "--project-id", self.project_id]


@contextmanager
def run_emulator(
    snapshot: dict[str, Any] | None = None,
    *,
    ak: str | None = TEST_AK,
    sk: str | None = TEST_SK,
    token: str | None = None,
    security_token: str | None = None,
    job_seconds: float = 0.0,
    seed: int = 0,
    clock: Callable[[], float] | None = None,
    faults: Faults | dict[str, Any] | None = None,
    drain_seconds: float = 0.0,
    shape: Shape = "full",
    on_request: Callable[[str], None] | None = None,
) -> Iterator[EmulatorHandle]:
    """Serve `snapshot` (default: `sample_snapshot()`) on 127.0.0.1, a free port, until the block ends.

    AK/SK signing with TEST_AK/TEST_SK is on by default; pass `ak=None, sk=None` (and maybe `token=`) to
    change that. `faults` seeds the fault settings; `clock` replaces time.time for jobs, drains and the
    lockout window; `shape="documented"` leaves out undocumented fields; `on_request` gets one line per request.
    """
    seeded = copy.deepcopy(snapshot) if snapshot is not None else sample_snapshot()
    fault_settings = Faults.model_validate(faults) if isinstance(faults, dict) else faults
    state = EmulatorState(seeded, job_seconds=job_seconds, seed=seed, clock=clock, faults=fault_settings,
                          drain_seconds=drain_seconds, shape=shape)
    api = EmulatorApi(state, ak=ak, sk=sk, token=token, security_token=security_token, seed=seed,
                      on_request=on_request)
    with EmulatorServer(api, host="127.0.0.1", port=0) as server:
        yield EmulatorHandle(server=server, ak=ak, sk=sk, token=token, security_token=security_token)


@pytest.fixture
def emulator_snapshot() -> dict[str, Any]:
    """The inventory the `emulator` fixture serves; override this fixture to seed another one."""
    return sample_snapshot()


@pytest.fixture
def emulator(emulator_snapshot: dict[str, Any]) -> Iterator[EmulatorHandle]:
    """A running emulator seeded with `emulator_snapshot`, AK/SK auth, instant jobs."""
    with run_emulator(emulator_snapshot) as handle:
        yield handle
