"""Every page at phone width (390 px): nothing scrolls sideways, controls stay usable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import Site, shot

PHONE = {"width": 390, "height": 844}


def fill(live: Site) -> None:
    t0 = datetime.now(UTC) - timedelta(hours=2)
    live.post("/api/v1/readings", {"readings": [
        {"site": site, "variable": variable, "value": value + (i % 9),
         "time": (t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for i in range(24)
        for site, variable, value in (("s1", "temp_c", 18), ("s1", "rh_pct", 55),
                                      ("fire-1", "danger_class", 0), ("w1", "wqi_class", 0))]})
    live.post("/api/v1/rules", {
        "id": "hot", "name": "Hot", "selector": {"sites": ["s1"]}, "severity": "warning",
        "condition": {"kind": "threshold", "series": "temp_c", "above": 20},
        "annotations": {"summary": "A rather long summary: {site_name} is at {value} °C"}})
    live.reading("s1", "temp_c", 26, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


@pytest.mark.parametrize("fragment", ["#/", "#/site/s1", "#/alerts", "#/models", "#/system"],
                         ids=["overview", "site", "alerts", "models", "system"])
def test_phone_width_renders_without_horizontal_scroll(live: Site, page: Any,
                                                       fragment: str) -> None:
    fill(live)
    page.set_viewport_size(PHONE)
    page.goto(live.page_url(fragment))
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    ready = {"#/": "svg.map a.point", "#/site/s1": '.plot[data-variable="temp_c"] canvas',
             "#/alerts": 'article[data-alert="hot:s1"]', "#/models": "section.model",
             "#/system": "#t-conns"}[fragment]
    expect(page.locator(ready).first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{fragment} is {width} px wide"
    # The navigation stays reachable at the top.
    expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name="Alerts")
           ).to_be_in_viewport()
    shot(page, f"phone-{fragment.strip('#/').replace('/', '-') or 'overview'}")
    assert page.errors == []
