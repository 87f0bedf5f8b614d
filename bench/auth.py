"""Cost of the auth guard per request: the middleware in front of a do-nothing ASGI app.

    .venv/bin/python bench/auth.py [--requests 50000]

Prints µs per request without the guard, with a key (cached after the first request),
with a stream token (HS256 verified each time), and with auth off, in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskcast.security.keys import Role  # noqa: E402
from riskcast.security.middleware import AuthMiddleware  # noqa: E402
from riskcast.security.service import Security  # noqa: E402
from riskcast.settings import Settings  # noqa: E402


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class _Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.security = Security(settings)
        self.pipeline = type("P", (), {"sites": {}})()


async def run(app: Any, headers: list[tuple[bytes, bytes]], count: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    started = time.perf_counter()
    for _ in range(count):
        scope = {"type": "http", "method": "POST", "path": "/api/v1/readings",
                 "query_string": b"", "headers": headers}
        await app(scope, receive, send)
    return (time.perf_counter() - started) / count * 1e6


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        on = _Runtime(Settings(data_dir=Path(tmp) / "on", auth=True, rate_limit=0))
        off = _Runtime(Settings(data_dir=Path(tmp) / "off", auth=False))
        await on.security.start()
        await off.security.start()
        key, _ = await on.security.create_key(name="bench", role=Role.operator)
        token, _ = on.security.issue_token(await on.security.authenticate(key.plaintext))
        guarded = AuthMiddleware(ok_app, runtime=on)
        bare = await run(ok_app, [], count)
        with_key = await run(guarded, [(b"x-api-key", key.plaintext.encode())], count)
        with_token = await run(guarded, [(b"authorization", f"Bearer {token}".encode())],
                               count)
        auth_off = await run(AuthMiddleware(ok_app, runtime=off), [], count)
        print(f"no guard            {bare:6.2f} µs/request")
        print(f"API key (cached)    {with_key:6.2f} µs/request  (+{with_key - bare:.2f})")
        print(f"token (HS256)       {with_token:6.2f} µs/request  (+{with_token - bare:.2f})")
        print(f"auth = false        {auth_off:6.2f} µs/request  (+{auth_off - bare:.2f})")
        await on.security.aclose()
        await off.security.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().requests))
