"""Process locks: one exclusive, non-blocking `flock` per file, with the holder named in the refusal.

The kernel drops an flock when its process dies, even by SIGKILL, so a crashed run never leaves a lock
held. The file keeps one line about the holder (pid and a note). A refusal that finds the file still empty
(the holder has the lock but has not written its line yet) waits a moment for it, so the message names
the holder reliably.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from planner.errors import InputError, LockedError

HOLDER_WAIT_SECONDS = 0.5


@contextlib.contextmanager
def exclusive_lock(path: Path, note: str, refusal: Callable[[str], str]) -> Iterator[Path]:
    """Hold `path` locked for the block; held elsewhere: LockedError(refusal(holder line))."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InputError(f"cannot open the lock file ({exc.strerror})", source=str(path)) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise LockedError(refusal(_read_holder(fd))) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} {note}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read_holder(fd: int) -> str:
    deadline = time.monotonic() + HOLDER_WAIT_SECONDS
    while True:
        try:
            text = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip()
        except OSError:
            text = ""
        if text or time.monotonic() >= deadline:
            return text or "holder unknown"
        time.sleep(0.01)
