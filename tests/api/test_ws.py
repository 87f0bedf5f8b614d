"""``/ws`` end to end over a real uvicorn, with the fast protocol and with the fallback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from riskcast.exceptions import BusError
from tests.api.conftest import StreamServer, serve

pytestmark = pytest.mark.anyio


async def recv(client: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(client.recv(), 5)
    result: dict[str, Any] = json.loads(message)
    return result


async def request(client: ClientConnection, **message: Any) -> dict[str, Any]:
    await client.send(json.dumps(message))
    return await recv(client)


async def events(client: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await recv(client) for _ in range(count)]


async def test_ws_subscribe_receives_events_in_order(hub_server: StreamServer) -> None:
    async with connect(hub_server.ws_url) as client:
        ack = await request(client, op="subscribe", channels=["site.s1", "alerts"])
        assert ack == {"op": "subscribed", "channels": ["site.s1", "alerts"],
                       "seq": {"site.s1": 0, "alerts": 0}}
        published = [await hub_server.bus.publish("site.s1", {"i": i}) for i in range(20)]
        published.append(await hub_server.bus.publish("alerts", {"level": "high"}))
        got = await events(client, 21)
        assert got == [json.loads(e.to_json()) for e in published]


async def test_ws_ack_carries_the_current_seq(hub_server: StreamServer) -> None:
    for i in range(3):
        await hub_server.bus.publish("site.s1", i)
    async with connect(hub_server.ws_url) as client:
        ack = await request(client, op="subscribe", channels=["site.s1"], id="a1")
        assert ack == {"op": "subscribed", "channels": ["site.s1"], "seq": {"site.s1": 3},
                       "id": "a1"}
        await hub_server.bus.publish("site.s1", 3)
        assert (await recv(client))["seq"] == 4


async def test_ws_unsubscribe_stops_events(hub_server: StreamServer) -> None:
    async with connect(hub_server.ws_url) as client:
        await request(client, op="subscribe", channels=["site.s1", "alerts"])
        ack = await request(client, op="unsubscribe", channels=["alerts", "site.s9"])
        assert ack == {"op": "unsubscribed", "channels": ["alerts"]}
        await hub_server.bus.publish("alerts", 1)
        await hub_server.bus.publish("site.s1", 2)
        assert (await recv(client))["channel"] == "site.s1"


async def test_ws_ping_answers_pong(hub_server: StreamServer) -> None:
    async with connect(hub_server.ws_url) as client:
        assert await request(client, op="ping") == {"op": "pong"}
        assert await request(client, op="ping", id=7) == {"op": "pong", "id": 7}


ERRORS = [
    pytest.param("{not json", "bad_json", None, id="malformed-json"),
    pytest.param(b"\xff\xfe", "bad_json", None, id="binary-garbage"),
    pytest.param("[1, 2]", "bad_request", "op", id="not-an-object"),
    pytest.param('{"channels": []}', "bad_request", "op", id="missing-op"),
    pytest.param('{"op": 5}', "bad_request", "op", id="op-not-text"),
    pytest.param('{"op": "dance"}', "unknown_op", "op", id="unknown-op"),
    pytest.param('{"op": "subscribe", "channels": "site.s1"}', "bad_request", "channels",
                 id="channels-not-a-list"),
    pytest.param('{"op": "subscribe"}', "bad_request", "channels", id="channels-missing"),
    pytest.param('{"op": "subscribe", "channels": [1]}', "bad_request", "channels",
                 id="channel-not-text"),
    pytest.param('{"op": "subscribe", "channels": ["a"], "since": {"a": -1}}', "bad_request",
                 "since", id="since-negative"),
    pytest.param('{"op": "subscribe", "channels": ["a"], "since": {"a": "4"}}',
                 "bad_request", "since", id="since-not-int"),
    pytest.param('{"op": "subscribe", "channels": ["a"], "since": {"b": 4}}', "bad_request",
                 "since", id="since-unknown-channel"),
    pytest.param('{"op": "subscribe", "channels": ["a"], "since": [1]}', "bad_request",
                 "since", id="since-not-object"),
    pytest.param('{"op": "unsubscribe", "channels": null}', "bad_request", "channels",
                 id="unsubscribe-null"),
    pytest.param('{"op": "subscribe", "channels": ["x"], "pad": "' + "x" * 70_000 + '"}',
                 "too_large", None, id="oversized"),
]


@pytest.mark.parametrize(("message", "code", "field"), ERRORS)
async def test_ws_bad_message_gets_error_frame_and_connection_stays_usable(
        hub_server: StreamServer, message: str | bytes, code: str, field: str | None) -> None:
    async with connect(hub_server.ws_url) as client:
        await client.send(message)
        error = await recv(client)
        assert error["op"] == "error"
        assert error["code"] == code
        assert error["message"]
        assert error.get("field") == field
        assert await request(client, op="ping") == {"op": "pong"}


async def test_ws_bad_channel_names_are_refused_and_the_rest_subscribed(
        hub_server: StreamServer) -> None:
    async with connect(hub_server.ws_url) as client:
        await client.send(json.dumps({"op": "subscribe", "id": 3,
                                      "channels": ["site.s1", "bad name", "", "x..y"]}))
        ack, error = await recv(client), await recv(client)
        assert ack == {"op": "subscribed", "channels": ["site.s1"], "seq": {"site.s1": 0},
                       "id": 3}
        assert error["code"] == "bad_channel"
        assert error["channels"] == ["bad name", "", "x..y"]
        assert error["field"] == "channels" and error["id"] == 3


async def test_ws_too_many_channels_is_refused(hub_server: StreamServer) -> None:
    async with connect(hub_server.ws_url) as client:
        error = await request(client, op="subscribe",
                              channels=[f"site.s{i}" for i in range(300)])
        assert error["code"] == "too_many_channels"
        assert error["limit"] == 256


async def test_ws_forbidden_channels_get_error_frame() -> None:
    async with (serve(authorize=lambda ch: not ch.startswith("private")) as server,
                connect(server.ws_url) as client):
        await client.send(json.dumps({"op": "subscribe", "channels": ["alerts", "private.x"]}))
        assert (await recv(client))["channels"] == ["alerts"]
        error = await recv(client)
        assert error["code"] == "forbidden" and error["channels"] == ["private.x"]


async def test_ws_resume_with_since_gets_exactly_the_missed_events(
        hub_server: StreamServer) -> None:
    total = 200

    async def publisher() -> None:
        for i in range(total):
            await hub_server.bus.publish("site.s1", {"i": i})
            await asyncio.sleep(0)  # a yield so clients run between publishes

    async with connect(hub_server.ws_url, max_queue=None) as first:  # reads on while we don't
        await request(first, op="subscribe", channels=["site.s1"])
        task = asyncio.create_task(publisher())
        seen = [e["seq"] for e in await events(first, 50)]
        # "first" disconnects after 50 events; a new connection resumes from there,
        # while the publisher keeps going.
    async with connect(hub_server.ws_url) as second:
        ack = await request(second, op="subscribe", channels=["site.s1"],
                            since={"site.s1": seen[-1]})
        assert ack["op"] == "subscribed"
        rest = [e["seq"] for e in await events(second, total - 50)]
        await task
    assert seen + rest == list(range(1, total + 1))


async def test_ws_history_gap_is_reported_then_retained_history_and_live() -> None:
    async with serve(history_size=5) as server, connect(server.ws_url) as client:
        for i in range(10):
            await server.bus.publish("site.s1", i)
        await client.send(json.dumps({"op": "subscribe", "channels": ["site.s1"],
                                      "since": {"site.s1": 2}}))
        ack, gap = await recv(client), await recv(client)
        assert ack["seq"] == {"site.s1": 10}
        assert gap["op"] == "error" and gap["code"] == "history_gap"
        assert (gap["channel"], gap["since"], gap["oldest"]) == ("site.s1", 2, 6)
        assert [e["seq"] for e in await events(client, 5)] == [6, 7, 8, 9, 10]
        await server.bus.publish("site.s1", "live")
        assert (await recv(client))["seq"] == 11


async def test_ws_since_beyond_last_seq_is_reported_as_gap(hub_server: StreamServer) -> None:
    await hub_server.bus.publish("site.s1", "after restart")
    async with connect(hub_server.ws_url) as client:
        await client.send(json.dumps({"op": "subscribe", "channels": ["site.s1"],
                                      "since": {"site.s1": 500}}))
        ack, gap = await recv(client), await recv(client)
        assert ack["seq"] == {"site.s1": 1}
        assert (gap["code"], gap["since"], gap["oldest"]) == ("history_gap", 500, 2)
        assert (await recv(client))["seq"] == 1


async def test_ws_hub_aclose_closes_clients_with_1001(hub_server: StreamServer) -> None:
    async with connect(hub_server.ws_url) as client:
        await request(client, op="subscribe", channels=["alerts"])
        await hub_server.hub.aclose()
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "going away")


async def test_ws_bus_failure_during_subscribe_is_an_error_frame(
        hub_server: StreamServer, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(channel: str) -> int:
        raise BusError("bus down")

    monkeypatch.setattr(hub_server.bus, "last_seq", broken)
    async with connect(hub_server.ws_url) as client:
        error = await request(client, op="subscribe", channels=["alerts"], id=1)
        assert (error["code"], error["id"]) == ("unavailable", 1)
        assert hub_server.hub.stats()["channels"] == 0
        assert await request(client, op="ping") == {"op": "pong"}


async def test_ws_unexpected_failure_is_an_error_frame_not_a_crash(
        hub_server: StreamServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(sub: Any, channels: Any) -> list[str]:
        raise RuntimeError("bug")

    monkeypatch.setattr(hub_server.hub, "unsubscribe", broken)
    async with connect(hub_server.ws_url) as client:
        error = await request(client, op="unsubscribe", channels=["alerts"])
        assert error["code"] == "internal_error"
        assert await request(client, op="ping") == {"op": "pong"}
