"""Request authentication for httpx: AK/SK signing (`SDK-HMAC-SHA256`) and IAM tokens.

Owns: turning `Credentials` into an `httpx.Auth`. Signing goes through the official signer in
huaweicloudsdkcore (modelarts_api.md §7.2-7.3), fed from the httpx request, and the request is then sent
with exactly the query string that was signed. Secret values leave their `SecretStr` only inside
`auth_flow`, straight into a header or the signer; no repr here shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import UTC, datetime

import httpx
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from pydantic import SecretStr

from planner.errors import InputError
from planner.modelarts.settings import Credentials

SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# Headers this client signs when present. Transport-level headers (Accept-Encoding, Connection, User-Agent,
# Content-Length) are left out so a proxy that rewrites them cannot break the signature.
SIGNED_HEADERS = frozenset({
    "content-type", "host", "x-project-id", "x-sdk-date", "x-security-token", "x-sdk-content-sha256",
})

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _KeyPair:
    """The object the official signer reads `.ak` and `.sk` from; never printable."""

    __slots__ = ("ak", "sk")

    def __init__(self, ak: str, sk: str) -> None:
        self.ak = ak
        self.sk = sk

    def __repr__(self) -> str:
        return "_KeyPair(ak=***, sk=***)"


class AkSkAuth(httpx.Auth):
    """Signs every request with AK/SK (`SDK-HMAC-SHA256`); adds `X-Security-Token` for temporary keys.

    Each send gets a fresh `X-Sdk-Date`, so a retried request is signed again.
    """

    requires_request_body = True

    def __init__(self, ak: SecretStr, sk: SecretStr, *, security_token: SecretStr | None = None,
                 clock: Clock | None = None) -> None:
        self._ak = ak
        self._sk = sk
        self._security_token = security_token
        self._clock = clock or _utc_now

    def __repr__(self) -> str:
        temporary = ", temporary" if self._security_token is not None else ""
        return f"AkSkAuth(ak=***, sk=***{temporary})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Add X-Sdk-Date and Authorization (and X-Security-Token) to `request`, in place."""
        if self._security_token is not None:
            request.headers["X-Security-Token"] = self._security_token.get_secret_value()
        request.headers["X-Sdk-Date"] = self._clock().astimezone(UTC).strftime(SDK_DATE_FORMAT)
        headers = {name: value for name, value in request.headers.items() if name.lower() in SIGNED_HEADERS}
        sdk_request = SdkRequest(
            method=request.method,
            schema=request.url.scheme,
            host=request.url.netloc.decode("ascii"),
            resource_path=request.url.raw_path.split(b"?", 1)[0].decode("ascii"),
            query_params=list(request.url.params.multi_items()),
            header_params=headers,
            body=request.content,
        )
        keys = _KeyPair(self._ak.get_secret_value(), self._sk.get_secret_value())
        Signer(keys).sign(sdk_request)
        request.headers["Authorization"] = sdk_request.header_params["Authorization"]
        _, _, signed_query = str(sdk_request.uri).partition("?")
        if signed_query:  # send exactly the (sorted, encoded) query string that was signed
            request.url = request.url.copy_with(query=signed_query.encode("ascii"))


class TokenAuth(httpx.Auth):
    """Sends an IAM token in `X-Auth-Token`."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "TokenAuth(token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token.get_secret_value()
        yield request


def auth_for(credentials: Credentials, *, clock: Clock | None = None) -> httpx.Auth:
    """The httpx auth that matches the credentials: AK/SK signing when a key pair is set, else the token."""
    if credentials.ak is not None and credentials.sk is not None:
        return AkSkAuth(credentials.ak, credentials.sk, security_token=credentials.security_token, clock=clock)
    if credentials.token is not None:
        return TokenAuth(credentials.token)
    raise InputError("no credentials: neither an AK/SK pair nor a token is set", source="credentials")
