"""`poolshift inventory pull` and `poolshift emulator` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from planner.cli import main
from tests.api.test_emulator_contract import normalised
from tests.emulator_server import SAMPLE_SNAPSHOT_PATH, EmulatorHandle, sample_snapshot


@pytest.mark.emulator
def test_inventory_pull_writes_the_snapshot(emulator: EmulatorHandle, tmp_path: Path) -> None:
    out = tmp_path / "snap.json"
    result = CliRunner().invoke(main, ["inventory", "pull", "-o", str(out), *emulator.cli_args()], env=emulator.env())
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {out}: 8 pools, 21 nodes, 3 networks, 0 running workloads"
    assert normalised(json.loads(out.read_text())) == normalised(sample_snapshot())
    assert emulator.state()["migrate_requests"] == []


@pytest.mark.emulator
def test_inventory_pull_json_summary_and_stdout_snapshot(emulator: EmulatorHandle, tmp_path: Path) -> None:
    out = tmp_path / "snap.json"
    runner = CliRunner()
    summary = runner.invoke(main, ["inventory", "pull", "-o", str(out), "--output", "json", *emulator.cli_args()],
                            env=emulator.env())
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout) | {"captured_at": None} == {
        "snapshot": str(out), "pools": 8, "nodes": 21, "networks": 3, "workloads": 0, "captured_at": None,
        "workspace_id": "0"}
    printed = runner.invoke(main, ["inventory", "pull", *emulator.cli_args()], env=emulator.env())
    assert printed.exit_code == 0
    assert normalised(json.loads(printed.stdout)) == normalised(sample_snapshot())


@pytest.mark.emulator
def test_inventory_pull_api_errors_exit_5_with_one_line(emulator: EmulatorHandle) -> None:
    env = {**emulator.env(), "HUAWEICLOUD_SDK_SK": "sk-not-the-right-one"}
    result = CliRunner().invoke(main, ["inventory", "pull", *emulator.cli_args()], env=env)
    assert result.exit_code == 5
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "HTTP 401: APIGW.0301" in lines[0]
    assert "sk-not-the-right-one" not in result.output


@pytest.mark.parametrize(("args", "env", "fragment"), [
    (["--region", "cn-north-4", "--project-id", "p"], {}, "no credentials"),
    (["--project-id", "p"], {"POOLSHIFT_TOKEN": "t"}, "--region is required"),
    (["--region", "cn-north-4"], {"POOLSHIFT_TOKEN": "t"}, "no project id"),
    (["--region", "cn-north-4", "--project-id", "p", "--endpoint", "http://example.com"], {"POOLSHIFT_TOKEN": "t"},
     "only loopback hosts"),
])
def test_inventory_pull_bad_settings_exit_2(args: list[str], env: dict[str, str], fragment: str) -> None:
    result = CliRunner().invoke(main, ["inventory", "pull", *args], env=env)
    assert result.exit_code == 2
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_emulator_bad_snapshot_files_exit_2(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{nope")
    bad_format = tmp_path / "format.json"
    bad_format.write_text(json.dumps({**sample_snapshot(), "format": "other/v1"}))
    runner = CliRunner()
    for path, fragment in [(tmp_path / "missing.json", "file not found"), (bad_json, "not valid JSON"),
                           (bad_format, "$.format")]:
        result = runner.invoke(main, ["emulator", "--snapshot", str(path), "--port", "0"])
        assert result.exit_code == 2, result.output
        assert str(path) in result.stderr and fragment in result.stderr
    half = runner.invoke(main, ["emulator", "--snapshot", str(SAMPLE_SNAPSHOT_PATH), "--ak", "a"])
    assert half.exit_code == 2 and "needs both an access key" in half.stderr
    half_env = runner.invoke(main, ["emulator", "--snapshot", str(SAMPLE_SNAPSHOT_PATH)],
                             env={"POOLSHIFT_EMULATOR_SK": "only-a-secret"})
    assert half_env.exit_code == 2 and "needs both an access key" in half_env.stderr
    assert "only-a-secret" not in half_env.output


@pytest.mark.emulator
def test_emulator_command_serves_until_interrupted() -> None:
    """The token comes from the environment (not the command line, where ps shows it); --log-requests logs."""
    command = [sys.executable, "-c", "from planner.cli import main; main()", "emulator",
               "--snapshot", str(SAMPLE_SNAPSHOT_PATH), "--port", "0", "--job-seconds", "0", "--log-requests"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "POOLSHIFT_"))}
    env["POOLSHIFT_EMULATOR_TOKEN"] = "cli-token"
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert "poolshift emulator: serving http://127.0.0.1:" in banner and "auth: token" in banner
        assert "cli-token" not in banner
        url = banner.split("serving ")[1].split()[0]
        project = sample_snapshot()["project_id"]
        with httpx.Client(base_url=url, trust_env=False, timeout=5) as http:
            pools = http.get(f"/v2/{project}/pools", headers={"X-Auth-Token": "cli-token"})
            refused = http.get(f"/v2/{project}/pools", headers={"X-Auth-Token": "other"})
            state = http.get("/_emulator/state").json()
        assert pools.status_code == 200 and len(pools.json()["items"]) == 8
        assert refused.status_code == 401
        assert {"migrate_requests", "jobs", "inventory", "requests"} <= set(state)
        logged = [process.stderr.readline().strip() for _ in range(2)]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode in (0, -15)
    path = f"/v2/{project}/pools"
    assert [line.rsplit(" ", 1)[0] for line in logged] == [f"GET {path} 200", f"GET {path} 401"]
    assert all(line.endswith("ms") for line in logged)


def test_emulator_option_errors_exit_2() -> None:
    result = CliRunner().invoke(main, ["emulator", "--snapshot", str(SAMPLE_SNAPSHOT_PATH), "--start-workload", "n1"])
    assert result.exit_code == 2 and "expected NODE@N" in result.stderr


@pytest.mark.emulator
def test_a_secret_on_the_emulator_command_line_warns_and_no_auth_opens_it() -> None:
    command = [sys.executable, "-c", "from planner.cli import main; main()", "emulator", "--snapshot",
               str(SAMPLE_SNAPSHOT_PATH), "--port", "0", "--ak", "AKCLI", "--sk", "sk-on-the-command-line",
               "--shape", "documented"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "POOLSHIFT_"))}
    for args, expect in ((command, "auth: AK/SK, shape: documented"),
                         ([*command[:6], "--port", "0", "--no-auth"], "auth: none, shape: full")):
        process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True,
                                   env={**env, "HUAWEICLOUD_SDK_AK": "AKENV", "HUAWEICLOUD_SDK_SK": "sk-env"})
        try:
            assert process.stderr is not None
            lines = [process.stderr.readline() for _ in range(2 if "--sk" in args else 1)]
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()
        if "--sk" in args:
            assert "--sk on the command line is visible to every user (ps)" in lines[0]
        assert expect in lines[-1] and "sk-" not in "".join(lines)
