"""``riskcast serve``: the whole platform in one process, or in ``--workers N`` processes.

With ``--workers N`` the parent binds the port once and runs N worker processes (spawned,
each a whole riskcast: API, live streams, alert service) that accept on that socket. The
parent only supervises: it restarts a worker that dies and passes SIGTERM / SIGINT on, so
every worker drains. Several workers need storage and a bus that processes share
(PostgreSQL plus Redis or NATS); on SQLite or the in-process bus they are refused.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from typing import Annotated, Any

import typer
import uvicorn

from riskcast.cli.options import ConfigFile, DataDir, StorageUrl, settings_from
from riskcast.settings import Settings

log = logging.getLogger("riskcast")

#: Seconds a worker gets to drain after SIGTERM before the parent kills it.
_DRAIN_TIMEOUT = 40.0


class _Server(uvicorn.Server):
    """uvicorn's server, marking the runtime as draining as soon as a signal arrives."""

    def __init__(self, config: uvicorn.Config, app: Any, banner: str,
                 ready: Any = None) -> None:
        super().__init__(config)
        self._riskcast_app = app
        self._banner = banner
        self._ready = ready

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:  # printed once listening, so scripts can wait for this line
            typer.echo(self._banner)
            if self._ready is not None:
                self._ready.set()

    async def shutdown(self, sockets: Any = None) -> None:
        # End live streams first (1001): an open SSE response would otherwise hold the
        # graceful shutdown for its whole timeout.
        await self._riskcast_app.state.hub.aclose()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._riskcast_app.state.runtime.draining = True
        super().handle_exit(sig, frame)


def shared_backends_problem(settings: Settings) -> str | None:
    """Why ``settings`` cannot run in several processes, or None when they can."""
    problems = []
    if not settings.storage_url.startswith(("postgresql://", "postgres://")):
        problems.append(f"storage is {settings.storage_url} (each process would have its own "
                        "SQLite writer; use --storage postgresql://...)")
    if not settings.bus.startswith(("redis://", "rediss://", "nats://")):
        problems.append(f"bus is {settings.bus} (live events would stay in one process; "
                        "use --bus redis://... or nats://...)")
    if settings.mqtt:
        problems.append("--mqtt (one MQTT session per client id: run MQTT in one process "
                        "of its own)")
    if settings.simulate:
        problems.append("--simulate (every worker would feed the same sites)")
    return "; ".join(problems) or None


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default 127.0.0.1]",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8000]",
                                             show_default=False)] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
    storage: StorageUrl = None,
    bus: Annotated[str | None, typer.Option(
        help="Bus URL: memory, redis://host:6379, nats://host:4222 [env: RISKCAST_BUS; "
             "default memory]", show_default=False)] = None,
    mqtt: Annotated[str | None, typer.Option(
        help="Subscribe to this MQTT broker, e.g. mqtt://127.0.0.1:1883", show_default=False)
    ] = None,
    simulate: Annotated[bool | None, typer.Option(
        "--simulate/--no-simulate", help="Feed simulated sites [default off]",
        show_default=False)] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Worker processes sharing the port; more than 1 needs PostgreSQL "
                    "storage and a Redis or NATS bus")] = 1,
) -> None:
    """Run the API, live streams and background jobs. SIGTERM drains: it stops accepting,
    finishes requests in flight and commits everything acknowledged."""
    settings = settings_from(config, host=host, port=port, data_dir=data_dir, storage=storage,
                             bus=bus, simulate=simulate, mqtt=mqtt)
    from riskcast.cli.keys import print_first_admin_key

    print_first_admin_key(settings)  # once, on the first start with an empty key store
    if workers > 1:
        problem = shared_backends_problem(settings)
        if problem:
            typer.secho(f"error: --workers {workers} needs backends that processes share: "
                        f"{problem}. One process on SQLite serves the default setup; several "
                        "processes need PostgreSQL plus Redis or NATS (docs/scale-out.md).",
                        fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
        _supervise(settings, workers)
        return
    _run(settings)


def _run(settings: Settings, sock: socket.socket | None = None, name: str = "",
         ready: Any = None) -> None:
    """One server process: on ``sock`` when given (a worker), else binding host:port."""
    from riskcast.api.app import create_app, wrap
    from riskcast.api.wsfast import FastWebSocketProtocol
    from riskcast.logs import configure

    configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    banner = (
        f"riskcast ready on {base}{name}  (data: {settings.storage_url}, bus: {settings.bus})\n"
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
    _Server(config_, app, banner, ready).run(sockets=None if sock is None else [sock])


def _worker(settings: Settings, sock: socket.socket, index: int, count: int,
            ready: Any) -> None:
    """The body of a worker process (spawned: a fresh interpreter); sets ``ready`` once
    it is serving."""
    _run(settings, sock, f"  [worker {index}/{count}]", ready)


def _supervise(settings: Settings, count: int) -> None:
    """Bind once, run ``count`` workers, restart those that die, drain them on a signal."""
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as err:
        typer.secho(f"error: cannot listen on {settings.host}:{settings.port}: {err}",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from err
    sock.listen(2048)
    sock.set_inheritable(True)
    ctx = multiprocessing.get_context("spawn")
    stopping: list[int] = []

    def on_signal(sig: int, _frame: Any) -> None:
        stopping.append(sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def spawn(index: int) -> tuple[Any, Any]:
        ready = ctx.Event()
        proc = ctx.Process(target=_worker, args=(settings, sock, index, count, ready),
                           name=f"riskcast-worker-{index}")
        proc.start()
        return proc, ready

    workers = [spawn(i + 1) for i in range(count)]
    procs = [proc for proc, _ in workers]
    failed = False
    try:
        while not stopping and not failed:
            for i, (proc, ready) in enumerate(workers):
                proc.join(0.25 / count)
                if proc.exitcode is None or stopping:
                    continue
                if not ready.is_set():
                    # It died before serving (bad settings, unreachable storage): another
                    # would too. Stop everything.
                    typer.secho(f"error: worker {i + 1} failed to start "
                                f"(exit {proc.exitcode})", fg=typer.colors.RED, err=True)
                    failed = True
                    break
                log.warning("worker %d (pid %s) exited with %s; starting another",
                            i + 1, proc.pid, proc.exitcode)
                workers[i] = spawn(i + 1)
                procs[i] = workers[i][0]
    finally:
        for proc in procs:
            if proc.exitcode is None:
                proc.terminate()  # SIGTERM: the worker drains
        deadline = time.monotonic() + _DRAIN_TIMEOUT
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                proc.kill()
                proc.join()
        sock.close()
    if failed:
        raise typer.Exit(1)
