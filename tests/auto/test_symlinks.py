"""auto's lock, audit log and metrics file are never opened through a planted symlink (issue 17.5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.auto import AUDIT_FILE, LOCK_FILE, METRICS_FILE
from planner.cli import main
from tests.auto.conftest import write_spec


@pytest.mark.parametrize("name", [LOCK_FILE, AUDIT_FILE, METRICS_FILE])
def test_a_planted_symlink_in_the_state_dir_is_refused(tmp_path: Path, name: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious line\n", encoding="utf-8")
    (state / name).symlink_to(victim)
    result = CliRunner().invoke(main, ["auto", "--spec", str(write_spec(tmp_path)), "--state-dir", str(state),
                                       "--freeze", "--endpoint", "http://127.0.0.1:9", "--project-id", "p"])
    assert result.exit_code == 2, result.output
    assert f"{state / name}: " in result.stderr and "symbolic link" in result.stderr
    assert "internal error" not in result.stderr
    assert victim.read_text(encoding="utf-8") == "precious line\n"
    assert (state / name).is_symlink()
