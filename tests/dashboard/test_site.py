"""The site page: latest values and live charts, fed by the API and the site's channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Site, shot


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def history(live: Site, site: str, variable: str, values: list[float], step_min: float) -> None:
    n = len(values)
    live.post("/api/v1/readings", {"readings": [
        {"site": site, "variable": variable, "time": ago((n - i) * step_min), "value": v}
        for i, v in enumerate(values)]})


def test_a_posted_value_appears_on_the_site_page_within_a_second(live: Site, page: Any) -> None:
    history(live, "s1", "temp_c", [15 + (i % 7) for i in range(30)], step_min=2)
    history(live, "s1", "rh_pct", [60 - (i % 5) for i in range(30)], step_min=2)
    page.goto(live.page_url("#/site/s1"))
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    expect(page.locator("#page h1")).to_have_text("Hill top")
    page.get_by_label("Time range").select_option("6h")
    page.get_by_label("Rollup").select_option("raw")
    temp_plot = page.locator('.plot[data-variable="temp_c"]')
    expect(temp_plot).to_have_attribute("data-points", "30")
    expect(page.locator('.plot[data-variable="rh_pct"] canvas')).to_have_count(1)

    live.reading("s1", "temp_c", 31.25, ago(0))
    expect(page.locator('#latest tr[data-variable="temp_c"]')).to_contain_text("31.25 °C",
                                                                              timeout=1000)
    expect(temp_plot).to_have_attribute("data-points", "31", timeout=1000)
    shot(page, "site")
    assert page.errors == []


def test_rollup_and_range_choices_reread_the_series(live: Site, page: Any) -> None:
    # Three whole UTC hours of readings every 5 minutes, ending over an hour ago: 36 raw
    # points, 3 hourly buckets, nothing in the last hour.
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    live.post("/api/v1/readings", {"readings": [
        {"site": "s1", "variable": "temp_c", "value": 10 + i % 12,
         "time": (hour + timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for i in range(36)]})
    page.goto(live.page_url("#/site/s1"))
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    plot = page.locator('.plot[data-variable="temp_c"]')
    page.get_by_label("Time range").select_option("6h")
    page.get_by_label("Rollup").select_option("raw")
    expect(plot).to_have_attribute("data-points", "36")
    page.get_by_label("Rollup").select_option("1h")
    expect(plot).to_have_attribute("data-points", "3")
    page.get_by_label("Time range").select_option("1h")
    expect(plot).to_have_attribute("data-points", "0")
    # Live readings of one hour fold into one bucket instead of adding points.
    live.reading("s1", "temp_c", 12, ago(0))
    expect(plot).to_have_attribute("data-points", "1", timeout=1000)
    live.reading("s1", "temp_c", 14, ago(0))
    expect(page.locator('#latest tr[data-variable="temp_c"]')).to_contain_text("14 °C",
                                                                              timeout=1000)
    expect(plot).to_have_attribute("data-points", "1")
    assert page.errors == []


def test_the_site_page_lists_the_site_alerts_live(live: Site, page: Any) -> None:
    live.post("/api/v1/rules", {
        "id": "dry", "name": "Dry air", "selector": {"sites": ["s1"]}, "severity": "warning",
        "condition": {"kind": "threshold", "series": "rh_pct", "below": 20},
        "annotations": {"summary": "Dry air at {site_name}: {value} %"}})
    page.goto(live.page_url("#/site/s1"))
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    expect(page.locator("#site-alerts li")).to_have_count(0)
    live.reading("s1", "rh_pct", 12, ago(0))
    expect(page.locator("#site-alerts li")).to_contain_text("Dry air at Hill top: 12 %")
    expect(page.locator("#site-alerts li")).to_contain_text("firing")
    assert page.errors == []


def test_a_live_history_gap_makes_the_site_page_read_its_series_again(
        live: Site, page: Any) -> None:
    """Readings committed while the bus was away may reach the stream only as a
    ``history_gap`` marker (riskcast/pipeline/publishing.py); the page reads REST again."""
    history(live, "s1", "temp_c", [15 + (i % 7) for i in range(10)], step_min=2)
    page.goto(live.page_url("#/site/s1"))
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    page.get_by_label("Time range").select_option("6h")
    page.get_by_label("Rollup").select_option("raw")
    temp_plot = page.locator('.plot[data-variable="temp_c"]')
    expect(temp_plot).to_have_attribute("data-points", "10")

    # Stored but never published, as when the publish queue overflowed during an outage.
    now_us = int(datetime.now(UTC).timestamp() * 1e6)
    rt = live.server.runtime
    live.server.call(rt.storage.write_readings([("s1", "temp_c", now_us, 27.5, 0, "test")]))
    expect(page.locator('#latest tr[data-variable="temp_c"]')).not_to_contain_text("27.5")
    live.server.call(rt.bus.publish("site.s1", {
        "type": "history_gap", "site": "s1", "events": 1, "readings": 1,
        "variables": {"temp_c": [now_us, now_us]}}))
    expect(page.locator('#latest tr[data-variable="temp_c"]')).to_contain_text("27.5 °C")
    expect(temp_plot).to_have_attribute("data-points", "11")
    assert page.errors == []
