"""A real riskcast server on a free port, in a background thread, for tests and benches."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import uvicorn

from riskcast.api.app import create_app, wrap
from riskcast.api.runtime import Runtime
from riskcast.bus.base import Bus
from riskcast.security.keys import new_key
from riskcast.settings import Settings
from riskcast.storage.base import Storage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, hub: Any) -> None:
        super().__init__(config)
        self.hub = hub
        self.ready = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def shutdown(self, sockets: Any = None) -> None:
        await self.hub.aclose()  # end live streams first, as serve does
        await super().shutdown(sockets)


class LiveServer:
    """A running server: ``url``, ``ws_url``, its ``runtime`` and its event ``loop``.

    With ``auth`` on, it runs with an admin key (``settings.admin_key``, or one made
    here): ``admin_key`` holds it and ``headers`` carries it for an HTTP client.
    """

    def __init__(self, settings: Settings, *, storage: Storage | None = None,
                 bus: Bus | None = None, port: int | None = None) -> None:
        from riskcast.api.wsfast import FastWebSocketProtocol

        if settings.auth and not settings.admin_key:  # a known admin key for the caller
            settings = msgspec.structs.replace(settings, admin_key=new_key().plaintext)
        self.settings = settings
        #: The admin key when auth is on (``None`` when off), and headers carrying it.
        self.admin_key: str | None = settings.admin_key if settings.auth else None
        self.headers: dict[str, str] = (
            {"Authorization": f"Bearer {self.admin_key}"} if self.admin_key else {})
        self.port = port or free_port()  # a given port: a restart where clients expect it
        self.runtime = Runtime(settings, storage=storage, bus=bus)
        self.app = create_app(settings, runtime=self.runtime)
        config = uvicorn.Config(wrap(self.app, settings), host="127.0.0.1", port=self.port,
                                ws=FastWebSocketProtocol, log_config=None, lifespan="on",
                                timeout_graceful_shutdown=10, ws_max_size=1024 * 1024)
        self.server = _Server(config, self.runtime.hub)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="riskcast-test-server",
                                        daemon=True)
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # surfaced by start()
            self.error = err
            self.server.ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    def start(self, timeout: float = 30.0) -> LiveServer:
        self._thread.start()
        if not self.server.ready.wait(timeout):
            raise TimeoutError("server did not start")
        if self.error is not None or not self.server.started:
            raise RuntimeError(f"server failed to start: {self.error!r}")
        return self

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the server's loop (to reach its runtime) and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)


@contextmanager
def live_server(settings: Settings, *, storage: Storage | None = None,
                port: int | None = None) -> Iterator[LiveServer]:
    """Start a server with ``settings`` (on ``port``, else a free one) and stop it afterwards."""
    server = LiveServer(settings, storage=storage, port=port).start()
    try:
        yield server
    finally:
        server.stop()
