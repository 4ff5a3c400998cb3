"""Python's cyclic garbage collector paused over a block, and restored after.

A large snapshot is millions of small dicts; every collection walks all of them again, which made reading a
100k-node snapshot 2.4x slower and building the model 1.4x slower (benchmarks/RESULTS.md); importing the
planning modules, pydantic's models and OR-Tools triggered some 70 young collections of their own. Planning
creates no reference cycles worth collecting. This module imports nothing heavy, so that a command can pause
the collector before it imports the planning modules (`planner.cli`), and planning pauses it for any other
caller (`planner.planning.gc_paused`, the same function).

Owns: the pause. Must not: import anything but the standard library.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["paused"]


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block, and back on after it if it was on before (nested pauses keep it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
