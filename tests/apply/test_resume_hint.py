"""Resume without retyping (issue 13.5): the journal's start record keeps the connection (endpoint, region,
project, workspace; never a credential), `apply --resume` uses it when no connection flags are given, and the
hints printed on SIGINT and on a failed step are complete commands that work when pasted."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.apply import last_start, read_journal
from planner.cli import main
from planner.planfile import read_plan
from tests.apply.conftest import apply_snapshot
from tests.apply.helpers import accepted_per_step, placement_problems
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
HINT = re.compile(r"run `(poolshift apply [^`]+)` to continue")


def _credentials_only(emu: EmulatorHandle) -> dict[str, str]:
    """The environment a pasted command runs in: the credentials, and nothing about where the API is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "POOLSHIFT_"))}
    assert emu.ak is not None and emu.sk is not None
    env.update(HUAWEICLOUD_SDK_AK=emu.ak, HUAWEICLOUD_SDK_SK=emu.sk, PYTHONPATH=str(ROOT),
               POOLSHIFT_LOCK_DIR=os.environ["POOLSHIFT_LOCK_DIR"])
    return env


def _paste(hint: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the hint as a shell would run it pasted: `poolshift` is this checkout's CLI."""
    words = shlex.split(hint)
    assert words[:2] == ["poolshift", "apply"]
    command = [sys.executable, "-c", "from planner.cli import main; main()", *words[1:]]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_start_record_keeps_the_connection_and_no_secret(plan_file: Path) -> None:
    with run_emulator(apply_snapshot()) as emu:
        args = ["apply", str(plan_file), *emu.cli_args(), "--execute", "--poll-interval", "0.01"]
        result = CliRunner().invoke(main, args, env=emu.env())
        assert result.exit_code == 0, result.stderr
        journal = plan_file.with_name(plan_file.name + ".journal.jsonl")
        start = last_start(journal)
        assert start is not None
        assert start["connection"] == {"endpoint": emu.url, "region": emu.region, "project_id": emu.project_id,
                                       "workspace_id": "0"}
        text = journal.read_text(encoding="utf-8")
    assert emu.ak is not None and emu.sk is not None
    assert emu.ak not in text and emu.sk not in text


def test_sigint_hint_pasted_verbatim_finishes_the_run(plan_file: Path, tmp_path: Path) -> None:
    plan = read_plan(plan_file)
    journal = plan_file.with_name(plan_file.name + ".journal.jsonl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with run_emulator(apply_snapshot(), job_seconds=0.3) as emu:
        env = {**_credentials_only(emu), "HUAWEICLOUD_SDK_PROJECT_ID": emu.project_id}
        command = [sys.executable, "-c", "from planner.cli import main; main()", "apply", plan_file.name,
                   "--endpoint", emu.url, "--region", emu.region, "--execute", "--poll-interval", "0.05",
                   "--max-parallel", "2"]
        proc = subprocess.Popen(command, env=env, cwd=plan_file.parent, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while b'"submitted"' not in (journal.read_bytes() if journal.exists() else b""):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        hints = HINT.findall(err)
        assert hints, err
        hint = hints[-1]
        assert "--endpoint" not in hint and "--region" not in hint and "--project-id" not in hint
        assert "--max-parallel 2" in hint and "--poll-interval 0.05" in hint
        sent_before = len(emu.state()["migrate_requests"])
        assert 0 < sent_before < 8
        pasted = _paste(hint, _credentials_only(emu), elsewhere)   # another folder, no project id in the env
        assert pasted.returncode == 0, pasted.stderr
        assert "resuming with the connection the journal recorded" in pasted.stderr
        state = emu.state()
    assert placement_problems(state, plan) == []
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]


def test_failed_step_hint_pasted_verbatim_finishes_the_run(plan_file: Path, tmp_path: Path) -> None:
    plan = read_plan(plan_file)
    journal = tmp_path / "journals" / "run.jsonl"
    journal.parent.mkdir()
    with run_emulator(apply_snapshot(), job_seconds=0.0, faults={"fail_jobs": 1}) as emu:
        args = ["apply", str(plan_file), *emu.cli_args(), "--execute", "--poll-interval", "0.01",
                "--journal", str(journal), "--max-parallel", "1"]
        first = CliRunner().invoke(main, args, env=emu.env())
        assert first.exit_code == 6, first.stderr
        hint = HINT.findall(first.stderr)[-1]
        assert f"--journal {journal}" in hint
        pasted = _paste(hint, _credentials_only(emu), tmp_path)
        assert pasted.returncode == 0, pasted.stderr
        state = emu.state()
    assert placement_problems(state, plan) == []
    counts = accepted_per_step(state, plan)
    assert counts[1] == 2 and all(counts[i] == 1 for i in range(2, 9))   # step 1's job failed once, then ran
    assert [r["event"] for r in read_journal(journal) if r.get("step") == 1].count("retry") == 1


def test_flags_given_on_resume_win_over_the_journal(plan_file: Path) -> None:
    with run_emulator(apply_snapshot(), job_seconds=0.0, faults={"fail_jobs": 1}) as emu:
        args = ["apply", str(plan_file), *emu.cli_args(), "--execute", "--poll-interval", "0.01", "--max-parallel",
                "1"]
        assert CliRunner().invoke(main, args, env=emu.env()).exit_code == 6
        wrong = ["apply", str(plan_file), "--endpoint", "http://127.0.0.1:9", "--execute", "--resume",
                 "--poll-interval", "0.01"]
        refused = CliRunner().invoke(main, wrong, env=emu.env())
        assert refused.exit_code == 5 and "127.0.0.1:9" in refused.stderr   # the flag was used, not the journal
        resumed = CliRunner().invoke(main, ["apply", str(plan_file), "--execute", "--resume", "--poll-interval",
                                            "0.01"], env=emu.env())
        assert resumed.exit_code == 0, resumed.stderr
