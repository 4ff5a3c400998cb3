"""AK/SK signing: the reference test vectors (modelarts_api.md §7.2) on the client and the emulator side."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from planner.modelarts.auth import AkSkAuth, TokenAuth, auth_for
from planner.modelarts.emulator import signature
from planner.modelarts.settings import Credentials

HOST = "modelarts.cn-north-4.myhuaweicloud.com"
DATE = "20250101T000000Z"
VECTOR_TIME = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
GET_SIGNATURE = "b59ad50960fa1a88bd0ce9fb713eed36acc90fe35b6fb36255eff575ff04ed86"
POST_SIGNATURE = "2a8f951b62e851611b5b377e4096f79771708c4c09222bb5459b54da73df18bd"
POST_BODY = (b'{"migrateNodeNames":["os-node-created-abcde"],"fromClusterName":"pool-src",'
             b'"toClusterName":"pool-dst","toPoolName":"pool-dst","resourceSpec":{"flavor":"modelarts.vm.cpu.16u64g.d"}}')
GET_CANONICAL = (
    "GET\n/v2/0123456789abcdef/pools/pool-a/nodes/\ncontinue=abc&limit=2\ncontent-type:application/json\n"
    f"host:{HOST}\nx-sdk-date:{DATE}\n\ncontent-type;host;x-sdk-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)


def vector_auth() -> AkSkAuth:
    return AkSkAuth(SecretStr("AK_EXAMPLE"), SecretStr("SK_EXAMPLE"), clock=lambda: datetime(2025, 1, 1, tzinfo=UTC))


def get_vector_request() -> httpx.Request:
    return httpx.Request("GET", f"https://{HOST}/v2/0123456789abcdef/pools/pool-a/nodes",
                         params={"limit": "2", "continue": "abc"}, headers={"Content-Type": "application/json"})


def post_vector_request() -> httpx.Request:
    return httpx.Request("POST", f"https://{HOST}/v2/0123456789abcdef/pools/pool-src/nodes/batch-migrate",
                         headers={"Content-Type": "application/json", "X-Project-Id": "0123456789abcdef"},
                         content=POST_BODY)


def test_get_vector_matches_reference() -> None:
    request = get_vector_request()
    vector_auth().sign(request)
    assert request.headers["Authorization"] == (
        f"SDK-HMAC-SHA256 Access=AK_EXAMPLE, SignedHeaders=content-type;host;x-sdk-date, Signature={GET_SIGNATURE}")
    assert request.headers["X-Sdk-Date"] == DATE
    # The request goes out with exactly the sorted query string that was signed.
    assert request.url.query == b"continue=abc&limit=2"


def test_post_vector_matches_reference() -> None:
    request = post_vector_request()
    vector_auth().sign(request)
    assert request.headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=AK_EXAMPLE, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        f"Signature={POST_SIGNATURE}")
    assert request.content == POST_BODY


def test_emulator_canonical_request_matches_reference_text() -> None:
    headers = {"content-type": "application/json", "host": HOST, "x-sdk-date": DATE}
    canonical = signature.canonical_request("GET", "/v2/0123456789abcdef/pools/pool-a/nodes", "limit=2&continue=abc",
                                            headers, ["content-type", "host", "x-sdk-date"], b"")
    assert canonical == GET_CANONICAL
    assert signature.sign("SK_EXAMPLE", DATE, canonical) == GET_SIGNATURE


@pytest.mark.parametrize("make_request", [get_vector_request, post_vector_request], ids=["GET", "POST"])
def test_emulator_verifier_accepts_the_vectors_and_rejects_tampering(make_request: object) -> None:
    request = make_request()  # type: ignore[operator]
    vector_auth().sign(request)
    path, _, query = request.url.raw_path.decode().partition("?")
    headers = {k.lower(): v for k, v in request.headers.items()}
    common = {"method": request.method, "raw_path": path, "query_string": query, "access_key": "AK_EXAMPLE",
              "now": VECTOR_TIME + 60}
    assert signature.verify(headers=headers, body=request.content, secret_key="SK_EXAMPLE", **common)
    with pytest.raises(signature.SignatureError, match="verify aksk signature fail"):
        signature.verify(headers=headers, body=request.content, secret_key="SK_OTHER", **common)
    with pytest.raises(signature.SignatureError, match="verify aksk signature fail"):
        signature.verify(headers=headers, body=request.content + b" ", secret_key="SK_EXAMPLE", **common)
    with pytest.raises(signature.SignatureError, match="expired"):
        signature.verify(headers=headers, body=request.content, secret_key="SK_EXAMPLE",
                         **{**common, "now": VECTOR_TIME + 3600})


def test_query_values_needing_escapes_sign_the_same_on_both_sides() -> None:
    auth = vector_auth()
    request = httpx.Request("GET", f"https://{HOST}/v2/p/pools/a b/nodes",
                            params={"continue": "x+y/z= ~", "limit": "5"}, headers={"Content-Type": "application/json"})
    auth.sign(request)
    path, _, query = request.url.raw_path.decode().partition("?")
    headers = {k.lower(): v for k, v in request.headers.items()}
    signature.verify(method="GET", raw_path=path, query_string=query, headers=headers, body=b"",
                     access_key="AK_EXAMPLE", secret_key="SK_EXAMPLE", now=VECTOR_TIME)


def test_temporary_keys_sign_the_security_token() -> None:
    auth = AkSkAuth(SecretStr("AK_EXAMPLE"), SecretStr("SK_EXAMPLE"), security_token=SecretStr("ST-temp-token"),
                    clock=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    request = get_vector_request()
    auth.sign(request)
    assert request.headers["X-Security-Token"] == "ST-temp-token"
    assert "SignedHeaders=content-type;host;x-sdk-date;x-security-token," in request.headers["Authorization"]


def test_each_send_is_signed_afresh() -> None:
    moments = iter([datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC)])
    auth = AkSkAuth(SecretStr("AK_EXAMPLE"), SecretStr("SK_EXAMPLE"), clock=lambda: next(moments))
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-Sdk-Date"])
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as http:
        http.get(f"https://{HOST}/v2/p/pools")
        http.get(f"https://{HOST}/v2/p/pools")
    assert seen == ["20250101T000000Z", "20250101T000005Z"]


def test_token_auth_sets_x_auth_token_and_auth_for_prefers_aksk() -> None:
    request = httpx.Request("GET", f"https://{HOST}/v2/p/pools")
    next(TokenAuth(SecretStr("iam-token")).auth_flow(request))
    assert request.headers["X-Auth-Token"] == "iam-token"
    both = Credentials(ak=SecretStr("a"), sk=SecretStr("b"), token=SecretStr("t"))
    assert isinstance(auth_for(both), AkSkAuth)
    assert isinstance(auth_for(Credentials(token=SecretStr("t"))), TokenAuth)
