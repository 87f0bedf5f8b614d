"""The page survives a server restart: offline banner, reconnect with backoff, resume."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import SITES, Site, shot, start_server


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_the_page_survives_a_server_restart_and_resumes(tmp_path: Path, page: Any) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        with Site(first) as live:
            for body in SITES:
                live.post("/api/v1/sites", body)
            page.goto(live.page_url("#/site/s1"))
            conn = page.locator("#conn")
            expect(conn).to_have_attribute("data-status", "live")
            live.reading("s1", "temp_c", 20.5, now())
            row = page.locator('#latest tr[data-variable="temp_c"]')
            expect(row).to_contain_text("20.5 °C", timeout=1000)
            page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    finally:
        first.stop()

    expect(page.locator("#offline")).to_be_visible()
    expect(conn).to_have_attribute("data-status", "offline")
    shot(page, "offline")

    second = start_server(data, port=first.port)
    try:
        # Backoff is at most 8 s between attempts.
        expect(conn).to_have_attribute("data-status", "live", timeout=20_000)
        expect(page.locator("#offline")).to_be_hidden()
        with Site(second) as live:
            live.reading("s1", "temp_c", 23.75, now())
        expect(row).to_contain_text("23.75 °C", timeout=1000)
        assert page.evaluate("window.sameDocument") is True
        assert page.errors == []
    finally:
        second.stop()


def test_events_published_while_disconnected_arrive_on_resume(live: Site, page: Any) -> None:
    page.goto(live.page_url("#/site/s1"))
    conn = page.locator("#conn")
    expect(conn).to_have_attribute("data-status", "live")
    page.get_by_label("Rollup").select_option("raw")
    live.reading("s1", "temp_c", 10, now())
    row = page.locator('#latest tr[data-variable="temp_c"]')
    expect(row).to_contain_text("10 °C", timeout=1000)
    page.evaluate("riskcast.stream.stop()")
    expect(conn).to_have_attribute("data-status", "stopped")
    for value in (11, 12, 13):
        live.reading("s1", "temp_c", value, now())
    page.wait_for_function("() => riskcast.stream.ws === null")
    assert "13 °C" not in row.inner_text()  # nothing arrives while the socket is closed
    page.evaluate("riskcast.stream.start()")
    # Only a subscription with `since` replays what was published in between.
    expect(row).to_contain_text("13 °C")
    expect(page.locator('.plot[data-variable="temp_c"]')).to_have_attribute("data-points", "4")
    expect(conn).to_have_attribute("data-status", "live")
