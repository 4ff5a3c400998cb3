"""The emulator's HTTP surface as plain values: authentication, lockout, project checks, faults, request log.

Owns: turning an `EmuRequest` (method, raw path, query, headers, body, client address) into an
`EmuResponse` (status, JSON body, headers, plus the injected latency and connection drop that the adapters
carry out). Authentication follows the gateway: a bad AK/SK signature is 401 `APIGW.0301`, and five failed
authentications of one access key in a row lock it for five minutes of emulator time (every request with it
is then refused with the lockout message, whatever its signature). Gateway (`APIGW.*`) error bodies carry
`request_id`. Every request is logged (method, path, status, milliseconds) for `/_emulator/requests` and an
optional `on_request` line callback. `/_emulator/*` (state, requests, faults, clock) answers loopback clients
only and needs no auth. The FastAPI app and the httpx transport are thin adapters over `handle`.
Must not: print (the CLI passes a callback), or hold any rule of the pool service (that is the state).
"""

from __future__ import annotations

import hmac
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from pydantic import SecretStr, ValidationError

from planner.modelarts.emulator import routes
from planner.modelarts.emulator.faults import Faults
from planner.modelarts.emulator.objects import Refusal, bad_request
from planner.modelarts.emulator.signature import SignatureError, verify
from planner.modelarts.emulator.state import EmulatorState
from planner.modelarts.hosts import is_loopback_host

_THROTTLED = Refusal(429, "APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit,"
                                        "limit:20,time:1 minute")
_AUTH_PREFIX = "Incorrect IAM authentication information: "
LOCKOUT_FAILURES = 5
LOCKOUT_SECONDS = 300.0
_ACCESS = re.compile(r"Access=([^,\s]+)")


@dataclass(frozen=True)
class EmuRequest:
    """One request as received: `raw_path` still percent-encoded and without the query; header names lower-case."""

    method: str
    raw_path: str
    query_string: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client_host: str | None = None


@dataclass
class EmuResponse:
    """One answer; `latency` and `drop` tell the adapter to wait, or to cut the connection instead of answering."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    drop: bool = False

    @property
    def content(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _error_body(refusal: Refusal, request_id: str) -> dict[str, str]:
    body = {"error_code": refusal.error_code, "error_msg": refusal.error_msg}
    if refusal.error_code.startswith("APIGW."):
        body["request_id"] = request_id
    return body


class EmulatorApi:
    """Routes requests to an `EmulatorState`, after authentication (AK/SK or token), project and fault checks.

    With neither a key pair nor a token configured the API is open (any or no credentials pass).
    """

    def __init__(self, state: EmulatorState, *, ak: str | None = None, sk: str | None = None,
                 token: str | None = None, security_token: str | None = None, seed: int = 0,
                 wall_clock: Callable[[], float] | None = None, max_skew_seconds: float = 900.0,
                 on_request: Callable[[str], None] | None = None) -> None:
        if (ak is None) != (sk is None):
            raise ValueError("the emulator needs both an AK and an SK, or neither")
        self.state = state
        self._ak = ak
        self._sk = SecretStr(sk) if sk is not None else None
        self._token = SecretStr(token) if token is not None else None
        self._security_token = SecretStr(security_token) if security_token is not None else None
        self._rng = random.Random(seed)
        self._wall_clock = wall_clock or time.time
        self._max_skew = max_skew_seconds
        self._on_request = on_request
        self._requests = 0
        self._api_requests = 0
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self.request_log: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        modes = [m for m, on in (("aksk", self._sk is not None), ("token", self._token is not None)) if on]
        return f"EmulatorApi(project_id={self.state.project_id!r}, auth={'+'.join(modes) or 'open'})"

    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer one request; never raises for a bad request."""
        started = time.perf_counter()
        with self.state.lock:
            self._requests += 1
            request_id = f"emu-{self._requests:08d}"
            segments = [unquote(s) for s in request.raw_path.split("/")[1:]]
            control = segments[:1] == ["_emulator"]
            try:
                response = self._control(request, segments[1:]) if control else self._api(request, segments)
            except Refusal as refusal:
                latency = 0.0 if control else self.state.faults.latency
                response = EmuResponse(refusal.status, _error_body(refusal, request_id), latency=latency)
            response.headers.setdefault("X-Request-Id", request_id)
            response.headers.setdefault("Content-Type", "application/json")
            if not control:
                self._log(request, response, request_id, started)
            return response

    def _log(self, request: EmuRequest, response: EmuResponse, request_id: str, started: float) -> None:
        ms = (time.perf_counter() - started + response.latency) * 1000
        status = f"{response.status} (answer dropped)" if response.drop else str(response.status)
        entry = {"seq": len(self.request_log) + 1, "method": request.method, "path": request.raw_path,
                 "query": request.query_string, "status": response.status, "dropped": response.drop,
                 "ms": round(ms, 3), "request_id": request_id}
        self.request_log.append(entry)
        if self._on_request is not None:
            self._on_request(f"{request.method} {request.raw_path} {status} {ms:.1f}ms")

    # -- the ModelArts API ---------------------------------------------------------------------------------

    def _api(self, request: EmuRequest, segments: list[str]) -> EmuResponse:
        if len(segments) < 2 or segments[0] not in ("v1", "v2"):
            raise routes.NO_API
        self._api_requests += 1
        self.state.before_request(self._api_requests)
        self._authenticate(request)
        project = request.headers.get("x-project-id")
        if segments[1] != self.state.project_id or (project is not None and project != self.state.project_id):
            raise Refusal(403, "ModelArts.0210", "The project id in the request URL does not match the token.")
        faults = self.state.faults
        if faults.next_errors:
            status = faults.next_errors.pop(0)
            raise _THROTTLED if status == 429 else self._injected(status)
        if faults.rate_429 and self._rng.random() < faults.rate_429:
            raise _THROTTLED
        if faults.rate_5xx and self._rng.random() < faults.rate_5xx:
            raise self._injected(500)
        body, drop = routes.dispatch(self.state, self._rng, request.method, segments[0], segments[2:],
                                     routes.query_of(request.query_string), request.body)
        return EmuResponse(200, body, latency=faults.latency, drop=drop)

    @staticmethod
    def _injected(status: int) -> Refusal:
        if status >= 500:
            return Refusal(status, "ModelArts.50005000", "internal error")
        return bad_request("injected fault") if status == 400 else Refusal(status, "APIGW.0000", "injected fault")

    def _authenticate(self, request: EmuRequest) -> None:
        if self._sk is None and self._token is None:
            return
        headers = request.headers
        if "authorization" in headers:
            self._authenticate_aksk(request)
            return
        token = headers.get("x-auth-token")
        if token is not None:
            if self._token is None or not hmac.compare_digest(token, self._token.get_secret_value()):
                raise Refusal(401, "ModelArts.0203", "token is invalid")
            return
        raise Refusal(401, "ModelArts.0205", "The request has no authentication information.")

    def _authenticate_aksk(self, request: EmuRequest) -> None:
        """A valid, fresh signature by the configured key; five failures in a row lock the key."""
        if self._sk is None or self._ak is None:
            raise Refusal(401, "APIGW.0301", f"{_AUTH_PREFIX}AK/SK is not accepted")
        found = _ACCESS.search(request.headers.get("authorization", ""))
        access = found.group(1) if found else ""
        now = self.state.now()
        if self._locked_until.get(access, 0.0) > now:
            raise Refusal(401, "APIGW.0301", f"{_AUTH_PREFIX}AK access failed to reach the limit,forbidden.")
        self._locked_until.pop(access, None)
        try:
            self._check_signature(request)
        except Refusal:
            self._failures[access] = self._failures.get(access, 0) + 1
            if self._failures[access] >= LOCKOUT_FAILURES:
                self._locked_until[access] = now + LOCKOUT_SECONDS
                self._failures[access] = 0
            raise
        self._failures.pop(access, None)

    def _check_signature(self, request: EmuRequest) -> None:
        assert self._sk is not None and self._ak is not None
        headers = request.headers
        try:
            signed = verify(method=request.method, raw_path=request.raw_path, query_string=request.query_string,
                            headers=headers, body=request.body, access_key=self._ak,
                            secret_key=self._sk.get_secret_value(), now=self._wall_clock(),
                            max_skew_seconds=self._max_skew)
        except SignatureError as exc:
            reason = "Get secretKey failed,ak:******,err:ak not exist" if str(exc) == "unknown access key" \
                else str(exc)
            raise Refusal(401, "APIGW.0301", f"{_AUTH_PREFIX}{reason}") from exc
        if self._security_token is not None:
            expected = self._security_token.get_secret_value()
            sent = headers.get("x-security-token", "")
            if "x-security-token" not in signed or not hmac.compare_digest(sent, expected):
                raise Refusal(401, "APIGW.0301", f"{_AUTH_PREFIX}invalid security token")

    # -- /_emulator control -------------------------------------------------------------------------------

    def _control(self, request: EmuRequest, path: list[str]) -> EmuResponse:
        if request.client_host is not None and not is_loopback_host(request.client_host):
            raise Refusal(403, "Emulator.0403", "/_emulator is for loopback clients only")
        match (request.method, path):
            case ("GET", ["state"]):
                return EmuResponse(200, {**self.state.dump(), "requests": list(self.request_log)})
            case ("GET", ["requests"]):
                since = routes.int_param(routes.query_of(request.query_string), "since") or 0
                return EmuResponse(200, {"requests": self.request_log[max(0, since):]})
            case ("GET", ["faults"]):
                return EmuResponse(200, self.state.faults.model_dump())
            case ("POST", ["faults"]):
                update = _json_object(request.body)
                try:
                    self.state.faults = Faults.model_validate({**self.state.faults.model_dump(), **update})
                except ValidationError as exc:
                    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                    raise bad_request(f"invalid faults: {message}") from exc
                return EmuResponse(200, self.state.faults.model_dump())
            case ("POST", ["advance"]):
                seconds = _json_object(request.body).get("seconds")
                if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                    raise bad_request('expected {"seconds": <number >= 0>}')
                self.state.advance(float(seconds))
                return EmuResponse(200, {"now": self.state.now()})
        raise routes.NO_API


def _json_object(body: bytes) -> dict[str, Any]:
    value = routes.json_body(body, default=b"{}")
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object")
    return value
