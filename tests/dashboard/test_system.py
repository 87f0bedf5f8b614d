"""The system page: the server's counters, updating."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Site, shot


def test_system_page_shows_counters_and_follows_them(live: Site, page: Any) -> None:
    page.goto(live.page_url("#/system"))
    # This page's own WebSocket is one of the server's stream connections.
    expect(page.locator("#t-conns strong")).to_have_text("1")
    expect(page.locator("#t-sites strong")).to_have_text("4")
    accepted = page.locator("tr", has=page.locator("th", has_text="ingest.accepted")).locator("td")
    expect(accepted).to_have_text("0")
    live.post("/api/v1/readings", {"readings": [
        {"site": "s1", "variable": "temp_c", "value": 20 + i,
         "time": datetime.now(UTC).strftime(f"%Y-%m-%dT%H:%M:{i:02d}Z")} for i in range(25)]})
    # Read again every two seconds: the new count shows without a reload.
    expect(accepted).to_have_text("25")
    # The rate is the difference between two reads: positive in the read that saw them.
    expect(page.locator("#t-rate strong")).to_have_text(re.compile(r"^[1-9][\d.]*/s$"))
    expect(page.locator("#t-rate")).to_contain_text("25 accepted")
    shot(page, "system")
    assert page.errors == []
