"""Fixtures for the API tests: a real uvicorn server on 127.0.0.1 with the hub."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from riskcast.api import sse, ws
from riskcast.api.hub import Hub
from riskcast.api.wsfast import FastWebSocketProtocol
from riskcast.bus.memory import MemoryBus


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_app(bus: MemoryBus, hub: Hub) -> FastAPI:
    """An app wired the way the lead's factory does: hub on app.state, both routers."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        yield
        await hub.aclose()

    app = FastAPI(lifespan=lifespan)
    app.state.hub = hub
    app.include_router(ws.router)
    app.include_router(sse.router)
    return app


class _Server(uvicorn.Server):
    """uvicorn.Server that sets an event once it listens (no sleeping until ready), and
    closes the hub's streams first on shutdown, as ``riskcast serve`` should."""

    def __init__(self, config: uvicorn.Config, hub: Hub) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.hub = hub

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.hub.aclose()  # SSE responses end, so the graceful wait does not hang
        await super().shutdown(sockets)


@dataclass
class StreamServer:
    bus: MemoryBus
    hub: Hub
    host: str
    port: int
    server: uvicorn.Server

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.asynccontextmanager
async def serve(ws_protocol: Any = FastWebSocketProtocol, *, history_size: int = 1000,
                buffer_bytes: int = 4 * 1024 * 1024, keepalive: float = 15.0,
                authorize: Callable[[str], bool] | None = None) -> AsyncIterator[StreamServer]:
    """Run uvicorn in this event loop on a free port with a fresh MemoryBus and Hub.

    ``authorize`` is put in every connection's state, as an auth middleware would.
    """
    bus = MemoryBus(history_size=history_size)
    hub = Hub(bus, buffer_bytes=buffer_bytes, keepalive=keepalive)
    app: Any = make_app(bus, hub)
    if authorize is not None:
        inner = app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] in ("websocket", "http"):
                scope.setdefault("state", {})["authorize"] = authorize
            await inner(scope, receive, send)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, ws=ws_protocol, lifespan="on",
                            log_level="warning", timeout_graceful_shutdown=5,
                            ws_ping_interval=None)
    server = _Server(config, hub)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.wait_for(server.ready.wait(), 10)
        yield StreamServer(bus, hub, "127.0.0.1", port, server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


@pytest.fixture(params=["fast", "stock"])
async def hub_server(request: pytest.FixtureRequest) -> AsyncIterator[StreamServer]:
    """A server with the fast protocol (``fast``) or uvicorn's own (``stock``: fallback)."""
    protocol = FastWebSocketProtocol if request.param == "fast" else "websockets-sansio"
    async with serve(protocol) as server:
        yield server


@pytest.fixture
async def fast_server() -> AsyncIterator[StreamServer]:
    """A server with the fast protocol only."""
    async with serve() as server:
        yield server
