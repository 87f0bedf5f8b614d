"""Client helpers of the scale-out tests: ingest through HTTP, read a WebSocket stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

T0 = 1_700_000_000


def reading(site: str, k: int, value: float | None = None) -> dict[str, Any]:
    return {"site": site, "variable": "wind_kmh", "time": T0 + k,
            "value": float(k) if value is None else value}


async def post_readings(client: httpx.AsyncClient, url: str,
                        items: list[dict[str, Any]]) -> httpx.Response:
    return await client.post(f"{url}/api/v1/readings", json={"readings": items})


class Stream:
    """A WebSocket subscriber that remembers the last seq per channel, to resume."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.last: dict[str, int] = {}
        self.ws: Any = None

    async def connect(self, ws_url: str, channels: list[str], *,
                      resume: bool = False) -> dict[str, Any]:
        self.ws = await websockets.connect(ws_url, max_size=None)
        message: dict[str, Any] = {"op": "subscribe", "channels": channels}
        if resume:
            message["since"] = {c: self.last[c] for c in channels if c in self.last}
        await self.ws.send(json.dumps(message))
        ack: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
        assert ack["op"] == "subscribed", ack
        for channel, seq in ack["seq"].items():
            self.last.setdefault(channel, seq)
        return ack

    async def read(self, count: int, within: float = 30.0) -> list[dict[str, Any]]:
        """The next ``count`` events (errors frames fail the test)."""
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(within):
            while len(got) < count:
                frame = json.loads(await self.ws.recv())
                assert "op" not in frame, frame
                got.append(frame)
                self.events.append(frame)
                self.last[frame["channel"]] = frame["seq"]
        return got

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None


def values(events: list[dict[str, Any]]) -> list[float]:
    return [r["value"] for e in events for r in e["data"]["readings"]]
