"""The emulator's FastAPI app: one catch-all route handing the raw request to `EmulatorApi.handle`.

Raw bytes matter: signatures are checked against the path and query exactly as sent, so the adapter passes
`scope["raw_path"]` and `scope["query_string"]` rather than FastAPI's parsed values.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from planner.modelarts.emulator.api import EmulatorApi, EmuRequest

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class DroppedResponse(Response):
    """Starts a 200 answer and stops mid-body: the client sees the connection drop after acceptance."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"job_id', "more_body": True})
        # Returning here without finishing the body makes the server close the connection.


def create_app(api: EmulatorApi) -> FastAPI:
    """A FastAPI app serving `api` on every path and method."""
    app = FastAPI(title="poolshift ModelArts emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.api_route("/{path:path}", methods=_METHODS)
    async def dispatch(request: Request) -> Response:
        raw_path: Any = request.scope.get("raw_path")
        answer = api.handle(EmuRequest(
            method=request.method,
            raw_path=raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path,
            query_string=request.scope.get("query_string", b"").decode("latin-1"),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=await request.body(),
            client_host=request.client.host if request.client else None,
        ))
        if answer.latency:
            await asyncio.sleep(answer.latency)
        if answer.drop:
            return DroppedResponse()
        return Response(content=answer.content, status_code=answer.status, headers=answer.headers)

    return app
