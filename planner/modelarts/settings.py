"""Connection settings for the ModelArts API: endpoint, region, project, workspace, timeouts, credentials.

Owns: turning CLI options plus the environment into one validated `ConnectionSettings`.
- region: `--region`, else `HUAWEICLOUD_SDK_REGION`, else `region` in the profile file's `[basic]` section;
  with `--endpoint` given a missing region is fine (AK/SK signing does not use it);
- project: `--project-id`, else `HUAWEICLOUD_SDK_PROJECT_ID`, else the one the credential source names
  (`project_id` of the profile file);
- workspace: `--workspace-id`, else `POOLSHIFT_WORKSPACE_ID`, else `"0"` (the API's default); `all` means
  every workspace the credentials may access;
- credentials: see `planner.modelarts.credentials` (held as `SecretStr`, never shown).
Nothing here opens an API connection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from planner.errors import InputError
from planner.modelarts.credentials import (
    ENV_AK,
    ENV_SECURITY_TOKEN,
    ENV_SK,
    ENV_TOKEN,
    CredentialKind,
    Credentials,
    profile_value,
)
from planner.modelarts.hosts import is_loopback_host

ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"
ENV_REGION = "HUAWEICLOUD_SDK_REGION"
ENV_WORKSPACE_ID = "POOLSHIFT_WORKSPACE_ID"
DEFAULT_WORKSPACE = "0"
ALL_WORKSPACES = "all"

DEFAULT_ENDPOINT = "https://modelarts.{region}.myhuaweicloud.com"
# The official SDK's region table has one host outside the .com domain (modelarts_api.md §1).
_ENDPOINT_EXCEPTIONS = {"ap-southeast-1": "https://modelarts.ap-southeast-1.myhuaweicloud.cn"}

_PROJECT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_REGION = re.compile(r"^[a-z0-9-]{1,64}$")
_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

__all__ = ["ALL_WORKSPACES", "DEFAULT_WORKSPACE", "ENV_AK", "ENV_PROJECT_ID", "ENV_REGION", "ENV_SECURITY_TOKEN",
           "ENV_SK", "ENV_TOKEN", "ENV_WORKSPACE_ID", "ConnectionSettings", "CredentialKind", "Credentials",
           "check_endpoint"]


class ConnectionSettings(BaseModel):
    """Where and how to reach ModelArts: endpoint, region, project, workspace, timeouts and credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str | None
    project_id: str
    credentials: Credentials
    endpoint: str | None = None
    workspace_id: str = DEFAULT_WORKSPACE
    timeout: float = 30.0
    connect_timeout: float = 10.0

    @property
    def base_url(self) -> str:
        """The endpoint, or the region's default host when none is given."""
        if self.endpoint:
            return self.endpoint.rstrip("/")
        if not self.region:
            raise InputError("--region is required without --endpoint", source="arguments", path="--region")
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
        workspace_id: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ConnectionSettings:
        """Build settings from CLI options plus the environment (region, project, workspace, credentials)."""
        env = os.environ if env is None else env
        if endpoint:
            check_endpoint(endpoint)
        region = _region(region, env, endpoint_given=bool(endpoint))
        for name, value in (("--timeout", timeout), ("--connect-timeout", connect_timeout)):
            if value is not None and value <= 0:
                raise InputError("must be a positive number of seconds", source="arguments", path=name)
        workspace = check_workspace_id(workspace_id or env.get(ENV_WORKSPACE_ID, "").strip() or DEFAULT_WORKSPACE)
        project = project_id or env.get(ENV_PROJECT_ID, "").strip() or profile_value(env, "project_id")
        if project is not None and not _PROJECT_ID.match(project):
            raise InputError("invalid project id (1-64 letters, digits or hyphens)",
                             source="arguments", path="--project-id")
        credentials = Credentials.from_env(env)
        project = project or credentials.project_id
        if not project:
            raise InputError(f"no project id: pass --project-id or set {ENV_PROJECT_ID}",
                             source="arguments", path="--project-id")
        extra: dict[str, float] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        if connect_timeout is not None:
            extra["connect_timeout"] = connect_timeout
        return cls(region=region, project_id=project, endpoint=endpoint or None, workspace_id=workspace,
                   credentials=credentials, **extra)


def _region(region: str | None, env: Mapping[str, str], *, endpoint_given: bool) -> str | None:
    value = region or env.get(ENV_REGION, "").strip() or profile_value(env, "region")
    if not value:
        if endpoint_given:
            return None
        raise InputError(f"--region is required (or set {ENV_REGION}, or give --endpoint)", source="arguments",
                         path="--region")
    if not _REGION.match(value):
        raise InputError(f"invalid region {value!r}", source="arguments", path="--region")
    return value


def check_workspace_id(value: str) -> str:
    """A workspace id ("0", a 32-hex id, ...) or `all`; anything else is an input error."""
    if value != ALL_WORKSPACES and not _WORKSPACE_ID.match(value):
        raise InputError(f"invalid workspace id {value!r} (letters, digits, '-' or '_', or 'all')",
                         source="arguments", path="--workspace-id")
    return value


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
