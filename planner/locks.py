"""Process locks: an exclusive `flock` per file, with the holder named in the refusal, and the project lock.

Owns: taking a lock file (opened with O_NOFOLLOW: a symlink planted at its path is refused, never followed and
never truncated), waiting for it up to a timeout or refusing at once, the one line about the holder the file
keeps (pid and a note), and the project lock: one lock file per project, region and workspace in a user state
directory, shared by `apply` and `auto` so that two runs on one host never change the pools of one project at
the same time. Must not: know what the lock protects, or lock anything between hosts (`flock` is local; docs/
apply.md says what covers two hosts).

The kernel drops an flock when its process dies, even by SIGKILL, so a crashed run never leaves a lock
held. A refusal that finds the file still empty (the holder has the lock but has not written its line yet)
waits a moment for it, so the message names the holder reliably.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from planner.errors import InputError, LockedError
from planner.files import open_nofollow

HOLDER_WAIT_SECONDS = 0.5
RETRY_SECONDS = 0.1
ENV_LOCK_DIR = "POOLSHIFT_LOCK_DIR"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@contextlib.contextmanager
def exclusive_lock(path: Path, note: str, refusal: Callable[[str], str], *, timeout: float = 0.0,
                   what: str = "lock file", mode: int = 0o600) -> Iterator[Path]:
    """Hold `path` locked for the block, waiting up to `timeout` seconds for another holder to let go.

    Still held after that: LockedError(refusal(holder line)). A symlink at `path`: InputError (exit 2). A new
    file gets `mode` (less the umask).
    """
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT, mode, what=what)
    try:
        _take(fd, refusal, timeout)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} {note}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _take(fd: int, refusal: Callable[[str], str], timeout: float) -> None:
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            holder = _read_holder(fd)
            waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
            raise LockedError(refusal(holder) + waited)
        time.sleep(min(RETRY_SECONDS, max(0.001, deadline - time.monotonic())))


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


# -- the project lock ------------------------------------------------------------------------------------------


def default_lock_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$POOLSHIFT_LOCK_DIR`, else `$XDG_STATE_HOME/poolshift/locks`, else `~/.local/state/poolshift/locks`."""
    env = os.environ if env is None else env
    chosen = env.get(ENV_LOCK_DIR, "").strip()
    if chosen:
        return Path(chosen)
    state = env.get("XDG_STATE_HOME", "").strip()
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "poolshift" / "locks"


def project_lock_path(lock_dir: Path, project_id: str, region: str | None, workspace_id: str | None) -> Path:
    """`<lock dir>/project-<project>-<region>-<workspace>.lock` (unsafe characters replaced; "-" when unknown)."""
    parts = [project_id, region or "-", workspace_id or "0"]
    return lock_dir / ("project-" + "_".join(_UNSAFE.sub("-", p) or "-" for p in parts) + ".lock")


def project_lock(project_id: str, region: str | None, workspace_id: str | None, *, note: str,
                 lock_dir: Path | None = None, timeout: float = 0.0) -> contextlib.AbstractContextManager[Path]:
    """Hold the lock of one project (region, workspace) on this host; LockedError naming the holder when another
    `apply` or `auto` keeps it longer than `timeout` seconds. The folder is made (0700) when missing; the lock
    file is group-writable (0660 less the umask), so that users of one group can share a lock folder."""
    folder = lock_dir or default_lock_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise InputError(f"cannot create the lock folder ({exc.strerror or exc}); set {ENV_LOCK_DIR} or "
                         f"--lock-dir", source=str(folder)) from exc
    path = project_lock_path(folder, project_id, region, workspace_id)
    where = f"project {project_id}, region {region or '-'}, workspace {workspace_id or '0'}"
    return exclusive_lock(path, note, lambda holder: (
        f"another poolshift run is changing the pools of {where} ({holder}; lock {path}); wait for it to end, "
        f"or pass --lock-timeout SECONDS to wait for it"), timeout=timeout, what="project lock file", mode=0o660)
