"""MQTT against real Mosquitto: topics and payloads, malformed messages, acknowledgement after
commit, and no QoS 1 message lost across a broker restart."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from riskcast.core.readings import ReadingIn
from riskcast.exceptions import StorageError
from riskcast.ingest.mqtt import Malformed, MqttSource, parse
from riskcast.pipeline import Pipeline
from tests.ingest.conftest import Broker

T0 = 1_782_907_200


def publish(host: str, port: int, messages: Sequence[tuple[str, bytes]], qos: int = 1) -> None:
    """Publish with paho and wait until the broker has every message."""
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex}")
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


async def stored(p: Pipeline, site: str, variable: str) -> list[float]:
    return [pt.value for pt in await p.storage.read_series(site, variable, 0, 2**62,
                                                           limit=100_000)]




async def connected(source: MqttSource, task: asyncio.Task[None]) -> None:
    """Wait until the source has subscribed; if its task dies first, raise why."""
    waiter = asyncio.ensure_future(source.connected.wait())
    done, _ = await asyncio.wait({waiter, task}, timeout=10,
                                 return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
        raise AssertionError("the MQTT source stopped before subscribing")
    if waiter not in done:
        waiter.cancel()
        raise AssertionError("the MQTT source did not subscribe within 10 s")


class Counting:
    """Wraps pipeline.ingest; sets an event once ``target`` readings were accepted."""

    def __init__(self, pipeline: Pipeline, target: int) -> None:
        self.pipeline = pipeline
        self.target = target
        self.accepted = 0
        self.done = asyncio.Event()
        self.fail_first = 0

    async def __call__(self, items: Sequence[ReadingIn | None], source: str) -> Any:
        if self.fail_first:
            self.fail_first -= 1
            raise StorageError("database is restarting")
        result = await self.pipeline.ingest(items, source)
        self.accepted += result.accepted
        if self.accepted >= self.target:
            self.done.set()
        return result


def test_parse_reads_a_batch_of_objects() -> None:
    site, items, _ = parse("riskcast/s1", json.dumps(
        [{"time": T0, "temp_c": 1.0}, {"time": T0 + 60, "temp_c": 2.0, "rh_pct": 50}]).encode(),
        "riskcast")
    assert site == "s1"
    assert [(i.variable, i.value, i.time) for i in items] == [
        ("temp_c", 1.0, T0), ("temp_c", 2.0, T0 + 60), ("rh_pct", 50.0, T0 + 60)]
    with pytest.raises(Malformed):
        parse("riskcast/s1", b"[1, 2]", "riskcast")


def test_parse_refuses_bad_payloads() -> None:
    for topic, payload in [("riskcast/s1/temp_c", b"warm"), ("riskcast/s1/temp_c", b"nan"),
                           ("riskcast/s1", b"{not json"), ("riskcast/s1", b'"text"'),
                           ("riskcast/s1", b'{"temp_c": "hot"}'), ("other/s1", b"1"),
                           ("riskcast/s1/a/b", b"1"), ("riskcast//x", b"1"),
                           ("riskcast/s1", b'{"time": "yesterday", "temp_c": 1}')]:
        with pytest.raises(Malformed):
            parse(topic, payload, "riskcast")


@pytest.mark.anyio
async def test_readings_arrive_and_bad_messages_do_not_stop_the_subscriber(
        mosquitto: tuple[str, int], pipeline: Pipeline) -> None:
    host, port = mosquitto
    counting = Counting(pipeline, 4)
    source = MqttSource(f"mqtt://{host}:{port}", counting, prefix=f"t{uuid.uuid4().hex[:8]}",
                        client_id=f"riskcast-test-{uuid.uuid4().hex}")
    task = asyncio.create_task(source.run())
    try:
        await connected(source, task)
        p = source.prefix
        messages = [
            (f"{p}/s1/temp_c", b"21.5"),
            (f"{p}/s1/temp_c", b"not a number"),
            (f"{p}/s2", json.dumps({"time": T0, "temp_c": 18.0, "rh_pct": 55,
                                    "battery": 3.61, "rssi": -71}).encode()),
            (f"{p}/s2", b"{broken"),
            (f"{p}/ghost/temp_c", b"1"),
            (f"{p}/s1/rh_pct", b"40"),
        ]
        await asyncio.to_thread(publish, host, port, messages)
        await asyncio.wait_for(counting.done.wait(), 20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await stored(pipeline, "s1", "temp_c") == [21.5]
    assert await stored(pipeline, "s2", "rh_pct") == [55.0]
    assert source.malformed == 2 and source.rejected == 1  # the unknown site
    health = source.sensors()["s2"]
    assert health["battery"] == 3.61 and health["signal"] == -71
    assert health["messages"] == 1 and health["malformed"] == 1


@pytest.mark.anyio
async def test_storage_failure_is_retried_before_acknowledging(
        mosquitto: tuple[str, int], pipeline: Pipeline) -> None:
    host, port = mosquitto
    counting = Counting(pipeline, 1)
    counting.fail_first = 2
    source = MqttSource(f"mqtt://{host}:{port}", counting, prefix=f"t{uuid.uuid4().hex[:8]}",
                        client_id=f"riskcast-test-{uuid.uuid4().hex}")
    task = asyncio.create_task(source.run())
    try:
        await connected(source, task)
        await asyncio.to_thread(publish, host, port, [(f"{source.prefix}/s1/temp_c", b"3")])
        await asyncio.wait_for(counting.done.wait(), 20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await stored(pipeline, "s1", "temp_c") == [3.0]


@pytest.mark.anyio
async def test_no_qos1_message_lost_across_a_crash_and_a_broker_restart(
        own_broker: Broker, pipeline: Pipeline) -> None:
    url = f"mqtt://127.0.0.1:{own_broker.port}"
    client_id = f"riskcast-test-{uuid.uuid4().hex}"

    async def never_commits(items: Sequence[ReadingIn | None], source: str) -> Any:
        await asyncio.Event().wait()  # the process "crashes" before committing

    # First run: subscribed (the session exists), receives messages, crashes before commit.
    crashed = MqttSource(url, never_commits, client_id=client_id)
    task = asyncio.create_task(crashed.run())
    await connected(crashed, task)
    first = [("riskcast/s1", json.dumps({"time": T0 + i, "temp_c": float(i)}).encode())
             for i in range(200)]
    await asyncio.to_thread(publish, "127.0.0.1", own_broker.port, first)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # While riskcast is away, more messages; then the broker restarts.
    second = [("riskcast/s1", json.dumps({"time": T0 + i, "temp_c": float(i)}).encode())
              for i in range(200, 500)]
    await asyncio.to_thread(publish, "127.0.0.1", own_broker.port, second)
    own_broker.stop()
    own_broker.start()
    counting = Counting(pipeline, 500)
    source = MqttSource(url, counting, client_id=client_id)
    task = asyncio.create_task(source.run())
    try:
        await asyncio.wait_for(counting.done.wait(), 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    values = await stored(pipeline, "s1", "temp_c")
    assert values == [float(i) for i in range(500)]


@pytest.mark.anyio
async def test_messages_of_one_series_arriving_together_are_all_stored(
        own_broker: Broker, pipeline: Pipeline) -> None:
    # A burst on one topic lands in one batch: each message keeps its own arrival time
    # (one microsecond apart at least), none is stored over another.
    url = f"mqtt://127.0.0.1:{own_broker.port}"
    counting = Counting(pipeline, 300)
    source = MqttSource(url, counting, client_id=f"riskcast-test-{uuid.uuid4().hex}")
    task = asyncio.create_task(source.run())
    try:
        await connected(source, task)
        burst = [("riskcast/s1/temp_c", str(float(i)).encode()) for i in range(300)]
        await asyncio.to_thread(publish, "127.0.0.1", own_broker.port, burst, 0)
        await asyncio.wait_for(counting.done.wait(), 20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    points = await pipeline.storage.read_series("s1", "temp_c", 0, 2**62, limit=1000)
    assert [p.value for p in points] == [float(i) for i in range(300)]
    assert source.sensors()["s1"]["messages"] == 300


@pytest.mark.anyio
async def test_reading_pauses_while_commits_lag_and_nothing_is_lost(
        own_broker: Broker, pipeline: Pipeline) -> None:
    # Commits are held back: the source stops reading once max_buffered messages wait (the
    # broker keeps the rest), and resumes when the commits go through.
    release = asyncio.Event()
    counting = Counting(pipeline, 2_000)

    async def slow(items: Sequence[ReadingIn | None], source: str) -> Any:
        await release.wait()
        return await counting(items, source)

    source = MqttSource(f"mqtt://127.0.0.1:{own_broker.port}", slow,
                        client_id=f"riskcast-test-{uuid.uuid4().hex}", batch_max=100,
                        max_in_flight=2, max_buffered=300)
    task = asyncio.create_task(source.run())
    try:
        await connected(source, task)
        messages = [("riskcast/s2", json.dumps({"time": T0 + i, "temp_c": float(i)}).encode())
                    for i in range(2_000)]
        await asyncio.to_thread(publish, "127.0.0.1", own_broker.port, messages)
        await asyncio.wait_for(source.paused.wait(), 20)
        # At most two batches in flight, max_buffered waiting, and one more message read.
        assert source.stats()["buffered"] <= 300
        assert source.messages <= 2 * 100
        release.set()
        await asyncio.wait_for(counting.done.wait(), 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await stored(pipeline, "s2", "temp_c") == [float(i) for i in range(2_000)]
    assert source.pauses >= 1 and not source.paused.is_set()


@pytest.mark.anyio
async def test_subscriber_reconnects_after_a_broker_restart(
        own_broker: Broker, pipeline: Pipeline) -> None:
    counting = Counting(pipeline, 2)
    source = MqttSource(f"mqtt://127.0.0.1:{own_broker.port}", counting,
                        client_id=f"riskcast-test-{uuid.uuid4().hex}", max_backoff=1.0)
    task = asyncio.create_task(source.run())
    try:
        await connected(source, task)
        # With a time, so a message the broker sends again after its restart is stored once.
        await asyncio.to_thread(publish, "127.0.0.1", own_broker.port,
                                [("riskcast/s1", b'{"time": %d, "temp_c": 1}' % T0)])
        own_broker.stop()
        own_broker.start()
        # Published while the subscriber may still be away: its session keeps it.
        await asyncio.to_thread(publish, "127.0.0.1", own_broker.port,
                                [("riskcast/s1", b'{"time": %d, "rh_pct": 40}' % T0)])
        await asyncio.wait_for(counting.done.wait(), 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await stored(pipeline, "s1", "temp_c") == [1.0]
    assert await stored(pipeline, "s1", "rh_pct") == [40.0]
    assert source.reconnects >= 1
