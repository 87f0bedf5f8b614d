"""The dashboard in Debian's chromium against a real server: how fast a page is live, and how
long a posted reading takes to show.

* **load**: a fresh page of the site view (``/#/site/s1``) from navigation to the connection
  indicator saying ``live`` (modules loaded, key checked, catalog read, WebSocket subscribed);
* **reading → screen**: from the moment ``POST /api/v1/readings`` returns to the moment the
  value is in the site page's table (Playwright polls on every animation frame, so this
  includes a frame or so of its own).

One server (SQLite, auth on) and one browser share the machine. Run:
``.venv/bin/python bench/dashboard.py [--loads 10] [--readings 50]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from riskcast.settings import Settings
from riskcast.testing.server import LiveServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def summary(name: str, values: list[float]) -> None:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"{name:<22} n={len(ms):<4} p50 {statistics.median(ms):7.1f} ms   "
          f"p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--readings", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", sqlite_synchronous="normal",
                            retention="0")
        server = LiveServer(settings).start()
        try:
            run(server, args.loads, args.readings, Path(tmp) / "profile")
        finally:
            server.stop()


def run(server: LiveServer, loads: int, readings: int, profile: Path) -> None:
    client = httpx.Client(base_url=server.url, headers=server.headers)
    client.post("/api/v1/sites", json={"id": "s1", "name": "Bench", "lat": 41.2, "lon": -8.6})
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=ARGS, headless=True)
        page = context.pages[0]
        page.goto(f"{server.url}/?key={server.admin_key}#/site/s1")
        live = "() => document.getElementById('conn').dataset.status === 'live'"
        page.wait_for_function(live)
        load_times = []
        for _ in range(loads):
            t0 = time.perf_counter()
            page.reload()
            page.wait_for_function(live, polling="raf")
            load_times.append(time.perf_counter() - t0)
        shown = []
        for i in range(readings):
            value = i % 30 + 1  # alternating with -40 °C: each wait sees a change
            time_text = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            r = client.post("/api/v1/readings", json={"readings": [
                {"site": "s1", "variable": "temp_c", "time": time_text, "value": value}]})
            r.raise_for_status()
            t0 = time.perf_counter()
            page.wait_for_function(
                "(v) => document.querySelector('#latest tr[data-variable=temp_c] td.value')"
                "?.textContent === `${v} °C`", arg=value, polling="raf")
            shown.append(time.perf_counter() - t0)
            client.post("/api/v1/readings", json={"readings": [
                {"site": "s1", "variable": "temp_c", "value": -40,
                 "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}]})
            page.wait_for_function(
                "() => document.querySelector('#latest tr[data-variable=temp_c] td.value')"
                "?.textContent === '-40 °C'", polling="raf")
        context.close()
    client.close()
    summary("load to live", load_times)
    summary("reading to screen", shown)


if __name__ == "__main__":
    main()
