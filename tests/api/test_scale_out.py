"""Two riskcast servers on one PostgreSQL and one Redis: what is ingested through one is
stored for both and reaches a WebSocket subscriber of the other, in order."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from riskcast.bus.redis import RedisBus
from riskcast.settings import Settings
from riskcast.storage.postgres import PostgresStorage
from riskcast.testing.server import LiveServer
from tests.bus.test_redis import URL as REDIS_URL
from tests.conftest import require_service
from tests.storage.test_postgres import URL as POSTGRES_URL
from tests.storage.test_postgres import schema  # noqa: F401  (fixture)


@pytest.fixture
def prefix() -> Iterator[str]:
    """A fresh Redis key prefix, its keys deleted afterwards."""
    import redis

    require_service("Redis", "127.0.0.1", 6379)
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{name}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def two_servers(tmp_path: Path, schema: str, prefix: str  # noqa: F811
                ) -> Iterator[tuple[LiveServer, LiveServer]]:
    settings = Settings(data_dir=tmp_path, storage=POSTGRES_URL, bus=REDIS_URL, retention="0",
                        auth=False)
    servers = []
    try:
        for _ in range(2):
            server = LiveServer(settings, storage=PostgresStorage(POSTGRES_URL, schema=schema),
                                bus=RedisBus(REDIS_URL, prefix=prefix))
            servers.append(server.start())
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def test_ingest_on_one_reaches_a_subscriber_of_the_other(
        two_servers: tuple[LiveServer, LiveServer]) -> None:
    a, b = two_servers
    httpx.post(f"{a.url}/api/v1/sites", json={"id": "shared"}).raise_for_status()

    async def scenario() -> list[dict[str, object]]:
        async with websockets.connect(b.ws_url) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channels": ["site.shared"]}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ack["op"] == "subscribed"
            async with httpx.AsyncClient() as client:
                for k in range(3):
                    body = {"readings": [{"site": "shared", "variable": "wind_kmh",
                                          "value": float(k), "time": 1_700_000_000 + k}]}
                    r = await client.post(f"{a.url}/api/v1/readings", json=body)
                    assert r.json()["accepted"] == 1
            return [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(3)]

    events = asyncio.run(scenario())
    assert [e["data"]["readings"][0]["value"] for e in events] == [0.0, 1.0, 2.0]  # type: ignore[index]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    points = httpx.get(f"{b.url}/api/v1/sites/shared/series/wind_kmh",
                       params={"from": "2023-01-01T00:00:00Z"}).json()["points"]
    assert [p["value"] for p in points] == [0.0, 1.0, 2.0]
