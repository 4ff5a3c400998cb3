"""The `poolshift` command line: parse, call, print, exit; nothing else.

This package is the only place that imports click, prints or exits. Command modules import heavy
libraries inside the command functions so that `poolshift --help` starts fast.
"""

from __future__ import annotations

from planner.cli import (  # noqa: F401  (registers commands)
    api_cmds,
    apply_cmds,
    auto_cmds,
    core_cmds,
    emulator_cmds,
    review_cmds,
    validate_cmds,
)
from planner.cli._common import main

__all__ = ["main"]
