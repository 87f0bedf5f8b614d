"""Overload: past the pending bound the API answers 503 with Retry-After, memory stays bounded,
and every acknowledged reading is stored."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Sequence
from pathlib import Path

import httpx

from riskcast.settings import Settings
from riskcast.storage.sqlite import SqliteStorage
from riskcast.testing.server import live_server
from riskcast.types import ReadingRow


class HeldSqliteStorage(SqliteStorage):
    """Real SQLite whose commits wait until the test opens the gate."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, synchronous="normal")
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.largest_write = 0

    async def write_readings(self, rows: Sequence[ReadingRow]) -> None:
        self.entered.set()
        self.largest_write = max(self.largest_write, len(rows))
        await asyncio.to_thread(self.gate.wait, 30)
        await super().write_readings(rows)


def body(k: int) -> dict[str, object]:
    return {"readings": [{"site": "s1", "variable": "temp_c", "value": 1.0,
                          "time": 1_600_000_000 + k * 1000 + i} for i in range(1000)]}


def test_burst_past_the_bound_gets_503_and_loses_nothing(tmp_path: Path) -> None:
    storage = HeldSqliteStorage(tmp_path / "held.db")
    settings = Settings(data_dir=tmp_path, max_pending_readings=2500, retention="0")
    with live_server(settings, storage=storage) as srv:
        url = f"{srv.url}/api/v1/readings"
        httpx.post(f"{srv.url}/api/v1/sites", json={"id": "s1"}).raise_for_status()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            first = pool.submit(httpx.post, url, json=body(0), timeout=60)
            assert storage.entered.wait(30)  # 1,000 readings now pending in a held commit
            burst = [pool.submit(httpx.post, url, json=body(k), timeout=60) for k in range(1, 6)]
            refused = []
            for done in concurrent.futures.as_completed(burst, timeout=30):
                refused.append(done.result())
                if len(refused) == 4:
                    break
            storage.gate.set()
            answers = [first.result(), *(f.result() for f in burst)]
        ok = [r for r in answers if r.status_code == 200]
        busy = [r for r in answers if r.status_code == 503]
        assert len(ok) == 2 and len(busy) == 4
        assert all(r.headers["retry-after"].isdigit() for r in busy)
        assert all(r.headers["content-type"] == "application/problem+json" for r in busy)
        assert storage.largest_write <= 2500
        stored = srv.call(storage.read_series("s1", "temp_c", 0, 2**62, limit=10_000))
        acknowledged = sum(r.json()["accepted"] for r in ok)
        assert len(stored) == acknowledged == 2000
