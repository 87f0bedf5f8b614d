"""The alerts page: acknowledge, silence and feedback change what the server holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Site, shot

HOT = {"id": "hot", "name": "Hot", "selector": {"sites": ["s1"]},
       "condition": {"kind": "threshold", "series": "temp_c", "above": 30},
       "severity": "critical", "annotations": {"summary": "Hot at {site_name}: {value} °C"}}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_acknowledging_from_the_alerts_page_changes_the_alert_state(live: Site,
                                                                      page: Any) -> None:
    live.post("/api/v1/rules", HOT)
    page.goto(live.page_url("#/alerts"))
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    expect(page.locator("#alerts")).to_contain_text("No alerts here.")
    live.reading("s1", "temp_c", 35.5, now())
    # The alert arrives live on the `alerts` channel; no reload.
    item = page.locator('article[data-alert="hot:s1"]')
    expect(item).to_have_attribute("data-state", "firing")
    expect(item).to_contain_text("Hot at Hill top: 35.5 °C")
    shot(page, "alerts")
    item.get_by_role("button", name="Acknowledge").click()
    expect(item).to_have_attribute("data-state", "acknowledged")
    assert live.get("/api/v1/alerts/hot:s1")["state"] == "acknowledged"
    assert live.get("/api/v1/alerts/hot:s1")["acknowledged_by"]
    expect(item.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert page.errors == []


def test_feedback_and_silence_from_the_alerts_page(live: Site, page: Any) -> None:
    live.post("/api/v1/rules", HOT)
    live.reading("s1", "temp_c", 31, now())
    page.goto(live.page_url("#/alerts"))
    item = page.locator('article[data-alert="hot:s1"]')
    expect(item).to_have_attribute("data-state", "firing")
    item.get_by_role("button", name="False alarm").click()
    expect(item.get_by_role("status")).to_have_text("Feedback: done")
    counts = live.get("/api/v1/rules/hot/effectiveness")["counts"]
    assert counts["false_positive"] == 1 and counts["total"] == 1

    item.get_by_role("button", name="Silence…").click()
    item.get_by_label("For").select_option("4h")
    item.get_by_label("Comment").fill("sensor in the sun")
    item.get_by_role("button", name="Silence", exact=True).click()
    silence = page.locator("#silences article")
    expect(silence).to_contain_text("rule=hot")
    expect(silence).to_contain_text("sensor in the sun")
    [active] = live.get("/api/v1/silences", status="active")["silences"]
    assert active["sites"] == ["s1"] and active["comment"] == "sensor in the sun"
    silence.get_by_role("button", name="Expire now").click()
    expect(page.locator("#silences")).to_contain_text("No silences in force.")
    assert live.get("/api/v1/silences", status="active")["silences"] == []
    assert page.errors == []
