"""Ingest throughput: riskcast's POST /api/v1/readings against the raw SQLite ceiling and a
seed-style endpoint, in one run, on this machine.

    .venv/bin/python bench/ingest.py [--seconds 10] [--concurrency 4] [--batch 1000]

Prints readings/s for each and the ratios; checks that every acknowledged reading is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskcast.security.keys import new_key  # noqa: E402
from riskcast.storage.sqlite import SqliteStorage  # noqa: E402
from riskcast.testing.server import free_port  # noqa: E402

T0 = 1_782_907_200  # 2026-07-01T00:00:00Z
# Variables no derivation reads (temp_c with rh_pct would add dew point work in the background).
VARIABLES = ("wind_kmh", "wind_dir_deg", "rain_mm", "pressure_hpa", "solar_wm2")
SITES = 50
#: The server runs with auth on, as deployed: an admin key of ours (RISKCAST_ADMIN_KEY).
ADMIN_KEY = new_key().plaintext
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def bodies(count: int, batch: int, start: int = 0) -> list[bytes]:
    """Distinct batches: each reading a new (site, variable, time)."""
    out = []
    for b in range(start, start + count):
        readings = []
        for i in range(batch):
            n = b * batch + i
            readings.append({"site": f"b{n % SITES}", "variable": VARIABLES[(n // SITES) % 5],
                             "time": T0 + n // (SITES * 5), "value": (n % 400) / 10})
        out.append(msgspec.json.encode({"readings": readings}))
    return out


def raw_ceiling(directory: Path, rows: int, synchronous: str) -> float:
    """One transaction of executemany into riskcast's readings table."""
    path = directory / "ceiling.db"

    async def create() -> None:
        storage = SqliteStorage(path, synchronous=synchronous)
        await storage.open()
        await storage.aclose()

    asyncio.run(create())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.executemany("INSERT INTO series (id, site, variable) VALUES (?, ?, ?)",
                     [(k, f"b{k % SITES}", VARIABLES[k // SITES]) for k in range(SITES * 5)])
    data = [(n % (SITES * 5), T0 * 1_000_000 + (n // (SITES * 5)) * 1_000_000, (n % 400) / 10,
             0, "api") for n in range(rows)]
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO readings (series, time, value, quality, source) "
                     "VALUES (?, ?, ?, ?, ?)", data)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


async def drive(url: str, payloads: list[bytes], seconds: float, concurrency: int
                ) -> tuple[int, float, list[float]]:
    """Post payloads from ``concurrency`` connections until they run out or time is up."""
    acknowledged = 0
    latencies: list[float] = []
    queue = list(reversed(payloads))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        async def worker() -> None:
            nonlocal acknowledged
            while queue and time.perf_counter() < deadline:
                body = queue.pop()
                t = time.perf_counter()
                r = await client.post("/api/v1/readings", content=body,
                                      headers={"content-type": "application/json", **AUTH})
                if r.status_code == 200:
                    acknowledged += r.json()["accepted"]
                    latencies.append(time.perf_counter() - t)
                elif r.status_code != 503:
                    raise RuntimeError(f"{r.status_code}: {r.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return acknowledged, elapsed, latencies


def wait_ready(url: str, proc: subprocess.Popen[bytes], path: str = "/health/live") -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_riskcast(directory: Path, args: argparse.Namespace, synchronous: str
                 ) -> tuple[float, int, int, list[float], float]:
    port = free_port()
    env = {**os.environ, "RISKCAST_SQLITE_SYNCHRONOUS": synchronous,
           "RISKCAST_LOG_LEVEL": "warning", "RISKCAST_RETENTION": "0",
           "RISKCAST_ADMIN_KEY": ADMIN_KEY}
    data = directory / f"riskcast-{synchronous}"
    proc = subprocess.Popen([sys.executable, "-m", "riskcast.cli.main", "serve", "--port",
                             str(port), "--data-dir", str(data)], env=env,
                            stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        for k in range(SITES):
            httpx.post(f"{url}/api/v1/sites", json={"id": f"b{k}"},
                       headers=AUTH).raise_for_status()
        payloads = bodies(int(args.seconds * 250_000 / args.batch) + 10, args.batch)
        asyncio.run(drive(url, payloads[:5], 5, 1))  # warm up
        cpu = cpu_seconds(proc.pid)
        acked, elapsed, lat = asyncio.run(drive(url, payloads[5:], args.seconds,
                                                args.concurrency))
        cpu = cpu_seconds(proc.pid) - cpu
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    conn = sqlite3.connect(data / "riskcast.db")
    stored = conn.execute(
        "SELECT count(*) FROM readings r JOIN series s ON s.id = r.series "
        f"WHERE s.variable IN ({','.join('?' * len(VARIABLES))})", VARIABLES).fetchone()[0]
    conn.close()
    return acked / elapsed, acked + 5 * args.batch, stored, lat, cpu / max(acked, 1) * 1e6


def run_seed(directory: Path, args: argparse.Namespace) -> float:
    port = free_port()
    env = {**os.environ, "SEED_DB": str(directory / "seed.db")}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "seed_ingest:app", "--port",
                             str(port), "--log-level", "warning", "--app-dir",
                             str(ROOT / "bench" / "baselines")], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, "/docs")
        acked, elapsed, _ = asyncio.run(drive(url, bodies(50, args.batch, 10_000),
                                              args.seed_seconds, 1))
    finally:
        proc.terminate()
        proc.wait(30)
    return acked / elapsed


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--ceiling-rows", type=int, default=500_000)
    parser.add_argument("--synchronous", default="full", choices=["normal", "full"])
    parser.add_argument("--skip-seed", action="store_true", help="leave out the slow baseline")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        ceiling = raw_ceiling(directory, args.ceiling_rows, args.synchronous)
        print(f"raw SQLite ceiling (executemany, one transaction, synchronous="
              f"{args.synchronous}): {ceiling:,.0f} rows/s")
        rate, acked, stored, lat, cpu_us = run_riskcast(directory, args, args.synchronous)
        print(f"riskcast POST /api/v1/readings (batch {args.batch}, {args.concurrency} "
              f"connections, synchronous={args.synchronous}): {rate:,.0f} readings/s; "
              f"request p50 {pct(lat, 0.5):.1f} ms, p99 {pct(lat, 0.99):.1f} ms; "
              f"server CPU {cpu_us:.1f} µs per reading")
        print(f"  acknowledged {acked:,}, stored {stored:,}: "
              f"{'OK' if stored >= acked else 'LOST READINGS'}")
        print(f"ratio riskcast / raw ceiling: {rate / ceiling:.2f}")
        if not args.skip_seed:
            seed = run_seed(directory, args)
            print(f"seed-style endpoint (SQLAlchemy ORM, insert + commit per reading): "
                  f"{seed:,.0f} readings/s")
            print(f"ratio riskcast / seed-style: {rate / seed:,.0f}x")


if __name__ == "__main__":
    main()
