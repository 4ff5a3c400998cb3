"""Progress on a terminal (issue 15): on stderr, only when stderr is a terminal and --quiet is not given."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.cli.progress import Progress

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POOLSHIFT = str(Path(sys.executable).parent / "poolshift")


def on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run poolshift with stderr on a pseudo-terminal (stdout a pipe); returns exit code, stdout, the terminal."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([POOLSHIFT, *args], stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the follower side closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()
    code = proc.wait(timeout=120)
    os.close(leader)
    return code, out.decode(), seen.decode()


def test_report_and_plan_show_progress_on_a_terminal(tmp_path: Path) -> None:
    code, _, terminal = on_a_terminal(["report", str(EXAMPLES / "plan.json"), "-o", str(tmp_path / "r.html")])
    assert code == 0
    assert f"| reading {EXAMPLES / 'plan.json'} (0.0 s)" in terminal
    assert "rendering the HTML report (" in terminal and "\r\x1b[2K" in terminal
    code, out, terminal = on_a_terminal(["plan", "--inventory", str(EXAMPLES / "inventory.json"), "--spec",
                                         str(EXAMPLES / "spec.yaml"), "-o", "-"])
    assert code == 0 and out.startswith("{")  # the plan on stdout, untouched by progress
    assert "planning (solver time limit 30 s)" in terminal and "status OPTIMAL" in terminal


def test_quiet_and_not_a_terminal_show_no_progress(tmp_path: Path) -> None:
    code, _, terminal = on_a_terminal(["report", str(EXAMPLES / "plan.json"), "-o", str(tmp_path / "r.html"),
                                       "--quiet"])
    assert code == 0 and "rendering" not in terminal and "\r" not in terminal.replace("\r\n", "")
    assert terminal.strip() == f"wrote html report of {EXAMPLES / 'plan.json'} to {tmp_path / 'r.html'}"
    result = CliRunner().invoke(main, ["report", str(EXAMPLES / "plan.json"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0 and "rendering" not in result.stderr and "\r" not in result.stderr


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_a_step_is_drawn_while_it_runs_and_erased_after(quiet: bool) -> None:
    stream = _Tty()
    progress = Progress(quiet=quiet, stream=stream)
    with progress.step("solving"):
        time.sleep(0.5)
    text = stream.getvalue()
    if quiet:
        assert text == ""
        return
    frames = text.split("\r\x1b[2K")
    assert frames[0] == "" and frames[-1] == ""  # the last draw erases the line
    assert len(frames) >= 4 and frames[1] == "| solving (0.0 s)" and frames[2].startswith("/ solving (0.")
