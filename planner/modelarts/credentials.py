"""Credentials for the ModelArts API, found the way Huawei Cloud users keep them.

Owns: the order in which credentials are looked for, and keys that renew themselves during a long run.
1. `HUAWEICLOUD_SDK_AK` + `HUAWEICLOUD_SDK_SK` (+ `HUAWEICLOUD_SDK_SECURITY_TOKEN`), else `POOLSHIFT_TOKEN`;
2. else huaweicloudsdkcore's credential providers, the explicitly configured ones first: OIDC
   (`HUAWEICLOUD_OIDC_*`), a federated id token (`HUAWEICLOUD_SDK_IDP_ID` + `..._ID_TOKEN_FILE`), the profile
   file (`HUAWEICLOUD_SDK_CREDENTIALS_FILE`, default `~/.huaweicloud/credentials`), CCE pod identity
   (`HC_CONTAINER_CREDENTIALS_FULL_URI`), and last the ECS/CCE metadata service (temporary keys of the
   machine's agency). Temporary keys are renewed by the SDK when they come within 40 minutes of expiry; the
   signer asks `KeySource.current()` before every request, so a long run always signs with fresh keys.
Every secret stays in a `SecretStr` or in the SDK object; nothing here prints, logs or repr()s a value.
Must not: open an API connection (only the credential services above are asked, and only when no key is set
in the environment).
"""

from __future__ import annotations

import configparser
import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from planner.errors import ApiTransportError, InputError
from planner.modelarts.hosts import is_loopback_host

ENV_AK = "HUAWEICLOUD_SDK_AK"
ENV_SK = "HUAWEICLOUD_SDK_SK"
ENV_SECURITY_TOKEN = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
ENV_TOKEN = "POOLSHIFT_TOKEN"
ENV_CREDENTIALS_FILE = "HUAWEICLOUD_SDK_CREDENTIALS_FILE"
# Where the ECS/CCE metadata service is asked for the machine's temporary keys. Only the link-local default
# or a loopback http URL (a test double) is accepted.
ENV_METADATA_ENDPOINT = "POOLSHIFT_METADATA_ENDPOINT"
DEFAULT_METADATA_ENDPOINT = "http://169.254.169.254"

CredentialKind = Literal["aksk", "token"]
log = logging.getLogger(__name__)


class KeyPair:
    """One AK/SK (and security token) as the signer needs them; never printable."""

    __slots__ = ("ak", "security_token", "sk")

    def __init__(self, ak: str, sk: str, security_token: str | None = None) -> None:
        self.ak = ak
        self.sk = sk
        self.security_token = security_token

    def __repr__(self) -> str:
        return "KeyPair(ak=***, sk=***)"


class KeySource(ABC):
    """Where the signer gets the keys for the next request; `description` names the source, not the keys."""

    description: str = "keys"

    @abstractmethod
    def current(self) -> KeyPair:
        """The keys to sign the next request with (renewed first when they are about to expire)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


class StaticKeys(KeySource):
    """Keys that never change (from the environment or a profile file)."""

    def __init__(self, ak: SecretStr, sk: SecretStr, security_token: SecretStr | None = None,
                 description: str = "environment") -> None:
        self._ak, self._sk, self._security_token = ak, sk, security_token
        self.description = description

    def current(self) -> KeyPair:
        token = self._security_token.get_secret_value() if self._security_token is not None else None
        return KeyPair(self._ak.get_secret_value(), self._sk.get_secret_value(), token)


class SdkKeys(KeySource):
    """Keys held by a huaweicloudsdkcore credentials object, renewed by it (`process_sts`) when near expiry."""

    def __init__(self, credentials: Any, description: str) -> None:
        self._credentials = credentials
        self.description = description
        self._lock = threading.Lock()
        self._http_client: Any = None

    def current(self) -> KeyPair:
        with self._lock:
            try:
                self._credentials.process_sts(self._sdk_http_client())
            except Exception as exc:  # the SDK raises requests, SDK and value errors alike
                raise ApiTransportError(f"cannot renew the temporary keys from {self.description}: "
                                        f"{type(exc).__name__}: {str(exc)[:200]}") from exc
            ak, sk = self._credentials.ak, self._credentials.sk
            if not ak or not sk:
                raise ApiTransportError(f"{self.description} gave no access key")
            return KeyPair(str(ak), str(sk), self._credentials.security_token or None)

    def _sdk_http_client(self) -> Any:
        """The SDK's HTTP client, which the OIDC and federated accessors use to reach IAM/STS."""
        if self._http_client is None:
            from huaweicloudsdkcore.exceptions.exception_handler import DefaultExceptionHandler
            from huaweicloudsdkcore.http.http_client import HttpClient
            from huaweicloudsdkcore.http.http_config import HttpConfig

            self._http_client = HttpClient(HttpConfig.get_default_config(), None, DefaultExceptionHandler(),
                                           logging.getLogger("huaweicloudsdkcore"))
        return self._http_client


class Credentials(BaseModel):
    """AK/SK (optionally temporary), an IAM token, or a renewing key source; every value is a SecretStr."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    ak: SecretStr | None = None
    sk: SecretStr | None = None
    security_token: SecretStr | None = None
    token: SecretStr | None = None
    source: str = "environment"
    keys: KeySource | None = Field(default=None, exclude=True, repr=False)
    project_id: str | None = Field(default=None, description="the project id the credential source names")

    @property
    def kind(self) -> CredentialKind:
        """`aksk` when a key pair or a key source is set (it wins over a token), else `token`."""
        return "aksk" if self.keys is not None or (self.ak is not None and self.sk is not None) else "token"

    def key_source(self) -> KeySource | None:
        """Where the signer reads keys from: the renewing source, else the static pair, else None."""
        if self.keys is not None:
            return self.keys
        if self.ak is not None and self.sk is not None:
            return StaticKeys(self.ak, self.sk, self.security_token, self.source)
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, chain: bool = True) -> Credentials:
        """The AK/SK or token of `env` (default: the process environment); else (with `chain`) the SDK's
        providers, which read the process environment as the SDK always does; else an InputError."""
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
        tried = ["environment: no key set"]
        if chain:
            found = from_providers(os.environ, tried)
            if found is not None:
                return found
        raise InputError(f"no credentials: set {ENV_AK} and {ENV_SK} (and {ENV_SECURITY_TOKEN} for temporary "
                         f"keys), or an IAM token in {ENV_TOKEN}, or use a profile file, pod identity or the ECS "
                         f"metadata agency (tried: {'; '.join(tried)})", source="environment")


def metadata_endpoint(env: Mapping[str, str]) -> str:
    """The metadata service URL: the link-local default, or a loopback http URL from the environment."""
    value = env.get(ENV_METADATA_ENDPOINT, "").strip().rstrip("/")
    if not value:
        return DEFAULT_METADATA_ENDPOINT
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme != "http" or not parts.hostname or not is_loopback_host(parts.hostname):
        raise InputError(f"{ENV_METADATA_ENDPOINT} must be an http URL on a loopback host", source="environment")
    return value


def profile_path(env: Mapping[str, str]) -> str | None:
    """The SDK profile file: $HUAWEICLOUD_SDK_CREDENTIALS_FILE, else ~/.huaweicloud/credentials."""
    explicit = env.get(ENV_CREDENTIALS_FILE, "").strip()
    if explicit:
        return explicit
    home = env.get("HOME", "").strip()
    return os.path.join(home, ".huaweicloud", "credentials") if home else None


def profile_value(env: Mapping[str, str], key: str) -> str | None:
    """A key of the profile file's `[basic]` section (e.g. `region`, `project_id`), when the file has it."""
    path = profile_path(env)
    if not path or not os.path.isfile(path):
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        # from None: the cause may quote the file, and keys must not reach --debug's traceback
        raise InputError(f"cannot read the credentials profile ({type(exc).__name__})", source=path) from None
    value = parser.get("basic", key, fallback="").strip()
    return value or None


def from_providers(env: Mapping[str, str], tried: list[str]) -> Credentials | None:
    """The first huaweicloudsdkcore provider that yields credentials; `tried` collects why the others did not."""
    from huaweicloudsdkcore.auth import provider as sdk

    endpoint = metadata_endpoint(env)
    providers: list[tuple[str, Callable[[], Any] | None]] = [
        ("OIDC (HUAWEICLOUD_OIDC_*)", _provider(sdk, "OidcStsCredentialProvider")),
        ("federated id token (HUAWEICLOUD_SDK_IDP_ID)", _provider(sdk, "EnvCredentialProvider")),
        (f"profile file {profile_path(env) or '(no HOME)'}", _provider(sdk, "ProfileCredentialProvider")),
        ("CCE pod identity (HC_CONTAINER_CREDENTIALS_FULL_URI)", _provider(sdk, "PodIdentityCredentialProvider")),
        (f"ECS/CCE metadata {endpoint}", lambda: _metadata_credentials(endpoint)),
    ]
    for name, provide in providers:
        if provide is None:
            tried.append(f"{name}: not in this huaweicloudsdkcore version")
            continue
        try:
            sdk_credentials = provide()
        except Exception as exc:  # each provider fails in its own way (SDK, requests, OS, value errors)
            tried.append(f"{name}: {_reason(exc)}")
            continue
        log.info("credentials from %s", name)
        project = getattr(sdk_credentials, "project_id", None) or None
        return Credentials(source=name, keys=SdkKeys(sdk_credentials, name), project_id=project)
    return None


def _provider(module: Any, class_name: str) -> Callable[[], Any] | None:
    """`<class>.get_basic().get_credentials` of an SDK provider class, None when this SDK version lacks it."""
    provider_class = getattr(module, class_name, None)
    return provider_class.get_basic().get_credentials if provider_class is not None else None


def _metadata_accessor(endpoint: str) -> Any:
    """The SDK's metadata accessor, pointed at `endpoint`, with a short connect timeout."""
    from huaweicloudsdkcore.auth.internal import MetadataAccessor

    accessor = MetadataAccessor()
    accessor._METADATA_ENDPOINT = endpoint  # the SDK's class constant, set per instance
    accessor._DEFAULT_TIME_OUT = (1.0, 3.0)  # link-local answers at once; do not hang where there is none
    return accessor


def _metadata_credentials(endpoint: str) -> Any:
    """What the SDK's MetadataBasicCredentialProvider does, against `endpoint`."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials

    credentials = BasicCredentials()
    credentials.sts_accessor = _metadata_accessor(endpoint)
    credentials.process_sts(None)
    return credentials


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return (text[:160] + "...") if len(text) > 160 else (text or type(exc).__name__)
