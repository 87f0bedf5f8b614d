"""Health and catalog endpoints."""

from __future__ import annotations

import asyncio

import httpx

from riskcast.testing.server import LiveServer


def test_health_live_and_ready(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/health/live").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"storage": "ok", "bus": "ok"}


def test_ready_fails_when_storage_is_gone(server: LiveServer) -> None:
    server.call(server.runtime.storage.aclose())
    ready = httpx.get(f"{server.url}/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["storage"].startswith("error")


def test_variables_packs_and_openapi(server: LiveServer) -> None:
    names = [v["name"] for v in httpx.get(f"{server.url}/api/v1/variables").json()["variables"]]
    assert "temp_c" in names and "rh_pct" in names
    packs = httpx.get(f"{server.url}/api/v1/packs").json()["packs"]
    assert "generic" in [p["name"] for p in packs]
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/api/v1/readings" in spec["paths"]
    assert "ReadingIn" in spec["components"]["schemas"]


def test_ready_fails_when_the_commit_loop_died(server: LiveServer) -> None:
    committer = server.runtime.pipeline.committer

    async def kill() -> None:
        assert committer._task is not None
        committer._task.cancel()
        await asyncio.gather(committer._task, return_exceptions=True)

    server.call(kill())
    ready = httpx.get(f"{server.url}/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["ingest"].startswith("error")
    server.call(committer.start())  # a live loop again, so the server shuts down cleanly
    assert httpx.get(f"{server.url}/health/ready").status_code == 200
