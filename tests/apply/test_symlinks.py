"""Lock and journal files are never opened through a symlink planted at their path (issue 17.5): the run is
refused (exit 2) before any request, and the link's target is neither truncated nor appended to."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.apply import default_journal_path, lock_path
from planner.cli import main
from planner.locks import project_lock_path
from tests.emulator_server import EmulatorHandle

pytestmark = pytest.mark.emulator


def _plant(link: Path, victim: Path) -> None:
    victim.write_text("precious line\n", encoding="utf-8")
    link.symlink_to(victim)


@pytest.mark.parametrize("which", ["journal", "journal lock", "project lock"])
@pytest.mark.parametrize("resume", [False, True], ids=["run", "resume"])
def test_a_planted_symlink_is_refused_and_its_target_untouched(emulator: EmulatorHandle, plan_file: Path,
                                                              tmp_path: Path, private_lock_dir: Path, which: str,
                                                              resume: bool) -> None:
    journal = default_journal_path(plan_file)
    links = {"journal": journal, "journal lock": lock_path(journal),
             "project lock": project_lock_path(private_lock_dir, emulator.project_id, emulator.region, "0")}
    link, victim = links[which], tmp_path / "victim.txt"
    _plant(link, victim)
    args = ["apply", str(plan_file), *emulator.cli_args(), "--execute", *(["--resume"] if resume else [])]
    result = CliRunner().invoke(main, args, env=emulator.env())
    assert result.exit_code == 2, result.output
    assert f"poolshift: error: {link}: " in result.stderr and "symbolic link" in result.stderr
    assert victim.read_text(encoding="utf-8") == "precious line\n"
    assert link.is_symlink()
    assert emulator.requests() == []      # refused before the first request
