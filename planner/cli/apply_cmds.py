"""CLI commands (placeholder module; commands are registered on `planner.cli._common.main`)."""

from __future__ import annotations
