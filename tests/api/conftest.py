"""Fixtures for the API client and emulator tests."""

from __future__ import annotations

from tests.emulator_server import emulator, emulator_snapshot  # noqa: F401  (pytest fixtures)
