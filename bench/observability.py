"""Cost of the per-request observability layers (request id + latency histogram).

Calls a trivial ASGI app bare and behind ``RequestId(HttpMetrics(...))`` in the same process
and prints the time per request of each and the difference::

    .venv/bin/python bench/observability.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from riskcast.api.metrics import HttpMetrics
from riskcast.api.requestid import RequestId
from riskcast.api.runtime import Runtime
from riskcast.settings import Settings

N = 100_000


class _Route:
    path = "/api/v1/readings"


async def app(scope: Any, receive: Any, send: Any) -> None:
    scope["route"] = _Route
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Any) -> None:
    return None


async def per_request_us(target: Any) -> float:
    started = time.perf_counter()
    for _ in range(N):
        scope = {"type": "http", "method": "POST", "path": "/api/v1/readings",
                 "headers": [(b"content-type", b"application/json")]}
        await target(scope, receive, send)
    return (time.perf_counter() - started) / N * 1e6


async def main() -> None:
    runtime = Runtime(Settings(data_dir=Path(tempfile.mkdtemp()), storage="memory",
                               auth=False))
    wrapped = RequestId(HttpMetrics(app, runtime.metrics))
    for _ in range(3):
        bare = await per_request_us(app)
        full = await per_request_us(wrapped)
        print(f"bare {bare:.2f} us/request, with request id + latency histogram "
              f"{full:.2f} us/request: +{full - bare:.2f} us")


if __name__ == "__main__":
    asyncio.run(main())
