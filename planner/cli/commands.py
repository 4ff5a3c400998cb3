"""Which module defines each `poolshift` command, so that a command's module is imported only when it runs.

Owns: `LOADERS`, each top-level command name with a function that imports the module defining it (the module
registers the command on `main` as it is imported) and returns the command. `main` (`_common.PoolshiftGroup`)
lists the names from here and loads a command when it is asked for: `poolshift plan` imports the planning
modules only, never apply, auto, the emulator or httpx; `poolshift --help` loads every command for its one-line
help. A command added to a module must be added here (tests/core/test_cli_lazy.py checks that the two agree).
Must not: define commands, or import a command module at import time.
"""

from __future__ import annotations

from collections.abc import Callable

import click


def _plan() -> click.Command:
    from planner.cli.core_cmds import plan_cmd

    return plan_cmd


def _show() -> click.Command:
    from planner.cli.core_cmds import show_cmd

    return show_cmd


def _inventory() -> click.Command:
    from planner.cli.api_cmds import inventory_group  # with `inventory show` from core_cmds

    return inventory_group


def _apply() -> click.Command:
    from planner.cli.apply_cmds import apply_cmd

    return apply_cmd


def _auto() -> click.Command:
    from planner.cli.auto_cmds import auto_cmd

    return auto_cmd


def _emulator() -> click.Command:
    from planner.cli.emulator_cmds import emulator_cmd

    return emulator_cmd


def _diff() -> click.Command:
    from planner.cli.review_cmds import diff_cmd

    return diff_cmd


def _report() -> click.Command:
    from planner.cli.review_cmds import report_cmd

    return report_cmd


def _whatif() -> click.Command:
    from planner.cli.review_cmds import whatif_cmd

    return whatif_cmd


def _validate() -> click.Command:
    from planner.cli.validate_cmds import validate_cmd

    return validate_cmd


LOADERS: dict[str, Callable[[], click.Command]] = {
    "apply": _apply, "auto": _auto, "diff": _diff, "emulator": _emulator, "inventory": _inventory, "plan": _plan,
    "report": _report, "show": _show, "validate": _validate, "whatif": _whatif,
}
