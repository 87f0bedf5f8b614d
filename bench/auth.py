"""Cost of the auth guard per request: the middleware in front of a do-nothing ASGI app.

    .venv/bin/python bench/auth.py [--requests 50000] [--ingest-seconds 8 --rounds 2]

Prints µs per request without the guard, with a key (cached after the first request),
with a stream token (HS256 verified each time), with auth off (the address's bucket), for
a request without a key (401), an unknown key (401 from the negative cache, guard off) and
an address locked out by the brute-force guard (429), in one run. With
``--ingest-seconds``, also ``bench/ingest.py``'s server run with auth on and off, taking
turns for ``--rounds`` rounds, so the guard's share of real ingest shows in the same run.
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


async def run(app: Any, headers: list[tuple[bytes, bytes]], count: int,
              client: tuple[str, int] = ("127.0.0.1", 50000)) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    started = time.perf_counter()
    for _ in range(count):
        scope = {"type": "http", "method": "POST", "path": "/api/v1/readings",
                 "query_string": b"", "headers": headers, "client": client}
        await app(scope, receive, send)
    return (time.perf_counter() - started) / count * 1e6


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # buckets so large they never refuse: their cost is measured, not their 429s
        on = _Runtime(Settings(data_dir=Path(tmp) / "on", auth=True, rate_limit=1e12,
                               anon_rate_limit=1e12, auth_failures=0))
        off = _Runtime(Settings(data_dir=Path(tmp) / "off", auth=False, rate_limit=1e12))
        guard = _Runtime(Settings(data_dir=Path(tmp) / "guard", auth=True, auth_failures=1))
        for runtime in (on, off, guard):
            await runtime.security.start()
        key, _ = await on.security.create_key(name="bench", role=Role.operator)
        token, _ = on.security.issue_token(await on.security.authenticate(key.plaintext))
        guarded = AuthMiddleware(ok_app, runtime=on)
        unknown = [(b"x-api-key", b"rk_nosuchkey_" + b"x" * 43)]
        bare = await run(ok_app, [], count)
        with_key = await run(guarded, [(b"x-api-key", key.plaintext.encode())], count)
        with_token = await run(guarded, [(b"authorization", f"Bearer {token}".encode())],
                               count)
        auth_off = await run(AuthMiddleware(ok_app, runtime=off), [], count)
        no_key = await run(guarded, [], count)
        bad_key = await run(guarded, unknown, count)
        locked = await run(AuthMiddleware(ok_app, runtime=guard), unknown, count)
        rows = [("no guard", bare), ("API key (cached)", with_key), ("token (HS256)", with_token),
                ("auth = false", auth_off), ("no key: 401", no_key),
                ("unknown key: 401", bad_key), ("locked out: 429", locked)]
        for name, value in rows:
            extra = f"  (+{value - bare:.2f})" if value is not bare else ""
            print(f"{name:<20}{value:6.2f} µs/request{extra}")
        for runtime in (on, off, guard):
            await runtime.security.aclose()


def ingest(seconds: float, rounds: int) -> None:
    """bench/ingest.py's server (its own process, SQLite, batches of 1,000) with auth on and
    off, taking turns."""
    import argparse as _argparse
    import os

    sys.path.insert(0, str(ROOT / "bench"))
    import ingest as bench_ingest  # bench/ingest.py

    args = _argparse.Namespace(seconds=seconds, batch=1000, concurrency=8)
    results: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                os.environ["RISKCAST_AUTH"] = "true" if mode == "on" else "false"
                directory = Path(tmp) / f"{mode}-{r}"
                directory.mkdir()
                rate, acked, stored, _, cpu_us = bench_ingest.run_riskcast(
                    directory, args, "full")
                assert stored >= acked, "lost readings"
                results[mode].append((rate, cpu_us))
                print(f"ingest, auth {mode:<3} round {r + 1}: {rate:,.0f} readings/s, "
                      f"server CPU {cpu_us:.1f} µs per reading")
        os.environ.pop("RISKCAST_AUTH", None)
    best = {m: max(v[0] for v in results[m]) for m in results}
    print(f"ingest best of {rounds}: auth on {best['on']:,.0f}, off {best['off']:,.0f} "
          f"readings/s (on / off {best['on'] / best['off']:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--ingest-seconds", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    asyncio.run(main(options.requests))
    if options.ingest_seconds:
        ingest(options.ingest_seconds, options.rounds)
