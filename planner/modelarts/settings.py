"""Connection settings and credentials for the ModelArts API.

Owns: where the API is (endpoint, region, project id), how long to wait, and which credentials to use.
Credentials come from the environment only and are held as `SecretStr`, so they never show in a repr,
a log line, an exception message or a dump. Nothing here opens a connection.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from planner.errors import InputError

ENV_AK = "HUAWEICLOUD_SDK_AK"
ENV_SK = "HUAWEICLOUD_SDK_SK"
ENV_SECURITY_TOKEN = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"
ENV_TOKEN = "POOLSHIFT_TOKEN"

DEFAULT_ENDPOINT = "https://modelarts.{region}.myhuaweicloud.com"
# The official SDK's region table has one host outside the .com domain (modelarts_api.md §1).
_ENDPOINT_EXCEPTIONS = {"ap-southeast-1": "https://modelarts.ap-southeast-1.myhuaweicloud.cn"}

_PROJECT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_REGION = re.compile(r"^[a-z0-9-]{1,64}$")
_LOOPBACK_NAMES = {"localhost"}

CredentialKind = Literal["aksk", "token"]


class Credentials(BaseModel):
    """AK/SK (optionally temporary, with a security token) or an IAM token; every value is a SecretStr."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ak: SecretStr | None = None
    sk: SecretStr | None = None
    security_token: SecretStr | None = None
    token: SecretStr | None = None

    @property
    def kind(self) -> CredentialKind:
        """`aksk` when a key pair is set (it wins over a token), else `token`."""
        return "aksk" if self.ak is not None and self.sk is not None else "token"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        """Read HUAWEICLOUD_SDK_AK/SK (+ SECURITY_TOKEN) or POOLSHIFT_TOKEN; a half-set pair is an input error."""
        env = os.environ if env is None else env
        ak = env.get(ENV_AK, "").strip()
        sk = env.get(ENV_SK, "").strip()
        security_token = env.get(ENV_SECURITY_TOKEN, "").strip()
        token = env.get(ENV_TOKEN, "").strip()
        if bool(ak) != bool(sk):
            missing = ENV_SK if ak else ENV_AK
            raise InputError(f"{missing} is not set (AK/SK signing needs both {ENV_AK} and {ENV_SK})",
                             source="environment")
        if ak:
            return cls(ak=SecretStr(ak), sk=SecretStr(sk),
                       security_token=SecretStr(security_token) if security_token else None)
        if security_token:
            raise InputError(f"{ENV_SECURITY_TOKEN} is set without {ENV_AK} and {ENV_SK}", source="environment")
        if token:
            return cls(token=SecretStr(token))
        raise InputError(f"no credentials: set {ENV_AK} and {ENV_SK} (and {ENV_SECURITY_TOKEN} for temporary "
                         f"keys), or an IAM token in {ENV_TOKEN}", source="environment")


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts that may be reached over plain http."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConnectionSettings(BaseModel):
    """Where and how to reach ModelArts: endpoint, region, project id, timeouts and credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    project_id: str
    credentials: Credentials
    endpoint: str | None = None
    timeout: float = 30.0
    connect_timeout: float = 10.0

    @property
    def base_url(self) -> str:
        """The endpoint, or the region's default host when none is given."""
        if self.endpoint:
            return self.endpoint.rstrip("/")
        return _ENDPOINT_EXCEPTIONS.get(self.region, DEFAULT_ENDPOINT.format(region=self.region))

    @classmethod
    def from_options(
        cls,
        *,
        region: str | None,
        project_id: str | None = None,
        endpoint: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ConnectionSettings:
        """Build settings from CLI options plus the environment (project id and credentials)."""
        env = os.environ if env is None else env
        if not region:
            raise InputError("--region is required", source="arguments", path="--region")
        if not _REGION.match(region):
            raise InputError(f"invalid region {region!r}", source="arguments", path="--region")
        project = project_id or env.get(ENV_PROJECT_ID, "").strip()
        if not project:
            raise InputError(f"no project id: pass --project-id or set {ENV_PROJECT_ID}",
                             source="arguments", path="--project-id")
        if not _PROJECT_ID.match(project):
            raise InputError("invalid project id (1-64 letters, digits or hyphens)",
                             source="arguments", path="--project-id")
        if endpoint:
            check_endpoint(endpoint)
        for name, value in (("--timeout", timeout), ("--connect-timeout", connect_timeout)):
            if value is not None and value <= 0:
                raise InputError("must be a positive number of seconds", source="arguments", path=name)
        extra: dict[str, float] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        if connect_timeout is not None:
            extra["connect_timeout"] = connect_timeout
        return cls(region=region, project_id=project, endpoint=endpoint or None,
                   credentials=Credentials.from_env(env), **extra)


def check_endpoint(endpoint: str) -> None:
    """An endpoint is an https URL, or http on a loopback host (the emulator); nothing else gets credentials."""
    parts = urlsplit(endpoint)
    if parts.username or parts.password:  # checked first: such a URL must not be echoed back
        raise InputError("invalid endpoint: user info is not allowed in the URL", source="arguments",
                         path="--endpoint")
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise InputError(f"invalid endpoint {endpoint!r}: expected https://host[:port]",
                         source="arguments", path="--endpoint")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InputError(f"endpoint {endpoint!r} is plain http; only loopback hosts may skip TLS",
                         source="arguments", path="--endpoint")
