"""The overview page in a real browser against a real server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import SITES, Site, shot


def recent(minutes: int = 1) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_overview_shows_every_site_on_the_map_and_in_the_list(live: Site, page: Any) -> None:
    live.reading("fire-1", "danger_class", 4, recent())
    live.reading("s1", "temp_c", 21.5, recent())
    page.goto(live.page_url())
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    for body in SITES:
        expect(page.locator(f'#sites [data-site="{body["id"]}"]')).to_contain_text(body["name"])
    # Three sites have coordinates: they are on the map; the fourth is listed only.
    expect(page.locator("svg.map a.point")).to_have_count(3)
    # Coastlines from the vendored Natural Earth land, not from tiles on the internet.
    expect(page.locator("svg.map path.land")).to_have_attribute("d", re.compile(r"^M[-\d.]+,"))
    expect(page.locator('svg.map a.point[data-site="lab"]')).to_have_count(0)
    expect(page.locator("#summary")).to_contain_text("4 sites (1 without coordinates)")
    # Coloured by what the packs publish: the wildfire danger class, else fresh data or none.
    expect(page.locator('#sites [data-site="fire-1"]')).to_have_attribute("data-status", "class")
    expect(page.locator('#sites [data-site="fire-1"]')).to_contain_text("very high")
    expect(page.locator('#sites [data-site="s1"]')).to_have_attribute("data-status", "fresh")
    expect(page.locator('#sites [data-site="w1"]')).to_have_attribute("data-status", "nodata")
    shot(page, "overview")
    assert page.errors == []


def test_overview_recolours_a_site_live(live: Site, page: Any) -> None:
    page.goto(live.page_url())
    point = page.locator('svg.map a.point[data-site="fire-1"]')
    expect(point).to_have_attribute("data-status", "nodata")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    live.reading("fire-1", "danger_class", 5, recent())
    expect(point).to_have_attribute("data-status", "class", timeout=1000)
    expect(point).to_have_attribute("aria-label", "Serra da Estrela: extreme")
