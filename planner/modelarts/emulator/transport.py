"""The emulator as an httpx transport: the full API in-process, no socket, for fast client tests.

A dropped connection surfaces as `httpx.RemoteProtocolError`, as a real peer closing mid-answer would.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from planner.modelarts.emulator.api import EmulatorApi, EmuRequest


class EmulatorTransport(httpx.BaseTransport):
    """Serves `EmulatorApi` to an `httpx.Client` (`transport=EmulatorTransport(api)`)."""

    def __init__(self, api: EmulatorApi, *, sleep: Callable[[float], None] | None = None,
                 client_host: str = "127.0.0.1") -> None:
        self.api = api
        self._sleep = sleep or time.sleep
        self._client_host = client_host

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        answer = self.api.handle(EmuRequest(
            method=request.method, raw_path=path, query_string=query,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=request.read(), client_host=self._client_host))
        if answer.latency:
            self._sleep(answer.latency)
        if answer.drop:
            raise httpx.RemoteProtocolError("peer closed connection without sending a complete answer",
                                            request=request)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.content, request=request)
