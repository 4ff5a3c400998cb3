"""The `poolshift` command line: parse, call, print, exit; nothing else.

This package is the only place that imports click, prints or exits. Each command's module is imported only when
that command runs (`planner.cli.commands`), and command modules import heavy libraries inside the command
functions, so that `poolshift plan` imports what planning needs and `poolshift --help` starts fast.
"""

from __future__ import annotations

from planner.cli import _common
from planner.cli._common import main

__all__ = ["main", "run"]


def run() -> None:
    """The `poolshift` console script: `main`, where `plan` ends without freeing what it read (`_common.finish`)."""
    _common.FAST_EXIT = True
    main()
