"""Request ids: taken from X-Request-ID or made, returned, and in every log line."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from riskcast.api.requestid import RequestId
from riskcast.testing.server import LiveServer


def app_logging_twice() -> RequestId:
    async def endpoint(request: Request) -> PlainTextResponse:
        logging.getLogger("riskcast.test").info("first line")
        structlog.get_logger("riskcast.test").info("second line", rows=3)
        return PlainTextResponse("ok")

    return RequestId(Starlette(routes=[Route("/", endpoint)]))


@pytest.mark.anyio
async def test_request_id_is_bound_into_every_log_line(json_logs: io.StringIO) -> None:
    transport = httpx.ASGITransport(app=app_logging_twice())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        given = await client.get("/", headers={"X-Request-ID": "req-42"})
        made = await client.get("/")
    assert given.headers["x-request-id"] == "req-42"
    new_id = made.headers["x-request-id"]
    assert len(new_id) == 16 and new_id != "req-42"
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    ours = [line for line in lines if line.get("logger") == "riskcast.test"]
    assert [line["request_id"] for line in ours] == ["req-42", "req-42", new_id, new_id]
    assert ours[1]["rows"] == 3


@pytest.mark.anyio
async def test_a_bad_incoming_id_is_replaced(json_logs: io.StringIO) -> None:
    transport = httpx.ASGITransport(app=app_logging_twice())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/", headers={"X-Request-ID": "x" * 500})
    assert len(answer.headers["x-request-id"]) == 16


def test_real_server_returns_request_ids(server: LiveServer) -> None:
    echoed = httpx.get(f"{server.url}/health/live", headers={"X-Request-ID": "abc.123"})
    assert echoed.headers["x-request-id"] == "abc.123"
    refused = httpx.post(f"{server.url}/api/v1/readings", content=b"{")
    assert refused.status_code == 422
    assert len(refused.headers["x-request-id"]) == 16
