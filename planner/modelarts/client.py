"""The ModelArts API client (httpx): pools, nodes, networks, jobs and batch-migrate.

Owns: requests, retries and the one mapping of HTTP failures into `planner.errors`. Reads (GET) are
retried with bounded exponential backoff and jitter on 429, 5xx and transport errors. The one write,
batch-migrate, is a plain POST, resent only after 429 or a failure that proves it was not sent; a failure
that may hide an accepted request (a dropped connection, a timeout after sending, a 5xx) is raised, and the
caller decides whether it was accepted (planner.apply.acceptance). Returns the API's raw JSON objects; it
interprets nothing beyond paging and job ids.
It never prints and never logs a header, a credential or a request body.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from planner.errors import ApiError, ApiStatusError, ApiTransportError
from planner.files import JsonObject
from planner.modelarts.auth import Clock, auth_for
from planner.modelarts.settings import ConnectionSettings, is_loopback_host

log = logging.getLogger(__name__)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Transport errors that prove the request never reached the server: resending them is always safe.
_UNSENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout,
                                                           httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter: attempt n waits in [d/2, d], d = min(max_delay, base * 2**n)."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, retry_number: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry `retry_number` (1-based); a server's Retry-After wins, capped."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry_number - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (loading the CA bundle is slow, the context is reusable)."""
    return httpx.create_ssl_context(verify=True)


class ReadOnlyViolation(AssertionError):
    """A mutating request reached a read-only client: a bug in the caller (dry-run must not write)."""


class ReadOnlyTransport(httpx.BaseTransport):
    """Wraps a transport and refuses every request that is not GET/HEAD/OPTIONS, before it is sent."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in READ_METHODS:
            raise ReadOnlyViolation(f"read-only client refused {request.method} {request.url.path}")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def api_error(method: str, path: str, failure: httpx.Response | httpx.RequestError) -> ApiError:
    """The one mapping of an HTTP failure to planner.errors: an error answer or a transport failure."""
    if isinstance(failure, httpx.RequestError):
        kind = "timed out" if isinstance(failure, httpx.TimeoutException) else "connection failed"
        detail = str(failure) or type(failure).__name__
        return ApiTransportError(f"ModelArts API {method} {path}: {kind}: {detail}")
    error_code, error_msg = _error_fields(failure)
    request_id = failure.headers.get("X-Request-Id")
    parts = [f"ModelArts API {method} {path}: HTTP {failure.status_code}"]
    if error_code:
        parts.append(error_code)
    if error_msg:
        parts.append(error_msg)
    message = ": ".join(parts)
    if request_id:
        message += f" (request id {request_id})"
    return ApiStatusError(message, status=failure.status_code, error_code=error_code, error_msg=error_msg,
                          request_id=request_id, method=method, path=path)


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    """error_code and error_msg from the shapes the official SDK accepts (modelarts_api.md §8)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip()[:200]
        return None, text or response.reason_phrase or None
    if not isinstance(body, dict):
        return None, None
    nested = body.get("error")
    if isinstance(nested, dict):
        body = nested
    for code_key, msg_key in (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message")):
        if code_key in body or msg_key in body:
            code, msg = body.get(code_key), body.get(msg_key)
            return (str(code) if code is not None else None, str(msg) if msg is not None else None)
    return None, None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _segment(value: str) -> str:
    """A path segment: percent-encoded so a name can never change the path."""
    return quote(value, safe="")


class ModelArtsClient:
    """Typed access to the ModelArts pool API for one project.

    Build it with `ModelArtsClient.from_settings(settings)` (add `read_only=True` for dry-runs), or inject
    an `httpx.Client` (tests use `httpx.MockTransport` or the emulator's transport). Use it as a context
    manager or call `close()`.
    """

    def __init__(
        self,
        http: httpx.Client,
        project_id: str,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._http = http
        self.project_id = project_id
        self.retry = retry or RetryPolicy()
        self._sleep = sleep or time.sleep
        self._rng = rng or random.Random()
        self._clock = clock or time.time
        self._job_endpoint_missing = False

    @classmethod
    def from_settings(
        cls,
        settings: ConnectionSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        read_only: bool = False,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        sign_clock: Clock | None = None,
    ) -> ModelArtsClient:
        """A client for `settings`: TLS verified, timeouts set, credentials attached as httpx auth."""
        inner = transport if transport is not None else httpx.HTTPTransport(verify=tls_context())
        if read_only:
            inner = ReadOnlyTransport(inner)
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "poolshift"}
        if settings.credentials.kind == "aksk":
            headers["X-Project-Id"] = settings.project_id
        base_url = httpx.URL(settings.base_url)
        http = httpx.Client(
            base_url=base_url,
            transport=inner,
            auth=auth_for(settings.credentials, clock=sign_clock),
            headers=headers,
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            follow_redirects=False,
            # A loopback endpoint (the emulator) never goes through a proxy from the environment.
            trust_env=not is_loopback_host(base_url.host),
        )
        return cls(http, settings.project_id, retry=retry, sleep=sleep)

    def __repr__(self) -> str:
        return f"ModelArtsClient(base_url={str(self._http.base_url)!r}, project_id={self.project_id!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ModelArtsClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- reads -------------------------------------------------------------------------------------------

    def list_pools(self, *, status: str | None = None, label_selector: str | None = None,
                   workspace_id: str | None = None) -> list[JsonObject]:
        """ListPools: every pool object (the API does not page this list)."""
        params = {"status": status, "labelSelector": label_selector, "workspaceId": workspace_id}
        body = self._get_json(self._v2("pools"), params)
        return _items(body, "ListPools")

    def show_pool(self, pool_name: str) -> JsonObject:
        """ShowPool: one pool object by metadata.name."""
        return self._get_json(self._v2("pools", pool_name))

    def list_pool_nodes(self, pool_name: str, *, page_size: int | None = None) -> list[JsonObject]:
        """ListPoolNodes: every node of the pool, following metadata.continue while the server pages."""
        nodes: list[JsonObject] = []
        seen_tokens: set[str] = set()
        token = ""
        while True:
            params: dict[str, Any] = {"limit": page_size, "continue": token or None}
            body = self._get_json(self._v2("pools", pool_name, "nodes"), params)
            nodes.extend(_items(body, "ListPoolNodes"))
            metadata = body.get("metadata")
            token = str(metadata.get("continue") or "") if isinstance(metadata, dict) else ""
            if not token:
                return nodes
            if token in seen_tokens:
                raise ApiStatusError(f"ModelArts API ListPoolNodes {pool_name}: paging does not advance "
                                     f"(continue token repeated)", status=200, method="GET",
                                     path=self._v2("pools", pool_name, "nodes"))
            seen_tokens.add(token)

    def show_network(self, network_name: str) -> JsonObject:
        """ShowNetwork: the network object; its subnets are in status.subnets[] (networkId = subnet id)."""
        return self._get_json(self._v1("networks", network_name))

    def show_network_available_ip(self, network_name: str, subnet_id: str) -> JsonObject:
        """ShowNetworkAvailableIp: `{name, networkId, subnetIpAvailability: [{cidr, usedIps, totalIps}]}`."""
        return self._get_json(self._v1("networks", network_name, "network-ip-availabilities"),
                              {"network_id": subnet_id})

    def list_jobs(self, *, pool_name: str | None = None, job_type: str | None = None,
                  since_ms: int | None = None, until_ms: int | None = None,
                  page_size: int = 100) -> list[JsonObject]:
        """ListJobs (optionally for one pool): every job, following limit/offset until count is reached."""
        jobs: list[JsonObject] = []
        while True:
            params: dict[str, Any] = {
                "resource": "pools" if pool_name else None, "name": pool_name, "type": job_type,
                "since": since_ms, "until": until_ms, "limit": page_size, "offset": len(jobs) or None,
            }
            body = self._get_json(self._v2("jobs"), params)
            page = _items(body, "ListJobs")
            jobs.extend(page)
            count = body.get("count")
            if not page or not isinstance(count, int) or len(jobs) >= count:
                return jobs

    def get_job(self, job_id: str, *, pool_name: str | None = None) -> JsonObject:
        """The job by id: `GET /v2/{project}/jobs/{id}`, falling back to ListJobs (for `pool_name`) on 404."""
        if not self._job_endpoint_missing:
            try:
                return self._get_json(self._v2("jobs", job_id))
            except ApiStatusError as exc:
                if exc.status != 404:
                    raise
                # APIGW.0101: the undocumented endpoint is not published here; stop asking for it.
                self._job_endpoint_missing = exc.error_code == "APIGW.0101"
                log.debug("GetJob %s answered 404 (%s); falling back to ListJobs", job_id, exc.error_code)
        for job in self.list_jobs(pool_name=pool_name):
            if job.get("jobId") == job_id:
                return job
        path = self._v2("jobs")
        where = f" for pool {pool_name}" if pool_name else ""
        raise ApiStatusError(f"ModelArts API GET {path}: job {job_id} not found{where}", status=404,
                             error_msg="job not found", method="GET", path=path)

    # -- the one write --------------------------------------------------------------------------------

    def migrate_nodes(self, pool_name: str, body: Mapping[str, Any]) -> str:
        """BatchMigratePoolNodes on source pool `pool_name`; returns the job id.

        A plain POST. 429 and connection failures that prove nothing was sent are retried with backoff.
        Every other failure is raised: a 4xx is a refusal; an ambiguous failure (a 5xx, a read error or a
        timeout after sending, a dropped connection) may hide an accepted request, and only the caller can
        tell whether it was (planner.apply.acceptance decides, from the journal, the jobs and the nodes).
        """
        path = self._v2("pools", pool_name, "nodes", "batch-migrate")
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        attempts = max(1, self.retry.attempts)
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                response = self._exchange("POST", path, content=content, attempt=attempt)
            except httpx.RequestError as exc:
                error = api_error("POST", path, exc)
                if not isinstance(exc, _UNSENT_ERRORS) or attempt == attempts:
                    raise error from exc
            else:
                if not response.is_error:
                    return _job_id(response, path)
                error = api_error("POST", path, response)
                if response.status_code != 429 or attempt == attempts:
                    raise error
                retry_after = _retry_after(response)
            self._back_off(error, attempt, retry_after)
        raise AssertionError("unreachable: the last attempt returns or raises")

    # -- plumbing ------------------------------------------------------------------------------------------

    def _v1(self, *segments: str) -> str:
        return "/".join(["", "v1", _segment(self.project_id), *(_segment(s) for s in segments)])

    def _v2(self, *segments: str) -> str:
        return "/".join(["", "v2", _segment(self.project_id), *(_segment(s) for s in segments)])

    def _back_off(self, error: ApiError, attempt: int, retry_after: float | None) -> None:
        """Log the failure of `attempt` and sleep before the next one."""
        delay = self.retry.delay(attempt, self._rng, retry_after)
        log.warning("%s; waiting %.1fs after attempt %d of %d", error, delay, attempt, self.retry.attempts)
        self._sleep(delay)

    def _exchange(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                  content: bytes | None = None, attempt: int = 1) -> httpx.Response:
        """One HTTP exchange, logged without headers or body; httpx errors pass through to the caller."""
        query = {key: value for key, value in (params or {}).items() if value is not None}
        response = self._http.request(method, path, params=query or None, content=content)
        log.debug("%s %s -> %d (request id %s, attempt %d)", method, path, response.status_code,
                  response.headers.get("X-Request-Id", "-"), attempt)
        return response

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> JsonObject:
        """GET with bounded retries on 429, 5xx and transport errors; the JSON object answered."""
        attempts = max(1, self.retry.attempts)
        for attempt in range(1, attempts + 1):
            try:
                response = self._exchange("GET", path, params=params, attempt=attempt)
            except httpx.RequestError as exc:
                error = api_error("GET", path, exc)
                if attempt == attempts or not isinstance(exc, httpx.TransportError):
                    raise error from exc
                retry_after = None
            else:
                if not response.is_error:
                    return _json_object(response, path)
                error = api_error("GET", path, response)
                if attempt == attempts or not _is_retryable_status(response.status_code):
                    raise error
                retry_after = _retry_after(response)
            self._back_off(error, attempt, retry_after)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _json_object(response: httpx.Response, path: str) -> JsonObject:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise ApiStatusError(f"ModelArts API {response.request.method} {path}: the answer is not a JSON object",
                             status=response.status_code, request_id=response.headers.get("X-Request-Id"),
                             method=response.request.method, path=path)
    return body


def _items(body: JsonObject, operation: str) -> list[JsonObject]:
    items = body.get("items")
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ApiStatusError(f"ModelArts API {operation}: 'items' is not a list of objects", status=200)
    return items


def _job_id(response: httpx.Response, path: str) -> str:
    job_id = _json_object(response, path).get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ApiStatusError(f"ModelArts API POST {path}: the answer has no job_id", status=response.status_code,
                             request_id=response.headers.get("X-Request-Id"), method="POST", path=path)
    return job_id

