"""Measuring child processes: wall time and the command's own peak memory, and which code they import.

- **Wall time**: `time.perf_counter()` from just before the child is spawned until it has been reaped, so
  it includes interpreter start-up, imports, reading the files and writing the plan.
- **Peak memory**: the command's own `ru_maxrss` (Linux: KiB, the high-water RSS of that process),
  reported by GNU time (`/usr/bin/time -f %M`) or, without it, by the tiny `benchmarks/_spawn.py`
  launcher. Not our own `os.wait4()` figure nor a RUSAGE_CHILDREN delta: a child forked from the runner
  starts with the runner's resident pages and Linux keeps that high-water mark across exec, and
  RUSAGE_CHILDREN is a maximum over all children ever reaped. A command that forks (`poolshift whatif`'s
  worker, planner/review/whatif.py) holds more than any one of its processes: the sum of the
  proportional set sizes (PSS, shared pages split between the processes sharing them) of the command's
  process tree is sampled every 20 ms too while the command has a child (`TreeMemory`, Linux: sampling a
  process alone only slowed it), and the peak reported is the larger figure. That sampling takes CPU the
  command's two processes would use on a 2-core machine (whatif at 100k: 8.32 s sampled against 7.05 s not,
  medians of 4 alternating, session 26), so a forking command's wall time is taken from runs with
  `sample_tree=False` and its peak from a separate sampled run (`benchmarks.whatif`, the runner's whatif row).
- **Which code**: children import `planner/` and `solvers/` from a frozen copy of the work tree (other
  engineers edit it during long runs), or from the tree of a past commit (`reference_code`), put first on
  their `PYTHONPATH`.
"""

from __future__ import annotations

import compileall
import contextlib
import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SPAWN_SCRIPT = REPO_ROOT / "benchmarks" / "_spawn.py"
CODE_PACKAGES = ("planner", "solvers")
SECRET_ENV = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
              "HUAWEICLOUD_SDK_PROJECT_ID", "POOLSHIFT_TOKEN")


@dataclass
class Measured:
    """What the runner saw of one child process."""

    returncode: int
    wall_seconds: float
    peak_kib: int
    timed_out: bool
    peak_source: str = ""


class TreeMemory:
    """The highest sum of PSS over a process and its descendants, sampled every `interval` s in a thread (Linux;
    0 where /proc has no smaps_rollup), only while the tree holds more than `alone` processes (the command and
    the wrapper that runs it: each measures its own max RSS): reading the smaps of a 550 MB process 50 times a
    second slowed it by about 10% (default 100k plan, 2.78 against 2.52 s, session 22: the kernel walks its
    page tables under the process's memory-map lock)."""

    def __init__(self, pid: int, interval: float = 0.02, alone: int = 1) -> None:
        self.pid, self.interval, self.alone, self.peak_kib = pid, interval, alone, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            tree = _tree(self.pid)
            if len(tree) > self.alone:
                self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in tree))


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError, ValueError):
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return found


def _pss_kib(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


# Where the children import planner/ and solvers/ from (a frozen copy, see snapshot_code); None: the tree.
CODE_SNAPSHOT: Path | None = None


def child_env(code: Path | None = None) -> dict[str, str]:
    """The environment of every child: ours without credentials (planning from files needs none), with the
    code root (`code`, else the code snapshot when taken) ahead of the work tree on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    root = code or CODE_SNAPSHOT
    paths = [str(root)] if root else []
    paths += [str(REPO_ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def child_cwd(code: Path | None = None) -> Path:
    """The children's working directory: `python -m`/`-c` put it first on sys.path, so with a code snapshot
    it must be the snapshot, not the work tree (all paths passed to children are absolute). The runner's
    own modules (`benchmarks.*`) are found through PYTHONPATH, which also lists the work tree."""
    return code or CODE_SNAPSHOT or REPO_ROOT


def code_fingerprint(root: Path) -> str:
    """sha256 (12 hex digits) over the paths and contents of planner/ and solvers/ under root."""
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def snapshot_code(dest_root: Path) -> tuple[Path, str]:
    """Freeze planner/ and solvers/ into dest_root/code-<fingerprint>/ (byte-compiled) for the children.

    Other engineers edit the shared work tree while a long run goes on; with the editable install every
    child would otherwise import whatever the tree holds at that moment, mixing code versions in one table.
    """
    for _attempt in range(3):
        fingerprint = code_fingerprint(REPO_ROOT)
        dest = dest_root / f"code-{fingerprint}"
        if (dest / ".complete").exists():
            return dest, fingerprint
        staging = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        for package in CODE_PACKAGES:
            shutil.copytree(REPO_ROOT / package, staging / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if code_fingerprint(staging) != fingerprint:  # the tree changed while we copied: try again
            continue
        compileall.compile_dir(staging, quiet=1)
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
        (dest / ".complete").touch()
        return dest, fingerprint
    raise SystemExit("run: planner/ and solvers/ keep changing; cannot take a consistent code snapshot")


def reference_code(commit: str, dest_root: Path) -> Path:
    """planner/ and solvers/ as of `commit` (git archive), byte-compiled under dest_root/ref-<commit>/."""
    dest = dest_root / f"ref-{commit}"
    if (dest / ".complete").exists():
        return dest
    staging = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
    _extract(commit, CODE_PACKAGES, staging)
    return _complete(staging, dest)


def mixed_code(planner_commit: str, dest_root: Path) -> Path:
    """planner/ as of `planner_commit` with the work tree's solvers/, byte-compiled under dest_root.

    For measuring this tree's solver under a planner from another branch (e.g. one that already reads the
    snapshot's workloads) before the two are merged.
    """
    fingerprint = code_fingerprint(REPO_ROOT)
    dest = dest_root / f"mixed-{planner_commit}-{fingerprint}"
    if (dest / ".complete").exists():
        return dest
    staging = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
    _extract(planner_commit, ("planner",), staging)
    shutil.copytree(REPO_ROOT / "solvers", staging / "solvers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return _complete(staging, dest)


def _extract(commit: str, packages: Sequence[str], staging: Path) -> None:
    done = subprocess.run(["git", "archive", "--format=tar", commit, *packages], cwd=REPO_ROOT,
                          capture_output=True, check=False, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"run: cannot read {commit} from git: {done.stderr.decode(errors='replace').strip()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(done.stdout)) as archive:
        archive.extractall(staging, filter="data")


def _complete(staging: Path, dest: Path) -> Path:
    compileall.compile_dir(staging, quiet=1)
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    (dest / ".complete").touch()
    return dest


def imported_from(code: Path | None = None) -> dict[str, str]:
    """Where a child process imports planner and solvers from (to prove the snapshot is used)."""
    script = "import planner, solvers; print(planner.__file__); print(solvers.__file__)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=child_cwd(code), env=child_env(code), check=False)
    lines = done.stdout.split()
    return dict(zip(CODE_PACKAGES, lines, strict=False))


@functools.cache
def gnu_time() -> str | None:
    """Path of GNU time (`/usr/bin/time`), when installed."""
    path = shutil.which("time", path="/usr/bin:/bin:/usr/local/bin")
    if not path:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if "GNU" in done.stdout + done.stderr else None


def _peak_wrapper(rss_file: Path) -> tuple[list[str], str]:
    """The command prefix that records the child's own peak RSS in rss_file, and its name for the JSON."""
    time_bin = gnu_time()
    if time_bin:
        return [time_bin, "-f", "%M", "-o", str(rss_file), "--"], "GNU time %M"
    return [sys.executable, "-S", "-E", str(SPAWN_SCRIPT), str(rss_file), "--"], "benchmarks/_spawn.py wait4"


def _read_peak(rss_file: Path) -> int | None:
    try:
        lines = rss_file.read_text(encoding="utf-8").split()
        return int(lines[-1])
    except (OSError, ValueError, IndexError):
        return None


def measure(cmd: Sequence[str], *, stdout: Path, stderr: Path, timeout: float, code: Path | None = None,
            sample_tree: bool = True) -> Measured:
    """Run cmd to completion: wall time from spawn to reap, peak memory (cmd's own peak RSS, or the sampled PSS
    sum of its process tree when larger: see the module docstring; `sample_tree=False`: cmd's own peak RSS only,
    for a run whose wall time is what counts).

    The peak comes from GNU time's %M (or the `_spawn.py` launcher): the `ru_maxrss` of the command,
    forked from a small process. Not from our own `os.wait4`: a child forked from the runner starts with
    the runner's resident pages, and Linux keeps that high-water mark across exec.
    """
    rss_file = stdout.with_suffix(".maxrss")
    rss_file.unlink(missing_ok=True)
    prefix, source = _peak_wrapper(rss_file)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([*prefix, *cmd], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                cwd=child_cwd(code), env=child_env(code), start_new_session=True)
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the wrapper and the command under it

        watchdog = threading.Timer(timeout, _kill)
        watchdog.start()
        # the wrapper and the command: sampled only once the command forks
        tree = TreeMemory(proc.pid, alone=2) if sample_tree else None
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: the child is in its own session, so stop it here
            _kill()
            raise
        finally:
            watchdog.cancel()
            tree_peak = tree.stop() if tree is not None else 0
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = _read_peak(rss_file)
    if peak is None:  # the wrapper could not say: fall back to its own figure, an upper bound
        peak, source = int(usage.ru_maxrss), "wrapper wait4 (upper bound)"
    if tree_peak > peak:
        peak, source = tree_peak, "PSS sum of the process tree (sampled)"
    return Measured(proc.returncode, wall, peak, timed_out.is_set(), source)


def poolshift_executable() -> str:
    """The `poolshift` console script of this interpreter's environment (else the one on PATH)."""
    sibling = Path(sys.executable).with_name("poolshift")
    if sibling.exists():
        return str(sibling)
    found = shutil.which("poolshift")
    if not found:
        raise SystemExit("run: the `poolshift` console script is not installed (pip install -e '.[test]')")
    return found


def tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def mib(kib: int) -> float:
    return round(kib / 1024.0, 1)


