"""A real local HTTP receiver for webhook tests: records requests, fails the first N."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """``fail`` requests answer ``fail_status`` (with ``retry_after`` if set), then 200."""

    url: str = ""
    fail: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    requests: list[Received] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        async with self.changed:
            self.requests.append(Received(dict(request.headers), body))
            self.changed.notify_all()
        if self.fail > 0:
            self.fail -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return Response("not now", status_code=self.fail_status, headers=headers)
        return Response(status_code=204)

    async def wait(self, count: int, within: float = 10.0) -> list[Received]:
        async def done() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.requests) >= count)
        await asyncio.wait_for(done(), within)
        return self.requests


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A Starlette app under uvicorn on a free port of 127.0.0.1, in this event loop."""
    rec = Receiver()
    app = Starlette(routes=[Route("/hook", rec.handle, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    rec.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server = _Server(uvicorn.Config(app, lifespan="off", log_level="warning", ws="none"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await asyncio.wait_for(server.ready.wait(), 10)
    try:
        yield rec
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
