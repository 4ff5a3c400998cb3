"""Connection settings and credentials from CLI options and the environment."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from planner.errors import InputError
from planner.modelarts.hosts import is_loopback_host
from planner.modelarts.settings import ConnectionSettings, Credentials, check_endpoint

PID = "0123456789abcdef0123456789abcdef"


def test_aksk_from_env_with_temporary_token() -> None:
    creds = Credentials.from_env({"HUAWEICLOUD_SDK_AK": "ak", "HUAWEICLOUD_SDK_SK": "sk",
                                  "HUAWEICLOUD_SDK_SECURITY_TOKEN": "st", "POOLSHIFT_TOKEN": "tok"})
    assert creds.kind == "aksk"
    assert creds.ak == SecretStr("ak") and creds.sk == SecretStr("sk") and creds.security_token == SecretStr("st")


def test_token_from_env() -> None:
    creds = Credentials.from_env({"POOLSHIFT_TOKEN": "tok"})
    assert creds.kind == "token" and creds.token == SecretStr("tok") and creds.ak is None


@pytest.mark.parametrize(("env", "message"), [
    ({}, "no credentials"),
    ({"HUAWEICLOUD_SDK_AK": "ak"}, "HUAWEICLOUD_SDK_SK is not set"),
    ({"HUAWEICLOUD_SDK_SK": "sk-secret-value"}, "HUAWEICLOUD_SDK_AK is not set"),
    ({"HUAWEICLOUD_SDK_SECURITY_TOKEN": "st-secret-value"}, "SECURITY_TOKEN is set without"),
])
def test_incomplete_credentials_are_input_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        Credentials.from_env(env)
    assert info.value.exit_code == 2
    for value in env.values():
        assert value not in str(info.value)


def test_settings_from_options_and_env() -> None:
    env = {"POOLSHIFT_TOKEN": "tok", "HUAWEICLOUD_SDK_PROJECT_ID": PID}
    settings = ConnectionSettings.from_options(region="cn-north-4", env=env, timeout=5)
    assert settings.base_url == "https://modelarts.cn-north-4.myhuaweicloud.com"
    assert settings.project_id == PID and settings.timeout == 5
    explicit = ConnectionSettings.from_options(region="cn-north-4", project_id="other-project", env=env,
                                               endpoint="http://127.0.0.1:8080/")
    assert explicit.project_id == "other-project" and explicit.base_url == "http://127.0.0.1:8080"


def test_sdk_region_table_exception() -> None:
    token = Credentials(token=SecretStr("t"))
    settings = ConnectionSettings(region="ap-southeast-1", project_id=PID, credentials=token)
    assert settings.base_url == "https://modelarts.ap-southeast-1.myhuaweicloud.cn"


@pytest.mark.parametrize(("options", "path"), [
    ({"region": None}, "--region"),
    ({"region": "cn-north-4", "project_id": None}, "--project-id"),
    ({"region": "cn-north-4", "project_id": "../etc"}, "--project-id"),
    ({"region": "cn north"}, "--region"),
    ({"region": "cn-north-4", "timeout": 0}, "--timeout"),
    ({"region": "cn-north-4", "endpoint": "http://modelarts.example.com"}, "--endpoint"),
])
def test_bad_options_name_the_option(options: dict[str, object], path: str) -> None:
    options = {"project_id": PID, **options}
    with pytest.raises(InputError) as info:
        ConnectionSettings.from_options(env={"POOLSHIFT_TOKEN": "t"}, **options)  # type: ignore[arg-type]
    assert info.value.path == path


def test_endpoint_rules() -> None:
    check_endpoint("https://modelarts.cn-north-4.myhuaweicloud.com")
    check_endpoint("http://127.0.0.1:9000")
    check_endpoint("http://[::1]:9000")
    check_endpoint("http://localhost:9000")
    for bad in ("ftp://host", "http://10.0.0.1", "https://host/?q=1", "modelarts.example.com"):
        with pytest.raises(InputError):
            check_endpoint(bad)
    with pytest.raises(InputError) as info:
        check_endpoint("https://user:hunter2-password@host")
    assert "hunter2" not in str(info.value)
    assert is_loopback_host("127.0.0.5") and not is_loopback_host("example.com")


def test_workspace_from_option_environment_or_default() -> None:
    env = {"POOLSHIFT_TOKEN": "t", "HUAWEICLOUD_SDK_PROJECT_ID": PID}
    assert ConnectionSettings.from_options(region="cn-north-4", env=env).workspace_id == "0"
    assert ConnectionSettings.from_options(region="cn-north-4", env={**env, "POOLSHIFT_WORKSPACE_ID": "ws1"}
                                           ).workspace_id == "ws1"
    assert ConnectionSettings.from_options(region="cn-north-4", workspace_id="all",
                                           env={**env, "POOLSHIFT_WORKSPACE_ID": "ws1"}).workspace_id == "all"
    with pytest.raises(InputError) as info:
        ConnectionSettings.from_options(region="cn-north-4", workspace_id="../x", env=env)
    assert info.value.path == "--workspace-id"


def test_an_endpoint_makes_the_region_optional() -> None:
    env = {"POOLSHIFT_TOKEN": "t", "HUAWEICLOUD_SDK_PROJECT_ID": PID}
    settings = ConnectionSettings.from_options(region=None, endpoint="http://127.0.0.1:8443", env=env)
    assert settings.region is None and settings.base_url == "http://127.0.0.1:8443"
