"""The `poolshift` command line: parse, call, print, exit; nothing else.

This package is the only place that imports click, prints or exits. Each command's module is imported only when
that command runs (`planner.cli.commands`), and command modules import heavy libraries inside the command
functions, so that `poolshift plan` imports what planning needs and `poolshift --help` starts fast.
"""

from __future__ import annotations

from planner.cli._common import main

__all__ = ["main"]
