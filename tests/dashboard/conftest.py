"""A real riskcast server and Debian's chromium driven by Playwright (never its own download).

Each test gets a fresh chromium with its own profile directory; the test fails if a chromium
process of that profile outlives it. Screenshots go to ``tests/artifacts/dashboard/``
(gitignored), or to ``$RISKCAST_ARTIFACTS``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from riskcast.settings import Settings
from riskcast.testing.server import LiveServer
from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("RISKCAST_ARTIFACTS")
                 or Path(__file__).resolve().parents[1] / "artifacts" / "dashboard")
#: Sites of three packs; one without coordinates, for the list fallback.
SITES = [
    {"id": "s1", "name": "Hill top", "pack": "generic", "lat": 41.2, "lon": -8.6},
    {"id": "fire-1", "name": "Serra da Estrela", "pack": "wildfire", "lat": 40.32, "lon": -7.61},
    {"id": "w1", "name": "Douro at Régua", "pack": "water", "lat": 41.16, "lon": -7.79},
    {"id": "lab", "name": "Field lab", "pack": "generic"},
]


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium (make browser)"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the browser tests must run)")
    pytest.skip(message)


#: Auth is on, as in production; the key is fixed so a restarted server accepts it again.
ADMIN_KEY = "rc-dashboard-tests-admin-key-0123456789abcdef"


def server_settings(data_dir: Path, **extra: Any) -> Settings:
    return Settings(data_dir=data_dir, sqlite_synchronous="normal", max_future_skew="5m",
                    retention="0", admin_key=ADMIN_KEY, **extra)


class Site:
    """The test's handle on a running server: its URL, API headers and a client."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.url = server.url
        self.headers: dict[str, str] = dict(getattr(server, "headers", None) or {})
        self.key: str | None = getattr(server, "admin_key", None)
        self.client = httpx.Client(base_url=server.url, headers=self.headers, timeout=10)

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def post(self, path: str, body: Any) -> Any:
        r = self.client.post(path, json=body)
        r.raise_for_status()
        return r.json() if r.content else None

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def reading(self, site: str, variable: str, value: float, time: str) -> None:
        answer = self.post("/api/v1/readings", {"readings": [
            {"site": site, "variable": variable, "time": time, "value": value}]})
        assert answer["accepted"] == 1, answer

    def page_url(self, fragment: str = "") -> str:
        """The dashboard URL; signs the browser in with ``?key=`` when the server has auth."""
        query = f"?key={self.key}" if self.key else ""
        return f"{self.url}/{query}{fragment}"


def start_server(data_dir: Path, port: int | None = None, **extra: Any) -> LiveServer:
    return LiveServer(server_settings(data_dir, **extra), port=port).start()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Site]:
    """A real server on SQLite in ``tmp_path`` with the sites of :data:`SITES`."""
    chromium_or_skip()
    server = start_server(tmp_path / "data")
    try:
        with Site(server) as site:
            for body in SITES:
                site.post("/api/v1/sites", body)
            yield site
    finally:
        server.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


def _processes_using(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(proc.name))
    return found


@pytest.fixture
def browser(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh chromium (its own profile dir) as a Playwright context, 1280x800."""
    profile = tmp_path / "chromium-profile"
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=ARGS, headless=True,
        viewport={"width": 1280, "height": 800}, service_workers="block")
    try:
        yield context
    finally:
        context.close()
    left = _processes_using(str(profile))
    assert not left, f"chromium processes left running: {left}"


@pytest.fixture
def page(browser: Any) -> Any:
    page = browser.pages[0] if browser.pages else browser.new_page()
    # Uncaught exceptions, and anything the server's Content-Security-Policy refused.
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.errors = errors
    return page


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under the artifacts folder; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
