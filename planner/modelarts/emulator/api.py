"""The emulator's HTTP surface as plain values: routing, authentication, project checks and faults.

Owns: turning an `EmuRequest` (method, raw path, query, headers, body, client address) into an
`EmuResponse` (status, JSON body, headers, plus the injected latency and connection drop that the adapters
carry out). The FastAPI app and the httpx transport are thin adapters over `EmulatorApi.handle`, so both
behave the same. `/_emulator/*` (state, faults, clock) answers loopback clients only and needs no auth.
"""

from __future__ import annotations

import hmac
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from pydantic import SecretStr, ValidationError

from planner.modelarts.emulator.signature import SignatureError, verify
from planner.modelarts.emulator.state import EmulatorState, Faults, Refusal, bad_request
from planner.modelarts.settings import is_loopback_host

_NO_API = Refusal(404, "APIGW.0101", "The API does not exist or has not been published in the environment.")
_THROTTLED = Refusal(429, "APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit,"
                                        "limit:20,time:1 minute")


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


def _error_body(refusal: Refusal) -> dict[str, str]:
    return {"error_code": refusal.error_code, "error_msg": refusal.error_msg}


class EmulatorApi:
    """Routes requests to an `EmulatorState`, after authentication (AK/SK or token), project and fault checks.

    With neither a key pair nor a token configured the API is open (any or no credentials pass).
    """

    def __init__(self, state: EmulatorState, *, ak: str | None = None, sk: str | None = None,
                 token: str | None = None, security_token: str | None = None, seed: int = 0,
                 wall_clock: Callable[[], float] | None = None, max_skew_seconds: float = 900.0) -> None:
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
        self._requests = 0

    def __repr__(self) -> str:
        modes = [m for m, on in (("aksk", self._sk is not None), ("token", self._token is not None)) if on]
        return f"EmulatorApi(project_id={self.state.project_id!r}, auth={'+'.join(modes) or 'open'})"

    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer one request; never raises for a bad request."""
        with self.state.lock:
            self._requests += 1
            request_id = f"emu-{self._requests:08d}"
            segments = [unquote(s) for s in request.raw_path.split("/")[1:]]
            try:
                if segments[:1] == ["_emulator"]:
                    response = self._control(request, segments[1:])
                else:
                    response = self._api(request, segments)
            except Refusal as refusal:
                latency = self.state.faults.latency if segments[:1] != ["_emulator"] else 0.0
                response = EmuResponse(refusal.status, _error_body(refusal), latency=latency)
            response.headers.setdefault("X-Request-Id", request_id)
            response.headers.setdefault("Content-Type", "application/json")
            return response

    # -- the ModelArts API ---------------------------------------------------------------------------------

    def _api(self, request: EmuRequest, segments: list[str]) -> EmuResponse:
        if len(segments) < 2 or segments[0] not in ("v1", "v2"):
            raise _NO_API
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
        body, drop = self._dispatch(request, segments[0], segments[2:], _query(request.query_string))
        return EmuResponse(200, body, latency=faults.latency, drop=drop)

    @staticmethod
    def _injected(status: int) -> Refusal:
        if status >= 500:
            return Refusal(status, "ModelArts.50005000", "internal error")
        return bad_request("injected fault") if status == 400 else Refusal(status, "APIGW.0000", "injected fault")

    def _dispatch(self, request: EmuRequest, version: str, path: list[str],
                  query: dict[str, str]) -> tuple[Any, bool]:
        state = self.state
        method = request.method
        match (version, method, path):
            case ("v2", "GET", ["pools"]):
                return state.list_pools(status=query.get("status"),
                                        label_selector=query.get("labelSelector")), False
            case ("v2", "GET", ["pools", pool]):
                return state.show_pool(pool), False
            case ("v2", "GET", ["pools", pool, "nodes"]):
                return state.list_pool_nodes(pool, limit=_int(query, "limit"),
                                             continue_token=query.get("continue") or None), False
            case ("v2", "POST", ["pools", pool, "nodes", "batch-migrate"]):
                try:
                    payload = json.loads(request.body or b"null")
                except (ValueError, UnicodeDecodeError):
                    raise bad_request("the body is not valid JSON") from None
                job_id = state.batch_migrate(pool, payload)
                drop = state.faults.drop_after_accept > 0
                if drop:
                    state.faults.drop_after_accept -= 1
                return {"job_id": job_id}, drop
            case ("v2", "GET", ["jobs"]):
                return state.list_jobs(name=query.get("name"), job_type=query.get("type"),
                                       since_ms=_int(query, "since"), until_ms=_int(query, "until"),
                                       limit=_int(query, "limit") or 100, offset=_int(query, "offset") or 0), False
            case ("v2", "GET", ["jobs", job_id]):
                if state.faults.hide_get_job:
                    raise _NO_API
                return state.get_job(job_id), False
            case ("v1", "GET", ["networks"]):
                return state.list_networks(), False
            case ("v1", "GET", ["networks", network]):
                return state.show_network(network), False
            case ("v1", "GET", ["networks", network, "network-ip-availabilities"]):
                return state.show_network_available_ip(network, query.get("network_id")), False
        raise _NO_API

    def _authenticate(self, request: EmuRequest) -> None:
        if self._sk is None and self._token is None:
            return
        headers = request.headers
        if "authorization" in headers:
            if self._sk is None or self._ak is None:
                raise Refusal(401, "APIGW.0301", "Incorrect IAM authentication information: AK/SK is not accepted")
            try:
                signed = verify(method=request.method, raw_path=request.raw_path, query_string=request.query_string,
                       headers=headers, body=request.body, access_key=self._ak,
                       secret_key=self._sk.get_secret_value(), now=self._wall_clock(),
                       max_skew_seconds=self._max_skew)
            except SignatureError as exc:
                raise Refusal(401, "APIGW.0301", f"Incorrect IAM authentication information: {exc}") from None
            if self._security_token is not None:
                expected = self._security_token.get_secret_value()
                sent = headers.get("x-security-token", "")
                if "x-security-token" not in signed or not hmac.compare_digest(sent, expected):
                    raise Refusal(401, "APIGW.0301",
                                  "Incorrect IAM authentication information: invalid security token")
            return
        token = headers.get("x-auth-token")
        if token is not None:
            if self._token is None or not hmac.compare_digest(token, self._token.get_secret_value()):
                raise Refusal(401, "ModelArts.0203", "token is invalid")
            return
        raise Refusal(401, "ModelArts.0205", "The request has no authentication information.")

    # -- /_emulator control -------------------------------------------------------------------------------

    def _control(self, request: EmuRequest, path: list[str]) -> EmuResponse:
        if request.client_host is not None and not is_loopback_host(request.client_host):
            raise Refusal(403, "Emulator.0403", "/_emulator is for loopback clients only")
        match (request.method, path):
            case ("GET", ["state"]):
                return EmuResponse(200, self.state.dump())
            case ("GET", ["faults"]):
                return EmuResponse(200, self.state.faults.model_dump())
            case ("POST", ["faults"]):
                update = _json_object(request.body)
                try:
                    self.state.faults = Faults.model_validate({**self.state.faults.model_dump(), **update})
                except ValidationError as exc:
                    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                    raise bad_request(f"invalid faults: {message}") from None
                return EmuResponse(200, self.state.faults.model_dump())
            case ("POST", ["advance"]):
                seconds = _json_object(request.body).get("seconds")
                if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                    raise bad_request('expected {"seconds": <number >= 0>}')
                self.state.advance(float(seconds))
                return EmuResponse(200, {"now": self.state.now()})
        raise _NO_API


def _query(query_string: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query_string, keep_blank_values=True).items()}


def _int(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{key} must be an integer") from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise bad_request("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object")
    return value
