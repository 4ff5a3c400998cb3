"""Progress of a long command (`plan`, `whatif`, `report`, `inventory pull`) on a terminal.

Owns: one status line on stderr (a spinner, what the command is doing, the seconds it has taken), redrawn a few
times a second and erased when the step ends, so that stdout and anything written after it stay clean. Shown only
when stderr is a terminal and `--quiet` is not given; otherwise nothing at all is written. Must not: print
results (the commands do) or know what the steps are.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

FRAMES = "|/-\\"
INTERVAL = 0.2


def on_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """`with progress.step("planning"):` shows `| planning (3.2 s)` on a terminal's stderr while the block runs."""

    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and on_terminal(self.stream)
        self._lock = threading.Lock()

    def _draw(self, text: str) -> None:
        with self._lock:
            try:
                self.stream.write("\r\x1b[2K" + text)
                self.stream.flush()
            except (OSError, ValueError):  # the terminal went away: progress is not worth an error
                self.enabled = False

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Show `label` with a spinner and the elapsed seconds until the block ends, then erase the line."""
        if not self.enabled:
            yield
            return
        done = threading.Event()
        start = time.monotonic()

        def tick() -> None:
            frame = 0
            while not done.is_set():
                self._draw(f"{FRAMES[frame % len(FRAMES)]} {label} ({time.monotonic() - start:.1f} s)")
                frame += 1
                done.wait(INTERVAL)

        thread = threading.Thread(target=tick, name="poolshift-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            self._draw("")
