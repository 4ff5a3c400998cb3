"""Server-side check of `SDK-HMAC-SHA256` signatures, written from modelarts_api.md §7.2.

Deliberately independent of the official signer the client uses: the two meet only at the published
algorithm and its test vectors, so a mistake on one side shows up as a refused request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_AUTHORIZATION = re.compile(
    r"^(?P<algorithm>\S+)\s+Access=(?P<access>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-fA-F]+)\s*$")


class SignatureError(Exception):
    """Why a signature was refused (never contains the secret key)."""


def canonical_uri(raw_path: str) -> str:
    """Decode the path, percent-encode each segment (safe `~`), and end it with `/`."""
    path = "/".join(quote(segment, safe="~") for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else path + "/"


def canonical_query(query_string: str) -> str:
    """Sorted `key=value` pairs, each side percent-encoded with only `~` safe."""
    pairs = sorted(parse_qsl(query_string, keep_blank_values=True))
    return "&".join(f"{quote(key, safe='~')}={quote(value, safe='~')}" for key, value in pairs)


def canonical_request(method: str, raw_path: str, query_string: str, headers: Mapping[str, str],
                      signed_headers: list[str], body: bytes) -> str:
    """The CanonicalRequest of §7.2 step 6; `headers` keys are lower-case."""
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    if not body:
        payload_hash = EMPTY_SHA256
    else:
        payload_hash = headers.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), canonical_uri(raw_path), canonical_query(query_string), lines,
                      ";".join(signed_headers), payload_hash])


def string_to_sign(date: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sign(secret_key: str, date: str, canonical: str) -> str:
    """hex(HMAC-SHA256(SK, StringToSign))."""
    return hmac.new(secret_key.encode("utf-8"), string_to_sign(date, canonical).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def verify(*, method: str, raw_path: str, query_string: str, headers: Mapping[str, str], body: bytes,
           access_key: str, secret_key: str, now: float, max_skew_seconds: float = 900.0) -> list[str]:
    """The signed header names; SignatureError unless `headers["authorization"]` is a valid, fresh signature."""
    match = _AUTHORIZATION.match(headers.get("authorization", ""))
    if match is None or match["algorithm"] != ALGORITHM:
        raise SignatureError("malformed Authorization header")
    if not hmac.compare_digest(match["access"], access_key):
        raise SignatureError("unknown access key")
    signed = match["signed"].split(";")
    if signed != sorted(signed) or any(name != name.lower() for name in signed):
        raise SignatureError("SignedHeaders must be lower-case and sorted")
    for required in ("host", "x-sdk-date"):
        if required not in signed:
            raise SignatureError(f"{required} must be signed")
    missing = [name for name in signed if name not in headers]
    if missing:
        raise SignatureError(f"signed header(s) not sent: {', '.join(missing)}")
    date = headers["x-sdk-date"].strip()
    try:
        moment = datetime.strptime(date, DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise SignatureError("malformed X-Sdk-Date") from exc
    if abs(now - moment) > max_skew_seconds:
        raise SignatureError("signature expired")
    canonical = canonical_request(method, raw_path, query_string, headers, signed, body)
    if not hmac.compare_digest(sign(secret_key, date, canonical), match["signature"].lower()):
        raise SignatureError("verify aksk signature fail")
    return signed
