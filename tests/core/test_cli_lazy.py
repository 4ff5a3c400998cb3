"""Commands are loaded when they run (planner/cli/commands.py): the registry names every command, each loader
gives the command its module defines, and `poolshift --help` still lists them all."""

from __future__ import annotations

import importlib
from pathlib import Path

from click.testing import CliRunner

from planner.cli import main
from planner.cli.commands import LOADERS

CLI = Path(__file__).resolve().parents[2] / "planner" / "cli"


def test_the_registry_names_exactly_the_commands_the_modules_define() -> None:
    for path in sorted(CLI.glob("*_cmds.py")):  # every command module, imported: each registers its commands
        importlib.import_module(f"planner.cli.{path.stem}")
    assert set(main.commands) == set(LOADERS)
    for name, load in LOADERS.items():
        assert load() is main.commands[name], name


def test_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed if line.strip()] == sorted(LOADERS)
    assert all(len(line.split()) > 1 for line in listed if line.strip())  # each with its one-line help


def test_a_command_is_found_by_name_and_inventory_holds_pull_and_show() -> None:
    runner = CliRunner()
    for words in (["plan", "--help"], ["inventory", "show", "--help"], ["inventory", "pull", "--help"]):
        result = runner.invoke(main, words)
        assert result.exit_code == 0, (words, result.output)
        assert result.output.startswith(f"Usage: main {' '.join(words[:-1])} "), result.output
    unknown = runner.invoke(main, ["plann"])
    assert unknown.exit_code == 2 and "No such command 'plann'" in unknown.output
