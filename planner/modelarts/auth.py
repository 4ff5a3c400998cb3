"""Request authentication for httpx: AK/SK signing (`SDK-HMAC-SHA256`) and IAM tokens.

Owns: turning `Credentials` into an `httpx.Auth`. Signing goes through the official signer in
huaweicloudsdkcore (modelarts_api.md §7.2-7.3), fed from the httpx request, and the request is then sent
with exactly the query string that was signed. The keys are read from their `KeySource` for every request,
so temporary keys renewed during a long run are used at once. Secret values leave their holder only inside
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
from planner.modelarts.credentials import Credentials, KeySource, StaticKeys

SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# Headers this client signs when present. Transport-level headers (Accept-Encoding, Connection, User-Agent,
# Content-Length) are left out so a proxy that rewrites them cannot break the signature.
SIGNED_HEADERS = frozenset({
    "content-type", "host", "x-project-id", "x-sdk-date", "x-security-token", "x-sdk-content-sha256",
})

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AkSkAuth(httpx.Auth):
    """Signs every request with AK/SK (`SDK-HMAC-SHA256`); adds `X-Security-Token` for temporary keys.

    Each send gets a fresh `X-Sdk-Date` and the keys current at that moment, so a retried request is signed
    again and renewed temporary keys are used as soon as they exist.
    """

    requires_request_body = True

    def __init__(self, ak: SecretStr | None = None, sk: SecretStr | None = None, *,
                 security_token: SecretStr | None = None, keys: KeySource | None = None,
                 clock: Clock | None = None) -> None:
        if keys is None:
            if ak is None or sk is None:
                raise ValueError("AkSkAuth needs an AK and an SK, or a key source")
            keys = StaticKeys(ak, sk, security_token)
        self._keys = keys
        self._clock = clock or _utc_now

    @classmethod
    def from_source(cls, keys: KeySource, *, clock: Clock | None = None) -> AkSkAuth:
        """Sign with whatever `keys.current()` gives at each request."""
        return cls(keys=keys, clock=clock)

    def __repr__(self) -> str:
        return f"AkSkAuth(ak=***, sk=***, source={self._keys.description})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Add X-Sdk-Date and Authorization (and X-Security-Token) to `request`, in place."""
        keys = self._keys.current()
        if keys.security_token:
            request.headers["X-Security-Token"] = keys.security_token
        else:
            request.headers.pop("X-Security-Token", None)
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
    keys = credentials.key_source()
    if keys is not None:
        return AkSkAuth.from_source(keys, clock=clock)
    if credentials.token is not None:
        return TokenAuth(credentials.token)
    raise InputError("no credentials: neither an AK/SK pair nor a token is set", source="credentials")
