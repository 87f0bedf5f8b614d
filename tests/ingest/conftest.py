"""MQTT fixtures: the machine's Mosquitto, a broker of the test's own, a paho publisher."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO

import pytest

from riskcast.bus.memory import MemoryBus
from riskcast.core.sites import Site
from riskcast.packs.registry import PackSet
from riskcast.pipeline import Pipeline
from riskcast.settings import Settings
from riskcast.storage.sqlite import SqliteStorage
from riskcast.testing.server import free_port
from tests.conftest import require_service


@pytest.fixture
def mosquitto() -> tuple[str, int]:
    """The broker running on this machine (127.0.0.1:1883)."""
    require_service("Mosquitto (MQTT)", "127.0.0.1", 1883)
    return "127.0.0.1", 1883


class Broker:
    """A Mosquitto of the test's own, persistent, so it can be stopped and started again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            ""
            # As root Mosquitto would switch to user mosquitto, who cannot write into pytest's
            # private temporary directories: keep it as the user running the tests.
            + (f"user {getpass.getuser()}\n")
            + f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.dir}/\nautosave_interval 1\n"
            "max_queued_messages 100000\nmax_inflight_messages 0\n"
            "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
            "log_type information\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and return once Mosquitto says it listens (it logs that line to stderr;
        stdbuf makes it write each line at once instead of when its buffer fills)."""
        self.proc = subprocess.Popen(["stdbuf", "-oL", "-eL", "mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        seen = []
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            seen.append(line)
            if "listen socket on port" in line:
                # Keep reading its log so a full pipe never blocks the broker.
                self._drainer = threading.Thread(target=self._drain, args=(self.proc.stderr,),
                                                 daemon=True)
                self._drainer.start()
                return
        raise RuntimeError("mosquitto did not start: " + "".join(seen))

    @staticmethod
    def _drain(stream: IO[bytes]) -> None:
        for _ in stream:
            pass

    def stop(self) -> None:
        """A clean stop (SIGTERM): Mosquitto saves its sessions and queued messages."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self._drainer.join(10)  # it ends at the log's end of file
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    if shutil.which("mosquitto") is None:
        from tests.conftest import IN_CI

        if IN_CI:
            pytest.fail("mosquitto is not installed (CI=true: services must be there)")
        pytest.skip("mosquitto is not installed")
    broker = Broker(tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    storage = SqliteStorage(tmp_path / "mqtt.db", synchronous="normal")
    await storage.open()
    p = Pipeline(storage, MemoryBus(), PackSet.load(["generic"]), Settings())
    await p.start()
    for sid in ("s1", "s2"):
        await p.put_site(Site(id=sid))
    yield p
    await p.aclose()
    await storage.aclose()
