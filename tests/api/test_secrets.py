"""Secrets (SK, security token, IAM token, and the AK too) never reach logs, snapshots, errors or reprs."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from planner.errors import ApiError, ApiStatusError, ApiTransportError
from planner.modelarts.auth import AkSkAuth, TokenAuth
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.pull import pull_snapshot
from planner.modelarts.settings import ConnectionSettings, Credentials
from tests.api.cases import body
from tests.emulator_server import run_emulator

AK = "AKSECRETPROBE0000001"
SK = "sk-secret-probe-4b7a9d"
SECURITY_TOKEN = "st-secret-probe-e51f"
TOKEN = "iam-secret-probe-77c3"
WRONG_SK = "sk-wrong-probe-0d2e"
SECRETS = (AK, SK, SECURITY_TOKEN, TOKEN, WRONG_SK)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_reprs_and_dumps_hide_credentials() -> None:
    creds = Credentials(ak=SecretStr(AK), sk=SecretStr(SK), security_token=SecretStr(SECURITY_TOKEN),
                        token=SecretStr(TOKEN))
    settings = ConnectionSettings(region="cn-north-4", project_id="p", credentials=creds, endpoint="http://127.0.0.1:9")
    client = ModelArtsClient.from_settings(settings)
    texts = [repr(creds), str(creds), repr(settings), str(settings), settings.model_dump_json(),
             repr(settings.model_dump()), repr(AkSkAuth(creds.ak, creds.sk, security_token=creds.security_token)),
             repr(TokenAuth(SecretStr(TOKEN))), repr(client), repr(client._http.auth)]
    client.close()
    for text in texts:
        assert_clean(text)


@pytest.mark.emulator
def test_secrets_stay_out_of_logs_snapshots_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ApiError] = []
    with run_emulator(ak=AK, sk=SK, security_token=SECURITY_TOKEN, job_seconds=0) as emu:
        emu.set_faults(next_errors=[503, 429])
        with emu.client() as client:
            snapshot = pull_snapshot(client, emu.region, emu.project_id)
            emu.set_faults(next_errors=[500])
            with pytest.raises(ApiStatusError) as ambiguous:
                client.migrate_nodes("pool-src", body(["src-1"]))
            errors.append(ambiguous.value)
            emu.set_faults(drop_after_accept=1)
            with pytest.raises(ApiTransportError) as lost:
                client.migrate_nodes("pool-src", body(["src-1"]))
            errors.append(lost.value)
            with pytest.raises(ApiStatusError) as refused:
                client.migrate_nodes("pool-src", body(["src-locked"]))
            errors.append(refused.value)
        wrong = emu.credentials().model_copy(update={"sk": SecretStr(WRONG_SK)})
        with emu.client(credentials=wrong) as client, pytest.raises(ApiStatusError) as unsigned:
            client.list_pools()
        errors.append(unsigned.value)
        state = emu.state()
    assert unsigned.value.status == 401
    assert "DEBUG" in {r.levelname for r in caplog.records}  # the client did log its requests
    assert_clean(caplog.text)
    assert_clean(json.dumps(snapshot))
    assert_clean(json.dumps(state))
    for error in errors:
        assert_clean(f"{error} {error!r} {error.args} {vars(error)}")

