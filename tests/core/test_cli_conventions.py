"""The command-line conventions people know (issue 15): `-o -`, format words, suffixes, one --format/--output,
Terraform's --detailed-exitcode, diff --exit-code, file modes, terminal width, shell completion."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.planfile import parse_plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DATA = ROOT / "tests" / "review" / "data"
INVENTORY, SPEC, PLAN = str(EXAMPLES / "inventory.json"), str(EXAMPLES / "spec.yaml"), str(EXAMPLES / "plan.json")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_dash_writes_the_plan_to_stdout_and_the_summary_to_stderr() -> None:
    code, out, err = run("plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", "-")
    assert code == 0
    plan = json.loads(out)
    assert plan["format"] == "poolshift.plan/v1" and len(plan["steps"]) == 3
    assert out == parse_plan(plan, source="-").to_json()  # the canonical text of the sealed plan, digest intact
    assert "status OPTIMAL  deviation 25 -> 3 (proven optimal)" in err and f"plan digest {plan['digest']}" in err
    assert not Path("-").exists()
    code, out, _ = run("report", PLAN, "--format", "md", "-o", "-")
    assert code == 0 and out.startswith("## poolshift plan: plan.json")
    code, out, _ = run("show", PLAN, "-o", "-", "--format", "json")
    assert code == 0 and json.loads(out) == json.loads(Path(PLAN).read_text())


@pytest.mark.parametrize("args", [
    ["plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", "json"],
    ["report", PLAN, "-o", "md"],
    ["show", PLAN, "--out", "html"],
    ["inventory", "pull", "-o", "JSON"],
])
def test_a_format_word_as_a_file_name_is_refused_with_a_hint(args: list[str], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*args)
    word = args[-1]
    assert code == 2 and out == ""
    assert err == (f"poolshift: error: arguments: -o/--out: {word!r} looks like a format, not a file name: use "
                   f"--format {word} to choose the format, or -o ./{word} to write a file of that name\n")
    assert list(tmp_path.iterdir()) == []
    code, _, _ = run("report", PLAN, "-o", "./md")  # the way to really call a file "md"
    assert code == 0 and (tmp_path / "md").read_text().startswith("<!doctype html>")


def test_a_suffix_that_does_not_fit_the_format_warns(tmp_path: Path) -> None:
    pdf = tmp_path / "x.pdf"
    code, _, err = run("report", PLAN, "-o", str(pdf))
    assert code == 0 and pdf.read_text().startswith("<!doctype html>")
    assert f"poolshift: warning: {pdf}: writing HTML into a file whose name ends in .pdf" in err
    code, _, err = run("report", PLAN, "-o", str(tmp_path / "x.html"), "--format", "md")
    assert code == 0 and "writing Markdown into a file whose name ends in .html" in err
    code, _, err = run("report", PLAN, "-o", str(tmp_path / "x.md"))
    assert code == 0 and "warning" not in err and (tmp_path / "x.md").read_text().startswith("## ")
    code, _, err = run("plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", str(tmp_path / "plan.yaml"))
    assert code == 0 and "writing JSON into a file whose name ends in .yaml" in err


def test_format_and_output_are_one_option() -> None:
    _, by_format, _ = run("show", PLAN, "--format", "json")
    _, by_output, _ = run("show", PLAN, "--output", "json")
    assert by_format == by_output and json.loads(by_format)["format"] == "poolshift.plan/v1"
    _, text, _ = run("show", PLAN, "--format", "text")
    _, table, _ = run("show", PLAN, "--output", "text")
    assert text == table == run("show", PLAN)[1]
    code, _, err = run("show", PLAN, "--format", "md", "--output", "json")
    assert code == 2 and "--output json contradicts --format md (--output json is --format json)" in err
    code, out, _ = run("plan", "--inventory", INVENTORY, "--spec", SPEC, "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["moves"] == 10
    code, out, _ = run("diff", PLAN, PLAN, "--output", "json")
    assert code == 0 and json.loads(out)["identical"] is True
    code, _, err = run("plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", "-", "--format", "json")
    assert code == 2 and "both write to standard output" in err


def test_plan_detailed_exitcode(tmp_path: Path) -> None:
    code, _, _ = run("plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", str(tmp_path / "p.json"),
                     "--detailed-exitcode")
    assert code == 10 and json.loads((tmp_path / "p.json").read_text())["steps"]  # changes: written, then 10
    code, out, _ = run("plan", "--inventory", str(DATA / "snapshot.json"), "--spec", str(DATA / "spec_minimal.yaml"),
                       "--detailed-exitcode")
    assert code == 0 and "0 node moves in 0 requests" in out
    code, _, _ = run("plan", "--inventory", INVENTORY, "--spec", SPEC)
    assert code == 0  # without the flag, success is 0 either way
    code, _, _ = run("plan", "--inventory", str(tmp_path / "missing.json"), "--spec", SPEC, "--detailed-exitcode")
    assert code == 2  # errors keep their codes


def test_the_console_script_ends_plan_with_its_output_and_exit_code(tmp_path: Path) -> None:
    """The `poolshift` console script ends `plan` without freeing what it read (os._exit): what it printed still
    arrives whole through a pipe, the plan file is written, and the exit codes are the command's."""
    exe = Path(sys.executable).parent / "poolshift"

    def console(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False, timeout=120)

    done = console("plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", "-")
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)  # the whole plan: stdout was flushed before the process ended
    assert written["summary"] == json.loads(Path(PLAN).read_text())["summary"] | {
        "solve_seconds": written["summary"]["solve_seconds"]}
    assert "status OPTIMAL" in done.stderr
    done = console("plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", str(tmp_path / "p.json"),
                   "--detailed-exitcode")
    assert done.returncode == 10 and json.loads((tmp_path / "p.json").read_text())["steps"]
    assert f"plan written to {tmp_path / 'p.json'}" in done.stdout
    done = console("plan", "--inventory", str(tmp_path / "missing.json"), "--spec", SPEC)
    assert done.returncode == 2 and "missing.json" in done.stderr


def test_plan_ends_with_the_collector_still_paused(finishes: list[tuple[bool, int]], tmp_path: Path) -> None:
    """`plan` calls `finish` (where the console script ends, os._exit) inside its collector pause: turned back on,
    the collector would first walk every object the plan made (one collection of 15-60 ms at 10k nodes). An
    in-process caller gets the collector back as it was."""
    import gc

    assert gc.isenabled()
    for fmt in ("table", "json"):
        code, out, _ = run("plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", str(tmp_path / "p.json"),
                           "--format", fmt)
        assert code == 0 and ("plan written to" in out if fmt == "table" else json.loads(out)["digest"])
    assert finishes == [(False, 0), (False, 0)]
    assert gc.isenabled()


# The commands that read their files, work and end, run by `paused_to_the_end`; the long-running ones (apply, auto,
# the emulator) and those that only talk to the API keep the collector on.
ONE_SHOT = {"plan", "show", "diff", "report", "whatif", "validate", "inventory show"}


def test_the_one_shot_commands_and_only_they_end_inside_a_collector_pause() -> None:
    import importlib

    import click

    from planner.cli._common import paused_to_the_end
    from planner.cli.commands import LOADERS

    for path in sorted((ROOT / "planner" / "cli").glob("*_cmds.py")):
        importlib.import_module(f"planner.cli.{path.stem}")
    commands = {name: main.commands[name] for name in LOADERS}
    inventory = commands.pop("inventory")
    assert isinstance(inventory, click.Group)
    commands |= {f"inventory {name}": command for name, command in inventory.commands.items()}
    runner = paused_to_the_end(lambda: None).__code__  # the code of the function it wraps a command in

    def is_paused(callback: object) -> bool:  # through the other wrappers (connection_options, solver_options)
        while callback is not None:
            if getattr(callback, "__code__", None) is runner:
                return True
            callback = getattr(callback, "__wrapped__", None)
        return False

    assert {name for name, command in commands.items() if is_paused(command.callback)} == ONE_SHOT


@pytest.mark.parametrize(("args", "code"), [
    (["show", PLAN], 0),
    (["diff", str(DATA / "plan_a.json"), str(DATA / "plan_b.json"), "--exit-code"], 10),
    (["report", PLAN, "--format", "md"], 0),
    (["inventory", "show", INVENTORY], 0),
])
def test_a_one_shot_command_finishes_inside_the_pause_with_its_exit_code(
        finishes: list[tuple[bool, int]], args: list[str], code: int) -> None:
    import gc

    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert result.stdout.strip()
    assert finishes == [(False, code)] and gc.isenabled()


def test_diff_exit_code() -> None:
    a, b = str(DATA / "plan_a.json"), str(DATA / "plan_b.json")
    assert run("diff", a, a, "--exit-code")[0] == 0
    assert run("diff", a, b, "--exit-code")[0] == 10
    assert run("diff", a, b)[0] == 0
    assert run("diff", a, b, "--exit-code", "--format", "json")[0] == 10


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_shared_outputs_follow_the_umask_and_plans_stay_private(tmp_path: Path, umask_022: None) -> None:
    assert run("report", PLAN, "-o", str(tmp_path / "r.html"))[0] == 0
    assert run("report", PLAN, "-o", str(tmp_path / "r.md"))[0] == 0
    assert run("show", PLAN, "-o", str(tmp_path / "s.md"), "--format", "md")[0] == 0
    assert run("plan", "--inventory", INVENTORY, "--spec", SPEC, "-o", str(tmp_path / "p.json"))[0] == 0
    assert {p.name: _mode(p) for p in tmp_path.iterdir()} == {"r.html": 0o644, "r.md": 0o644, "s.md": 0o644,
                                                               "p.json": 0o600}
    os.umask(0o027)
    assert run("report", PLAN, "-o", str(tmp_path / "r.html"))[0] == 0
    assert _mode(tmp_path / "r.html") == 0o640


def test_show_fits_columns_and_wide_shows_everything() -> None:
    code, narrow, _ = run("show", PLAN, env={"COLUMNS": "80"})
    assert code == 0 and max(len(line) for line in narrow.splitlines()) <= 80
    assert "--wide shows every column" in narrow
    code, wide, _ = run("show", PLAN, "--wide", env={"COLUMNS": "80"})
    assert code == 0 and max(len(line) for line in wide.splitlines()) > 80 and "not shown" not in wide
    code, _, err = run("show", PLAN, "--full", "--top", "3")
    assert code == 2 and "give --full or --top N, not both" in err


def test_show_and_report_markdown_default_to_a_summary() -> None:
    _, summary, _ = run("show", PLAN, "--format", "md")
    _, full, _ = run("show", PLAN, "--format", "md", "--full")
    assert "## Pools that change (largest change first)" in summary and "## Pools that change or have a target" in full
    _, top1, _ = run("report", PLAN, "--format", "md", "--top", "1")
    assert "_… and 5 more pools that change (--full lists every one)_" in top1
    _, text_top, _ = run("show", PLAN, "--top", "1")
    assert "… and 2 more requests (--full lists every one)" in text_top


def test_shell_completion_works_with_clicks_environment_variable() -> None:
    exe = Path(sys.executable).parent / "poolshift"
    source = subprocess.run([str(exe)], env={**os.environ, "_POOLSHIFT_COMPLETE": "bash_source"},
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert "_poolshift_completion()" in source and "complete -o nosort -F _poolshift_completion poolshift" in source
    words = subprocess.run([str(exe)], env={**os.environ, "_POOLSHIFT_COMPLETE": "bash_complete",
                                            "COMP_WORDS": "poolshift sh", "COMP_CWORD": "1"},
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert "plain,show" in words.splitlines()
    formats = subprocess.run([str(exe)], env={**os.environ, "_POOLSHIFT_COMPLETE": "bash_complete",
                                              "COMP_WORDS": "poolshift show plan.json --format ", "COMP_CWORD": "4"},
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert {line.split(",")[1] for line in formats.splitlines()} == {"table", "md", "json", "text"}


def test_debug_shows_what_caused_an_error_and_keeps_its_exit_code(tmp_path: Path) -> None:
    # `raise ... from exc` keeps the cause; --debug prints it, without --debug one line only
    missing = str(tmp_path / "missing.json")
    code, _, err = run("plan", "--inventory", missing, "--spec", SPEC, "-o", str(tmp_path / "p.json"))
    assert code == 2 and "Traceback" not in err and err.strip().count("\n") == 0
    code, _, err = run("--debug", "plan", "--inventory", missing, "--spec", SPEC, "-o", str(tmp_path / "p.json"))
    assert code == 2 and "FileNotFoundError" in err and "InputError" in err
    assert err.strip().splitlines()[-1].startswith("poolshift: error: ")
