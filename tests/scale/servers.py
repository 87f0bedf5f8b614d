"""``riskcast serve`` as real OS processes on free ports, for the scale-out tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from riskcast.testing.server import free_port

#: Settings every test process gets: auth and rate limits off (beside the point here: a
#: client ingesting one reading per request while the bus is away easily passes 200/s),
#: quick alert timers and lease checks, no retention job.
BASE_ENV = {"RISKCAST_AUTH": "false", "RISKCAST_RATE_LIMIT": "0",
            "RISKCAST_LOG_LEVEL": "warning", "RISKCAST_RETENTION": "0",
            "RISKCAST_LEASE_INTERVAL": "0.2s"}


class ServeProcess:
    """One ``riskcast serve`` (``--workers N`` when ``workers`` > 1)."""

    def __init__(self, tmp: Path, *, storage: str, bus: str, workers: int = 1,
                 port: int | None = None, env: dict[str, str] | None = None,
                 name: str = "serve") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.workers = workers
        self.log = tmp / f"{name}-{self.port}.log"
        self.argv = [sys.executable, "-m", "riskcast.cli.main", "serve", "--port",
                     str(self.port), "--data-dir", str(tmp / f"data-{name}"),
                     "--storage", storage, "--bus", bus, "--workers", str(workers)]
        self.env = {**os.environ, **BASE_ENV, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServeProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.PIPE,
                                         stderr=log)
        assert self.proc.stdout is not None
        ready = 0
        # Each process (each worker) prints its banner once it is listening.
        while ready < self.workers:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"serve did not start:\n{self.log.read_text()}")
            ready += "riskcast ready on" in line
        httpx.get(f"{self.url}/health/ready", timeout=timeout).raise_for_status()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(30)
            self._close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""
