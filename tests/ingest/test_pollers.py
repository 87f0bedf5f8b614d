"""Polled JSON sources against a real local HTTP server: mapping, the USGS preset, and the
coordinator's timeout, backoff and error reporting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from riskcast.core.readings import ReadingIn
from riskcast.exceptions import ConfigError
from riskcast.ingest.coordinator import PollCoordinator
from riskcast.ingest.pollers import JsonMapping, JsonPoller, usgs_iv_readings
from riskcast.pipeline import Pipeline

pytestmark = pytest.mark.anyio

USGS_DOC = {"value": {"timeSeries": [
    {"sourceInfo": {"siteCode": [{"value": "01646500"}]},
     "variable": {"variableCode": [{"value": "00300"}], "noDataValue": -999999.0},
     "values": [{"value": [{"value": "9.1", "dateTime": "2026-07-01T08:00:00.000-04:00"},
                           {"value": "-999999", "dateTime": "2026-07-01T08:15:00.000-04:00"},
                           {"value": "9.3", "dateTime": "2026-07-01T08:30:00.000-04:00"}]}]},
    {"sourceInfo": {"siteCode": [{"value": "01646500"}]},
     "variable": {"variableCode": [{"value": "99999"}], "noDataValue": -999999.0},
     "values": [{"value": [{"value": "1", "dateTime": "2026-07-01T08:00:00.000-04:00"}]}]},
]}}


class Agency:
    """A real HTTP server on a free port whose answers the test scripts."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes, float]] = []
        self.requests = 0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    return
                self.requests += 1
                status, body, delay = self.answers.pop(0) if self.answers else (200, b"[]", 0)
                if delay:
                    await asyncio.sleep(delay)  # the agency is slow: this is what is tested
                writer.write(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n\r\n%s" % (status, len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def __aenter__(self) -> Agency:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/data"


@pytest.fixture
async def agency() -> AsyncIterator[Agency]:
    async with Agency() as a:
        yield a


def test_usgs_preset_maps_codes_and_skips_missing_values() -> None:
    items = usgs_iv_readings(USGS_DOC)
    assert [(i.site, i.variable, i.value) for i in items] == [
        ("usgs-01646500", "do_mgl", 9.1), ("usgs-01646500", "do_mgl", 9.3)]
    assert items[0].time is not None and items[0].time.isoformat() == "2026-07-01T12:00:00+00:00"


def test_mapping_refuses_unreadable_records_alone() -> None:
    mapping = JsonMapping(items="results", site="location", variable="parameter",
                          value="value", time="date.utc")
    doc = {"results": [
        {"location": "s1", "parameter": "temp_c", "value": 21.5,
         "date": {"utc": "2026-07-01T12:00:00Z"}},
        {"location": "s1", "parameter": "temp_c", "value": "warm",
         "date": {"utc": "2026-07-01T13:00:00Z"}},
        {"location": "s1", "parameter": "temp_c", "date": {"utc": "2026-07-01T14:00:00Z"}},
    ]}
    items, refused = mapping.readings(doc)
    assert [i.value for i in items] == [21.5]
    assert len(refused) == 2 and "record 2: no 'value'" in refused[1]


def test_config_errors_name_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="url"):
        JsonPoller.from_config({"name": "x"})
    with pytest.raises(ConfigError, match="unknown preset"):
        JsonPoller.from_config({"name": "x", "url": "http://h", "preset": "nope"})
    with pytest.raises(ConfigError, match="unknown keys"):
        JsonPoller.from_config({"name": "x", "url": "http://h", "preset": "usgs-iv", "every": 1})
    with pytest.raises(ConfigError, match="site"):
        JsonMapping(variable="a", value="b")


async def test_poll_stores_readings_through_the_pipeline(agency: Agency,
                                                         pipeline: Pipeline) -> None:
    body = json.dumps([{"id": "s1", "t": 1_782_907_200, "temp": 20.5, "rh": 40},
                       {"id": "s2", "t": 1_782_907_200, "temp": 19.0, "rh": 45}]).encode()
    agency.answers.append((200, body, 0))
    poller = JsonPoller("agency", agency.url, interval=60, timeout=5, mapping=JsonMapping(
        site="id", time="t", variables={"temp_c": "temp", "rh_pct": "rh"}))
    coordinator = PollCoordinator([poller], pipeline.ingest)
    async with httpx.AsyncClient() as client:
        delay = await coordinator.poll_once(poller, client)
    assert 0 < delay <= 60
    points = await pipeline.storage.read_series("s2", "rh_pct", 0, 2**62, limit=10)
    assert [(p.value, p.source) for p in points] == [(45.0, "poller:agency")]
    assert coordinator.stats()["agency"]["readings"] == 4


async def test_failures_back_off_and_a_success_resets(agency: Agency) -> None:
    got: list[ReadingIn | None] = []

    async def ingest(items: Sequence[ReadingIn | None], source: str) -> Any:
        got.extend(items)
        return None

    agency.answers += [(500, b"{}", 0), (200, b"not json", 0), (200, b"[]", 0.5),
                       (200, json.dumps([{"id": "s1", "v": 1}]).encode(), 0)]
    poller = JsonPoller("flaky", agency.url, interval=10, timeout=0.2,
                        mapping=JsonMapping(site="id", variables={"temp_c": "v"}))
    coordinator = PollCoordinator([poller], ingest, max_backoff=60)
    async with httpx.AsyncClient() as client:
        delays = [await coordinator.poll_once(poller, client) for _ in range(4)]
    state = coordinator.stats()["flaky"]
    # 20, 40, then 60 (capped), each ±20 %; then a success resets to the interval.
    assert 16 <= delays[0] <= 24 and 32 <= delays[1] <= 48 and 48 <= delays[2] <= 72
    assert delays[3] <= 10
    assert state["failures"] == 3 and state["consecutive_failures"] == 0
    assert "timed out" in (state["last_error"] or "")
    assert len(got) == 1 and agency.requests == 4
