"""Private Redis, NATS and PostgreSQL instances for fault tests, on free ports in temporary
directories, so a test can stop and restart them without touching the shared services.
A fresh database on the shared PostgreSQL for tests that only need isolation."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from riskcast.testing.server import free_port
from tests.conftest import IN_CI, require_service

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SHARED_POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def require_binary(path: str | Path) -> None:
    """Skip (fail under CI=true) when a server binary is not installed."""
    if shutil.which(str(path)) is None:
        message = f"{path} is not installed"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: services must be there)")
        pytest.skip(message)


def wait_port(port: int, *, up: bool = True, within: float = 30.0) -> None:
    """Poll until something listens on ``port`` (or nothing does, ``up=False``)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not {'open' if up else 'close'} within {within} s")


class Daemon:
    """A server process we own: start, stop (SIGTERM, or SIGKILL), start again."""

    def __init__(self, argv: list[str], port: int, log: Path) -> None:
        self.argv, self.port, self.log = argv, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        wait_port(self.port)

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        self.proc.wait(30)
        self.proc = None
        wait_port(self.port, up=False)


@contextmanager
def private_redis(tmp: Path) -> Iterator[Daemon]:
    """A Redis with an append-only file (fsync always): a restart keeps the bus's keys, as
    a production Redis for riskcast should (docs/scale-out.md)."""
    require_binary("redis-server")
    port = free_port()
    folder = tmp / f"redis-{port}"
    folder.mkdir()
    daemon = Daemon(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                     "--dir", str(folder), "--save", "", "--appendonly", "yes",
                     "--appendfsync", "always"], port, folder / "log")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@contextmanager
def private_nats(tmp: Path) -> Iterator[Daemon]:
    """A NATS server with JetStream (file storage in a temporary directory)."""
    require_binary("nats-server")
    port = free_port()
    folder = tmp / f"nats-{port}"
    folder.mkdir()
    daemon = Daemon(["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js",
                     "-sd", str(folder)], port, folder / "log")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def _as_postgres(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv]


class PostgresDaemon(Daemon):
    """A PostgreSQL cluster run with ``pg_ctl``; :meth:`stop` with ``kill=True`` is an
    immediate shutdown (no checkpoint: the next start runs crash recovery)."""

    def __init__(self, data: Path, port: int, folder: Path) -> None:
        super().__init__([], port, folder / "postgres.log")
        self.data, self.folder = data, folder

    def _ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args),
                       check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._ctl("-l", str(self.log), "-w", "-o",
                  f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=on", "start")
        wait_port(self.port)

    def stop(self, *, kill: bool = False) -> None:
        self._ctl("-m", "immediate" if kill else "fast", "-w", "stop")
        wait_port(self.port, up=False)


@contextmanager
def private_postgres(tmp: Path) -> Iterator[tuple[PostgresDaemon, str]]:
    """A PostgreSQL 15 cluster of our own (trust auth), and its URL (database ``test``)."""
    require_binary(PG_BIN / "initdb")
    port = free_port()
    folder = Path("/tmp") / f"rc-pg-{uuid.uuid4().hex[:10]}"
    folder.mkdir(mode=0o700)
    shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    subprocess.run(_as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust",
                                "-U", "postgres", "--no-sync"),
                   check=True, capture_output=True)
    daemon = PostgresDaemon(data, port, folder)
    daemon.start()
    url = f"postgresql://postgres@127.0.0.1:{port}"
    try:
        _create_database(url, "test")
        yield daemon, f"{url}/test"
    finally:
        try:
            daemon.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(folder, ignore_errors=True)


def _create_database(server: str, name: str) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
                return
        except psycopg.OperationalError:  # still starting up
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new database on the shared PostgreSQL, dropped afterwards: processes that share it
    share the default schema ``riskcast`` without meeting other tests."""
    import psycopg

    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"rc_scale_{uuid.uuid4().hex[:10]}"
    _create_database(SHARED_POSTGRES, name)
    try:
        yield f"{SHARED_POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{SHARED_POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
