"""Clients that behave as a careful user's would under faults: an ingester that retries
what was not acknowledged, and a live-stream follower that reconnects and resumes."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import websockets

from tests.scale.streams import T0


async def until(condition: Callable[[], bool], within: float = 60.0, what: str = "") -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)


class Ingester:
    """Posts batches of ``batch`` readings of ``site`` (each with a time of its own) to
    ``url`` until stopped; a batch not acknowledged is sent again. ``acked`` holds the
    reading times (seconds) of every acknowledged batch."""

    def __init__(self, url: str, site: str, *, base: int = 0, batch: int = 1) -> None:
        self.url, self.site, self.base, self.batch = url, site, base, batch
        self.acked: set[int] = set()
        self.statuses: Counter[int | str] = Counter()
        self.retry_after: list[str | None] = []
        self.stopping = False
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Ingester:
        self.task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        self.stopping = True
        if self.task is not None:
            await self.task

    async def _run(self) -> None:
        k = 0
        async with httpx.AsyncClient(timeout=60) as client:
            while not self.stopping:
                times = [T0 + self.base + k * self.batch + j for j in range(self.batch)]
                body = {"readings": [{"site": self.site, "variable": "wind_kmh", "time": t,
                                      "value": float(t - T0)} for t in times]}
                try:
                    r = await client.post(f"{self.url}/api/v1/readings", json=body)
                except httpx.HTTPError as err:
                    self.statuses[type(err).__name__] += 1
                    await asyncio.sleep(0.1)  # the client's backoff
                    continue
                self.statuses[r.status_code] += 1
                if r.status_code == 200:
                    assert r.json()["accepted"] == len(times), r.text
                    self.acked.update(times)
                    k += 1
                elif r.status_code in (429, 503):
                    retry = r.headers.get("retry-after")
                    self.retry_after.append(retry)
                    await asyncio.sleep(min(float(retry or 1), 0.5))  # the client's backoff
                else:
                    raise AssertionError(f"{r.status_code}: {r.text}")


class Follower:
    """Follows one channel over WebSocket; on a close or an error it reconnects (to the
    next URL) and resumes with ``since``. ``seqs`` are the seqs received, in order;
    ``times`` the reading times (seconds, as :class:`Ingester` sends them) they carried,
    ``repeated`` those received more than once; ``gaps`` the ``history_gap`` events."""

    def __init__(self, urls: list[str], channel: str) -> None:
        self.urls, self.channel = urls, channel
        self.seqs: list[int] = []
        self.times: set[int] = set()
        self.repeated: set[int] = set()
        self.gaps: list[dict[str, Any]] = []
        self.last: int | None = None
        self.connects = 0
        self.errors: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Follower:
        self.task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        attempt = 0
        while True:
            url = self.urls[attempt % len(self.urls)]
            try:
                await self._follow(url)
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake,
                    TimeoutError):
                pass
            attempt += 1
            await asyncio.sleep(0.1)  # the client's backoff

    async def _follow(self, url: str) -> None:
        async with websockets.connect(url, open_timeout=5, max_size=None) as ws:
            message: dict[str, Any] = {"op": "subscribe", "channels": [self.channel]}
            if self.last is not None:
                message["since"] = {self.channel: self.last}
            await ws.send(json.dumps(message))
            self.connects += 1
            async for raw in ws:
                frame = json.loads(raw)
                op = frame.get("op")
                if op == "subscribed":
                    if self.last is None:
                        self.last = frame["seq"][self.channel]
                elif op == "error":
                    self.errors.append(frame)
                    return  # (unavailable: the bus is away) reconnect and resume
                elif frame.get("channel") == self.channel:
                    self.seqs.append(frame["seq"])
                    self.last = frame["seq"]
                    if frame["data"]["type"] == "history_gap":
                        self.gaps.append(frame["data"])
                        continue
                    for r in frame["data"]["readings"]:
                        t = T0 + int(r["value"])
                        if t in self.times:
                            self.repeated.add(t)
                        self.times.add(t)

    def check_complete(self, last: int) -> None:
        """Every seq from the first received to ``last``, each once, in order."""
        assert self.seqs, "nothing received"
        assert self.seqs == list(range(self.seqs[0], last + 1)), (
            f"gaps or repeats: {_summary(self.seqs)} (last {last})")


def _summary(seqs: list[int]) -> str:
    gaps = [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
    return f"{len(seqs)} seqs from {seqs[0]} to {seqs[-1]}; breaks {gaps[:10]}"


async def last_seq(ws_url: str, channel: str) -> int:
    """The channel's latest seq, from a subscribe acknowledgement."""
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": [channel]}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 20))
        return int(ack["seq"][channel])


def stored_times(database: str, site: str) -> set[int]:
    """Reading times (seconds) stored for ``site``, read from PostgreSQL directly."""
    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT r.time FROM riskcast.readings r JOIN riskcast.series s "
            "ON s.id = r.series WHERE s.site = %s", (site,)).fetchall()
    return {int(row[0]) // 1_000_000 for row in rows}
