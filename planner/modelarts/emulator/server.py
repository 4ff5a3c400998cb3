"""Run the emulator under uvicorn: in a background thread (tests) or in the foreground (the CLI).

The listening socket is bound (and listening) here, before uvicorn starts, so port 0 gives a free port with
no race, the URL is known at once, and a client that connects early waits instead of being refused.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from planner.errors import InputError
from planner.modelarts.emulator.api import EmulatorApi
from planner.modelarts.emulator.app import create_app

_DROP_MESSAGE = "ASGI callable returned without completing response."


class _DroppedConnectionFilter(logging.Filter):
    """The injected connection drop is on purpose; keep uvicorn from reporting it as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROP_MESSAGE


_uvicorn_log = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _DroppedConnectionFilter) for f in _uvicorn_log.filters):
    _uvicorn_log.addFilter(_DroppedConnectionFilter())


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)  # connections made before uvicorn has started wait in the backlog
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc})", source="arguments",
                         path="--port") from exc
    sock.set_inheritable(True)
    return sock


class EmulatorServer:
    """uvicorn serving one `EmulatorApi` on host:port (port 0 picks a free one)."""

    def __init__(self, api: EmulatorApi, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api = api
        self._socket = _bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(create_app(api), log_config=None, lifespan="off", ws="none", http="h11",
                                loop="asyncio", access_log=False, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve(self) -> None:
        """Serve in the foreground until interrupted (Ctrl-C stops uvicorn gracefully)."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def start(self, timeout: float = 10.0) -> None:
        """Serve in a daemon thread; return once uvicorn accepts connections."""
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"emulator:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not start on {self.url}")
            time.sleep(0.002)

    def stop(self) -> None:
        """Stop the thread started by `start()` and release the port."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
