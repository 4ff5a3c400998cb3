"""The plumbing every ModelArts call goes through: paths, one logged exchange, GET and idempotent POST with retries.

Owns: `ClientBase` (the httpx client, project and workspace, retry policy, sleep and clock), building
`/v1|v2/{project}/...` paths from encoded segments, and the two retry loops: GET and idempotent POST
(drain, lock, unlock) are retried on 429, 5xx and transport errors, never on any other error answer; a
401/403 fails at once as `ApiAuthError`. Must not: know any endpoint's meaning (that is `reads`, `jobs`,
`node_ops` and `client`), or log a header, a body or a credential.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from planner.errors import ApiError, ApiStatusError
from planner.files import JsonObject
from planner.modelarts.wire import RetryPolicy, api_error, is_retryable_status, retry_after, segment

log = logging.getLogger("planner.modelarts.client")


class ClientBase:
    """An httpx client bound to one project (and workspace), with bounded retries for reads."""

    def __init__(
        self,
        http: httpx.Client,
        project_id: str,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        workspace_id: str | None = None,
    ) -> None:
        self._http = http
        self.project_id = project_id
        self.workspace_id = workspace_id
        self.retry = retry or RetryPolicy()
        self._sleep = sleep or time.sleep
        self._rng = rng or random.Random()
        self._clock = clock or time.time

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(base_url={str(self._http.base_url)!r}, project_id={self.project_id!r}, "
                f"workspace_id={self.workspace_id!r})")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- paths -------------------------------------------------------------------------------------------

    def _v1(self, *segments: str) -> str:
        return "/".join(["", "v1", segment(self.project_id), *(segment(s) for s in segments)])

    def _v2(self, *segments: str) -> str:
        return "/".join(["", "v2", segment(self.project_id), *(segment(s) for s in segments)])

    # -- exchanges ---------------------------------------------------------------------------------------

    def _back_off(self, error: ApiError, attempt: int, wait_hint: float | None) -> None:
        """Log the failure of `attempt` and sleep before the next one."""
        delay = self.retry.delay(attempt, self._rng, wait_hint)
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

    def _retrying(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                  content: bytes | None = None) -> JsonObject:
        """Send with bounded retries on 429, 5xx and transport errors; the JSON object answered.

        Only for requests that are safe to repeat (reads, and idempotent node operations). Any other error
        answer, 401 and 403 above all, is raised after this one request.
        """
        attempts = max(1, self.retry.attempts)
        for attempt in range(1, attempts + 1):
            try:
                response = self._exchange(method, path, params=params, content=content, attempt=attempt)
            except httpx.RequestError as exc:
                error = api_error(method, path, exc)
                if attempt == attempts or not isinstance(exc, httpx.TransportError):
                    raise error from exc
                wait_hint = None
            else:
                if not response.is_error:
                    return json_object(response, path)
                error = api_error(method, path, response)
                if attempt == attempts or not is_retryable_status(response.status_code):
                    raise error
                wait_hint = retry_after(response)
            self._back_off(error, attempt, wait_hint)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> JsonObject:
        """GET with bounded retries; the JSON object answered."""
        return self._retrying("GET", path, params=params)

    def _post_idempotent(self, path: str, body: Mapping[str, Any]) -> JsonObject:
        """POST a request that may safely be repeated (drain, lock, unlock), with the retries of a read."""
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return self._retrying("POST", path, content=content)


def json_object(response: httpx.Response, path: str) -> JsonObject:
    """The answer's JSON object, or an ApiStatusError saying it is not one."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise ApiStatusError(f"ModelArts API {response.request.method} {path}: the answer is not a JSON object",
                             status=response.status_code, request_id=response.headers.get("X-Request-Id"),
                             method=response.request.method, path=path)
    return body


def items_of(body: JsonObject, operation: str) -> list[JsonObject]:
    """`items` of a list answer (absent means none); anything but a list of objects is an API error."""
    items = body.get("items")
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ApiStatusError(f"ModelArts API {operation}: 'items' is not a list of objects", status=200)
    return items
