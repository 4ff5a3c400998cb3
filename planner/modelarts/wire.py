"""What every ModelArts request shares on the wire: retry policy, TLS, the read-only guard and error mapping.

Owns: `RetryPolicy` (bounded backoff with jitter), the process-wide verifying TLS context, the
`ReadOnlyTransport` that refuses writes before they are sent, and `api_error()`, the one mapping of an HTTP
failure into `planner.errors` (401/403 become `ApiAuthError` with what to check; transport failures name
host and port). Must not: send requests itself, decide retries for a particular call, or put a header,
a body or a credential into a message.
"""

from __future__ import annotations

import functools
import random
import ssl
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from planner.errors import ApiAuthError, ApiError, ApiStatusError, ApiTransportError

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH_STATUSES = frozenset({401, 403})
# Transport errors that prove the request never reached the server: resending them is always safe.
UNSENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout,
                                                          httpx.PoolTimeout)
_LOCKOUT_NOTE = "not retried: five failed AK/SK authentications in a row lock the key for five minutes"


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


def segment(value: str) -> str:
    """A path segment: percent-encoded so a name can never change the path."""
    return quote(value, safe="")


def host_port(url: httpx.URL) -> str:
    """`host:port` of a URL, with the scheme's default port spelled out."""
    port = url.port or (443 if url.scheme == "https" else 80)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{port}"


def is_retryable_status(status: int) -> bool:
    """429 and 5xx may succeed later; every other error answer (401 and 403 above all) will not."""
    return status == 429 or status >= 500


def retry_after(response: httpx.Response) -> float | None:
    """A numeric Retry-After header in seconds, if the server sent one."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def api_error(method: str, path: str, failure: httpx.Response | httpx.RequestError) -> ApiError:
    """The one mapping of an HTTP failure to planner.errors: an error answer or a transport failure."""
    if isinstance(failure, httpx.RequestError):
        kind = "timed out" if isinstance(failure, httpx.TimeoutException) else "connection failed"
        detail = str(failure) or type(failure).__name__
        where = _where(failure)
        return ApiTransportError(f"ModelArts API {method} {path}: {kind}{where}: {detail}")
    error_code, error_msg, body_request_id = _error_fields(failure)
    request_id = failure.headers.get("X-Request-Id") or body_request_id
    parts = [f"ModelArts API {method} {path}"]
    if failure.status_code in AUTH_STATUSES:
        parts[0] += f" at {_endpoint(failure)}"
    parts.append(f"HTTP {failure.status_code}")
    if error_code:
        parts.append(error_code)
    if error_msg:
        parts.append(error_msg)
    message = ": ".join(parts)
    if request_id:
        message += f" (request id {request_id})"
    error_type: type[ApiStatusError] = ApiStatusError
    if failure.status_code in AUTH_STATUSES:
        error_type, message = ApiAuthError, f"{message}; {_auth_hint(failure, error_code, error_msg)}"
    return error_type(message, status=failure.status_code, error_code=error_code, error_msg=error_msg,
                request_id=request_id, method=method, path=path)


def _where(failure: httpx.RequestError) -> str:
    try:
        return f" ({host_port(failure.request.url)})"
    except RuntimeError:  # an error raised without a request attached
        return ""


def _endpoint(response: httpx.Response) -> str:
    try:
        url = response.request.url
    except RuntimeError:
        return "the endpoint"
    return f"{url.scheme}://{host_port(url)}"


def _auth_hint(response: httpx.Response, error_code: str | None, error_msg: str | None) -> str:
    """What to check after a 401/403, from the credential kind that was sent and the error code."""
    try:
        headers = response.request.headers
    except RuntimeError:
        headers = httpx.Headers()
    text = (error_msg or "").lower()
    if response.status_code == 403:
        if error_code == "ModelArts.0210":
            return ("check --project-id / HUAWEICLOUD_SDK_PROJECT_ID: it must be the project of these credentials "
                    "in this region")
        return "check the IAM permissions of these credentials for ModelArts resource pools (and the workspace)"
    if "authorization" in headers:
        if "reach the limit" in text:
            return ("the access key is locked for five minutes after five failed authentications in a row; fix "
                    "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK, then wait before any retry")
        return ("check HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary "
                f"keys) and this machine's clock; {_LOCKOUT_NOTE}")
    if "x-auth-token" in headers:
        return "check the IAM token in POOLSHIFT_TOKEN (expired, or not scoped to this project?)"
    return "the request carried no credentials: set HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK or POOLSHIFT_TOKEN"


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """error_code, error_msg and request_id from the shapes the official SDK accepts (modelarts_api.md §8)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip()[:200]
        return None, text or response.reason_phrase or None, None
    if not isinstance(body, dict):
        return None, None, None
    request_id = body.get("request_id")
    request_id = str(request_id) if isinstance(request_id, str | int) and request_id != "" else None
    nested = body.get("error")
    if isinstance(nested, dict):
        body = nested
    for code_key, msg_key in (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message")):
        if code_key in body or msg_key in body:
            code, msg = body.get(code_key), body.get(msg_key)
            return (str(code) if code is not None else None, str(msg) if msg is not None else None, request_id)
    return None, None, request_id

