"""Work on the raw snapshot done on the other core while the plan is solved: the fingerprint and the verifier.

Two stages of a plan need the raw snapshot but nothing the planner derives from it: the inventory fingerprint
(the canonical text of every object, hashed) and the independent verifier's own reading of the snapshot
(`planner.verify.read_world`, most of the verifier's time). At 100k nodes they are 0.8-1.2 s of single-core
Python, and the solver meanwhile leaves the machine's second core idle; a thread cannot use it (the
planner's stages hold the interpreter lock). So `SideWork.start` forks a child once the problem is built: it
inherits the snapshot (copy-on-write, nothing is sent), computes the fingerprint and reads the verifier's
world while the parent solves, orders and builds the document; it then waits for the plan document (as its
JSON text: a fifth of pickle's time at 100k nodes), verifies it against that world and answers with the
verifier's findings. The pages either process writes are copied: the two together hold up to 965 MiB at 100k
nodes (sum of PSS, hard family), against 670 MiB for the process alone (benchmarks/RESULTS.md).

The child computes exactly what the parent would (the same functions on the same objects), so a plan is the
same with or without it. Whatever goes wrong on its side (no `fork`, a single core, an exception, a child that
died) makes `fingerprint()` / `verify()` return None and the caller does the work itself, as it would
without a side process: nothing is lost and no error is new. The child never writes to stdout/stderr or to
any file, and leaves with `os._exit`, so no buffer or exit handler of the parent runs twice.

Owns: the fork, the pipe protocol, the child's life (it is killed and reaped on `close`).
Must not: decide anything about the plan; print; be used where plans are already made in parallel processes
(whatif's workers): the caller opts in (`PlanOptions.side_process`; `poolshift plan` and `auto` do).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
from typing import Any

from planner.planfile import PlanDocument

MIN_NODES = 20_000
"""Below this many nodes the fork and the pipe cost about what the two stages take (benchmarks/RESULTS.md)."""

_LENGTH = struct.Struct("<Q")


def worthwhile(raw: dict[str, Any]) -> bool:
    """Whether a side process can gain time: `fork` exists, a large snapshot, and a core to spare.

    A core to spare: two cores or more, and a load average (1 minute) at least half a core below their number.
    On a machine whose cores are all busy the child only competes with this process: 8 alternating runs of
    `poolshift plan` at 100k nodes under a load of 4 on 2 cores took 9.1 s with it against 7.4 s without
    (benchmarks/RESULTS.md).
    """
    cores = os.cpu_count() or 1
    if not hasattr(os, "fork") or cores < 2 or _load() > cores - 0.5:
        return False
    nodes = raw.get("nodes")
    if not isinstance(nodes, dict):
        return False
    return sum(len(items) for items in nodes.values() if isinstance(items, list)) >= MIN_NODES


def _load() -> float:
    """The 1-minute load average (0.0 where the system does not tell it)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


class SideWork:
    """A forked child holding the fingerprint and the verifier's world of one snapshot (see the module docstring).

    Use as a context manager: `close` (on the way out) kills and reaps the child whatever happened.
    """

    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self.pid, self.to_child, self.from_child = pid, to_child, from_child
        self.alive = True

    @classmethod
    def start(cls, raw: dict[str, Any], spec_data: dict[str, Any], spec_source: str) -> SideWork | None:
        """Fork the child; None when it cannot be started (the caller then does the work itself)."""
        try:
            down_r, down_w = os.pipe()
            up_r, up_w = os.pipe()
            pid = os.fork()
        except OSError:
            return None
        if pid == 0:  # the child: never returns
            os.close(down_w)
            os.close(up_r)
            _child(raw, spec_data, spec_source, down_r, up_w)
        os.close(down_r)
        os.close(up_w)
        return cls(pid, down_w, up_r)

    def fingerprint(self) -> str | None:
        """The snapshot's fingerprint, as `planner.inventory.fingerprint_snapshot` computes it; None on failure."""
        answer = self._receive()
        if isinstance(answer, str):
            return answer
        self.alive = False  # the child failed before it had the fingerprint: it has ended
        return None

    def verify(self, document: PlanDocument) -> list[str] | None:
        """`planner.verify.verify_plan` of `document` on the child's reading of the snapshot; None on failure."""
        if not self.alive or not self._send(document.model_dump_json()):
            return None
        answer = self._receive()
        if isinstance(answer, list) and all(isinstance(line, str) for line in answer):
            return answer
        return None

    def close(self) -> None:
        for fd in (self.to_child, self.from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):  # already gone
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.alive = False

    def __enter__(self) -> SideWork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, value: object) -> bool:
        try:
            _write(self.to_child, value)
        except (OSError, pickle.PicklingError):
            self.alive = False
            return False
        return True

    def _receive(self) -> object:
        if not self.alive:
            return None
        try:
            return _read(self.from_child)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.alive = False
            return None


def _child(raw: dict[str, Any], spec_data: dict[str, Any], spec_source: str, down: int, up: int) -> None:
    """The child's whole life: fingerprint, world, one plan verified; any failure answers None and ends it."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child quietly; the parent reports it
        from planner.inventory import fingerprint_snapshot
        from planner.spec import parse_spec
        from planner.verify import read_world, verify_plan

        _write(up, fingerprint_snapshot(raw))
        spec = parse_spec(spec_data, source=spec_source)
        world = read_world(raw, spec)
        text = _read(down)
        document = PlanDocument.model_validate_json(text) if isinstance(text, str) else None
        _write(up, None if document is None else verify_plan(raw, spec, document, world=world))
    except BaseException:  # noqa: BLE001 - the parent redoes the work itself; nothing may escape a forked child
        code = 1
        with contextlib.suppress(BaseException):
            _write(up, None)
    finally:
        os._exit(code)


def _write(fd: int, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read(fd: int) -> object:
    (length,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size))
    return pickle.loads(_read_exactly(fd, length))


def _read_exactly(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("the side process closed its pipe")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
