"""Alerts with several processes: evaluated once (the lease holder), readable and
acknowledgeable through any process, and taken over when the holder dies."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.scale.receiver import Receiver, webhook_receiver
from tests.scale.servers import ServeProcess
from tests.scale.services import Daemon
from tests.scale.streams import T0


def lease_holder(database: str) -> int | None:
    """The OS pid of the process holding the alerts lease (from pg_stat_activity)."""
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND a.application_name LIKE 'riskcast-lease:%%:riskcast.alerts'").fetchone()
    return int(row[0].split(":")[1]) if row else None


def wait_for(condition: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


def post(url: str, value: float, k: int) -> None:
    r = httpx.post(f"{url}/api/v1/readings", json={"readings": [
        {"site": "g1", "variable": "wind_kmh", "time": T0 + k, "value": value}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def alert_counts(url: str) -> tuple[str, int]:
    """The process's role and its count of firing alerts in /api/v1/system."""
    stats = httpx.get(f"{url}/api/v1/system").json()["alerts"]
    return stats["role"], stats["alerts"]["firing"]


def alert_of(url: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/api/v1/alerts/windy:g1")
    return r.json() if r.status_code == 200 else {}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
def pair(tmp_path: Path, database: str, redis_server: Daemon
         ) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    bus = f"redis://127.0.0.1:{redis_server.port}/0"
    a = ServeProcess(tmp_path, storage=database, bus=bus, name="a")
    b = ServeProcess(tmp_path, storage=database, bus=bus, name="b")
    try:
        a.start()
        wait_for(lambda: lease_holder(database) == a.pid)  # the first one wins it
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_alerts_fire_once_and_fail_over_when_the_holder_dies(
        pair: tuple[ServeProcess, ServeProcess], receiver: Receiver, database: str) -> None:
    holder, other = pair
    httpx.post(f"{other.url}/api/v1/sites", json={"id": "g1"}).raise_for_status()
    # The rule is made through the process without the lease: the holder reloads at once.
    rule = {"id": "windy", "condition": {"kind": "threshold", "series": "wind_kmh",
                                         "above": 50}, "selector": {"sites": ["g1"]},
            "routes": [{"type": "webhook", "url": receiver.url}]}
    httpx.post(f"{other.url}/api/v1/rules", json=rule).raise_for_status()

    # Fire through the process without the lease; every process sees one alert.
    def fire_and_resolve(k: int, ingest: str, episode: int) -> None:
        post(ingest, 20.0, k)  # below: nothing yet (also gives the holder the new rule)
        wait_for(lambda: alert_of(ingest) == {} or alert_of(ingest)["state"] == "resolved")
        post(ingest, 60.0, k + 1)
        receiver.wait(lambda: len(receiver.events("firing")) == episode)
        for process in (holder, other):
            if process.proc is not None:
                alert = alert_of(process.url)
                assert (alert["state"], alert["episodes"]) == ("firing", episode)
        if holder.proc is not None:  # the follower counts alerts from the shared store
            wait_for(lambda: alert_counts(other.url) == ("follower", 1))
            assert alert_counts(holder.url) == ("leader", 1)
        post(ingest, 70.0, k + 2)  # still above: no new notification
        # Acknowledged through the process that does not hold the lease.
        r = httpx.post(f"{ingest}/api/v1/alerts/windy:g1/ack", json={"by": "ann"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "acknowledged"
        post(ingest, 10.0, k + 3)
        receiver.wait(lambda: len(receiver.events("resolved")) == episode)

    fire_and_resolve(0, other.url, 1)
    assert len(receiver.events("firing")) == 1 and len(receiver.bodies) == 2
    transitions = alert_of(other.url)["transitions"]
    assert [t["to"] for t in transitions] == ["firing", "acknowledged", "resolved"]

    # SIGKILL the holder: the other takes the lease over and the next alert fires once.
    holder.kill()
    wait_for(lambda: lease_holder(database) == other.pid)
    fire_and_resolve(10, other.url, 2)
    assert len(receiver.events("firing")) == 2 and len(receiver.events("resolved")) == 2
    assert len(receiver.bodies) == 4 and len(set(receiver.keys)) == 4
    assert "Traceback" not in other.log_text()
