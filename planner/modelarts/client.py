"""The ModelArts API client: one class for every call, and the one write, batch-migrate.

Owns: `ModelArtsClient` (built from `ConnectionSettings`, with the reads of `reads`, the jobs of `jobs` and
the node operations of `node_ops`) and `migrate_nodes`, a plain POST: resent only after 429 or a failure that
proves it was not sent; a failure that may hide an accepted request (a dropped connection, a timeout after
sending, a 5xx) is raised, and the caller decides whether it was accepted (planner.apply.acceptance). A 401/403
is never retried anywhere (`ApiAuthError`). Returns the API's raw JSON objects; it interprets nothing beyond
paging and job ids. It never prints and never logs a header, a credential or a request body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from planner.errors import ApiStatusError
from planner.modelarts.auth import Clock, auth_for
from planner.modelarts.base import json_object
from planner.modelarts.hosts import is_loopback_host
from planner.modelarts.jobs import JobCalls
from planner.modelarts.node_ops import NodeOperations
from planner.modelarts.reads import ReadCalls
from planner.modelarts.settings import ConnectionSettings
from planner.modelarts.wire import (
    READ_METHODS,
    UNSENT_ERRORS,
    ReadOnlyTransport,
    ReadOnlyViolation,
    RetryPolicy,
    api_error,
    tls_context,
)
from planner.modelarts.wire import (
    retry_after as retry_after_of,
)

__all__ = ["READ_METHODS", "ModelArtsClient", "ReadOnlyTransport", "ReadOnlyViolation", "RetryPolicy", "api_error",
           "tls_context"]


class ModelArtsClient(ReadCalls, JobCalls, NodeOperations):
    """Typed access to the ModelArts pool API for one project (and workspace).

    Build it with `ModelArtsClient.from_settings(settings)` (add `read_only=True` for dry-runs), or inject
    an `httpx.Client` (tests use `httpx.MockTransport` or the emulator's transport). Use it as a context
    manager or call `close()`.
    """

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
        return cls(http, settings.project_id, retry=retry, sleep=sleep, workspace_id=settings.workspace_id)

    # -- the one write --------------------------------------------------------------------------------

    def migrate_nodes(self, pool_name: str, body: Mapping[str, Any]) -> str:
        """BatchMigratePoolNodes on source pool `pool_name`; returns the job id.

        A plain POST. 429 and connection failures that prove nothing was sent are retried with backoff.
        Every other failure is raised: a 4xx is a refusal (a 401/403 is `ApiAuthError`, never retried); an
        ambiguous failure (a 5xx, a read error or a timeout after sending, a dropped connection) may hide an
        accepted request, and only the caller can tell whether it was (planner.apply.acceptance decides, from
        the journal, the jobs and the nodes).
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
                if not isinstance(exc, UNSENT_ERRORS) or attempt == attempts:
                    raise error from exc
            else:
                if not response.is_error:
                    return _job_id(response, path)
                error = api_error("POST", path, response)
                if response.status_code != 429 or attempt == attempts:
                    raise error
                retry_after = retry_after_of(response)
            self._back_off(error, attempt, retry_after)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _job_id(response: httpx.Response, path: str) -> str:
    job_id = json_object(response, path).get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ApiStatusError(f"ModelArts API POST {path}: the answer has no job_id", status=response.status_code,
                             request_id=response.headers.get("X-Request-Id"), method="POST", path=path)
    return job_id
