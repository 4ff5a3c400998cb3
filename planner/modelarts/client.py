"""The ModelArts API client: one class for every call, and the one write, batch-migrate.

Owns: `ModelArtsClient` (built from `ConnectionSettings`, with the reads of `reads`, the jobs of `jobs` and
the node operations of `node_ops`) and `migrate_nodes`, which is never retried blindly: after an answer that
may hide an accepted request (a dropped connection, a timeout after sending, a 5xx) the client looks for the
job, then for the node move, before it sends again. A 401/403 is never retried anywhere (`ApiAuthError`).
Returns the API's raw JSON objects; it interprets nothing beyond paging and job ids. It never prints and
never logs a header, a credential or a request body.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from planner.errors import ApiStatusError, ApiTransportError, InputError
from planner.files import JsonObject
from planner.modelarts.auth import Clock, auth_for
from planner.modelarts.base import json_object, log
from planner.modelarts.jobs import JobCalls
from planner.modelarts.node_ops import NodeOperations
from planner.modelarts.reads import ReadCalls
from planner.modelarts.settings import ConnectionSettings, is_loopback_host
from planner.modelarts.wire import (
    READ_METHODS,
    UNSENT_ERRORS,
    ReadOnlyTransport,
    ReadOnlyViolation,
    RetryPolicy,
    api_error,
    retry_after,
    tls_context,
)

__all__ = ["READ_METHODS", "ModelArtsClient", "ReadOnlyTransport", "ReadOnlyViolation", "RetryPolicy", "api_error",
           "tls_context"]

_UNSENT_ERRORS = UNSENT_ERRORS
_retry_after = retry_after
# How far back ListJobs is searched for a batch-migrate whose answer was lost (allows for clock skew).
_JOB_LOOKBACK_MS = 10 * 60 * 1000


class ModelArtsClient(ReadCalls, JobCalls, NodeOperations):
    """Typed access to the ModelArts pool API for one project (and workspace).

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
        workspace_id: str | None = None,
    ) -> None:
        super().__init__(http, project_id, retry=retry, sleep=sleep, rng=rng, clock=clock,
                         workspace_id=workspace_id)
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
        return cls(http, settings.project_id, retry=retry, sleep=sleep, workspace_id=settings.workspace_id)

    # -- the one write --------------------------------------------------------------------------------

    def migrate_nodes(self, pool_name: str, body: Mapping[str, Any], *, idempotency_check: bool = True) -> str:
        """BatchMigratePoolNodes on source pool `pool_name`; returns the job id.

        429 and connection failures that prove nothing was sent are retried. After an ambiguous failure
        (answer lost, timeout after sending, 5xx) the client looks for a matching job, then for the node
        move: a found job is returned, and the request is sent again only when neither shows it was
        accepted. With `idempotency_check=False` such a failure is raised at once instead.
        """
        path = self._v2("pools", pool_name, "nodes", "batch-migrate")
        wanted = _node_names(body) if idempotency_check else set()
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        since_ms = int(self._clock() * 1000) - _JOB_LOOKBACK_MS
        attempts = max(1, self.retry.attempts)
        for attempt in range(1, attempts + 1):
            cause: Exception | None = None
            try:
                response = self._exchange("POST", path, content=content, attempt=attempt)
            except httpx.RequestError as exc:
                error = api_error("POST", path, exc)
                ambiguous, retry_after, cause = not isinstance(exc, _UNSENT_ERRORS), None, exc
            else:
                if not response.is_error:
                    return _job_id(response, path)
                error = api_error("POST", path, response)
                if response.status_code != 429 and response.status_code < 500:
                    raise error
                ambiguous, retry_after = response.status_code >= 500, _retry_after(response)
            last = attempt == attempts
            if (ambiguous and not idempotency_check) or (last and not ambiguous):
                raise error from cause
            self._back_off(error, attempt, retry_after)
            if ambiguous:
                job_id = self._find_accepted_migration(pool_name, body, wanted, since_ms)
                if job_id is not None:
                    log.info("batch-migrate on pool %s was accepted before the failure: job %s",
                             pool_name, job_id)
                    return job_id
                if last:
                    raise error from cause
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _find_accepted_migration(self, pool_name: str, body: Mapping[str, Any], wanted: set[str],
                                 since_ms: int) -> str | None:
        """The job of an earlier, lost answer to this request; None when the request surely was not applied."""
        for job in self.list_jobs(pool_name=pool_name, since_ms=since_ms):
            if _job_matches(job, body, wanted) and isinstance(job.get("jobId"), str):
                return str(job["jobId"])
        present = {str(node.get("metadata", {}).get("name")) for node in self.list_pool_nodes(pool_name)}
        gone = sorted(wanted - present)
        if gone:
            raise ApiTransportError(
                f"ModelArts API batch-migrate on pool {pool_name}: the answer was lost and node(s) "
                f"{', '.join(gone)} have left the pool, but no job for them was found; not sending it again")
        return None


def _job_id(response: httpx.Response, path: str) -> str:
    job_id = json_object(response, path).get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ApiStatusError(f"ModelArts API POST {path}: the answer has no job_id", status=response.status_code,
                             request_id=response.headers.get("X-Request-Id"), method="POST", path=path)
    return job_id


def _node_names(body: Mapping[str, Any]) -> set[str]:
    names = body.get("migrateNodeNames")
    if not isinstance(names, list) or not names:
        raise InputError("batch-migrate body needs a non-empty migrateNodeNames list", source="request",
                         path="migrateNodeNames")
    return {str(name) for name in names}


def _maybe_json(value: Any) -> Any:
    """Job fields the SDK types as str may hold JSON text; decode it when it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _job_matches(job: JsonObject, body: Mapping[str, Any], wanted: Iterable[str]) -> bool:
    """A job is this request when its inputs name the same nodes and the same target pool."""
    inputs = _maybe_json(job.get("inputs"))
    if not isinstance(inputs, dict):
        return False
    names = inputs.get("migrateNodeNames")
    if not isinstance(names, list) or {str(n) for n in names} != set(wanted):
        return False
    target = body.get("toPoolName")
    return target is None or inputs.get("toPoolName") in (None, target)
