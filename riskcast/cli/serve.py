"""``riskcast serve``: the whole platform in one process."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer
import uvicorn

from riskcast.cli.options import ConfigFile, DataDir, StorageUrl, settings_from

log = logging.getLogger("riskcast")


class _Server(uvicorn.Server):
    """uvicorn's server, marking the runtime as draining as soon as a signal arrives."""

    def __init__(self, config: uvicorn.Config, app: Any, banner: str) -> None:
        super().__init__(config)
        self._riskcast_app = app
        self._banner = banner

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:  # printed once listening, so scripts can wait for this line
            typer.echo(self._banner)

    async def shutdown(self, sockets: Any = None) -> None:
        # End live streams first (1001): an open SSE response would otherwise hold the
        # graceful shutdown for its whole timeout.
        await self._riskcast_app.state.hub.aclose()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._riskcast_app.state.runtime.draining = True
        super().handle_exit(sig, frame)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default 127.0.0.1]",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8000]",
                                             show_default=False)] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
    storage: StorageUrl = None,
    bus: Annotated[str | None, typer.Option(help="Bus URL [default memory]",
                                            show_default=False)] = None,
    mqtt: Annotated[str | None, typer.Option(
        help="Subscribe to this MQTT broker, e.g. mqtt://127.0.0.1:1883", show_default=False)
    ] = None,
    simulate: Annotated[bool | None, typer.Option(
        "--simulate/--no-simulate", help="Feed simulated sites [default off]",
        show_default=False)] = None,
) -> None:
    """Run the API, live streams and background jobs. SIGTERM drains: it stops accepting,
    finishes requests in flight and commits everything acknowledged."""
    from riskcast.api.app import create_app, wrap
    from riskcast.api.wsfast import FastWebSocketProtocol
    from riskcast.logs import configure

    settings = settings_from(config, host=host, port=port, data_dir=data_dir, storage=storage,
                             bus=bus, simulate=simulate, mqtt=mqtt)
    configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    banner = (
        f"riskcast ready on {base}  (data: {settings.storage_url}, bus: {settings.bus})\n"
        f"  dashboard   {base}/\n"
        f"  API docs    {base}/docs\n"
        f"  WebSocket   ws://{settings.host}:{settings.port}/ws\n"
        f"  SSE         {base}/sse?channels=system\n"
        f"  health      {base}/health/ready\n"
        "Ctrl-C or SIGTERM stops it after committing everything acknowledged.")
    config_ = uvicorn.Config(
        wrap(app, settings), host=settings.host, port=settings.port, ws=FastWebSocketProtocol,
        log_config=None, timeout_graceful_shutdown=30, lifespan="on",
        ws_max_size=1024 * 1024, loop="auto", http="httptools")
    _Server(config_, app, banner).run()
