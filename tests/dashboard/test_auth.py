"""Signing in: a `?key=` link, the login form, and what a viewer's key may do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import ADMIN_KEY, Site, shot, start_server


def test_a_key_link_signs_the_browser_in_and_leaves_the_address_bar(live: Site,
                                                                     page: Any) -> None:
    assert live.key == ADMIN_KEY  # the tests run with auth on
    page.goto(f"{live.url}/?key={ADMIN_KEY}#/alerts")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    expect(page.locator("#who")).to_contain_text("(admin)")
    assert page.url == f"{live.url}/#/alerts"  # the key is gone from the URL...
    assert page.evaluate("() => localStorage.getItem('riskcast.key')") == ADMIN_KEY
    page.go_back()  # ...and from the history: the entry was replaced, not added to
    assert "key=" not in page.url
    # Later visits use the stored key.
    page.goto(f"{live.url}/#/")
    expect(page.locator("#sites [data-site]")).to_have_count(4)
    expect(page.locator("#login")).to_be_hidden()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("() => localStorage.getItem('riskcast.key')") is None


def test_a_bad_key_shows_the_login_form_and_a_good_one_gets_in(live: Site, page: Any) -> None:
    page.goto(f"{live.url}/?key=not-a-key-of-this-server")
    form = page.locator("#login")
    expect(form).to_be_visible()
    expect(form.get_by_role("alert")).to_have_text("That key was refused.")
    expect(page.locator("#sites")).to_have_count(0)  # nothing behind it was read
    shot(page, "login")
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(form).to_be_hidden()
    expect(page.locator("#sites [data-site]")).to_have_count(4)
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    assert page.errors == []


def test_without_a_key_the_login_form_shows(live: Site, page: Any) -> None:
    page.goto(f"{live.url}/")
    expect(page.locator("#login")).to_be_visible()
    expect(page.get_by_label("API key")).to_be_focused()


def test_a_viewer_sees_alerts_live_but_cannot_acknowledge(live: Site, page: Any) -> None:
    viewer = live.post("/api/v1/keys", {"role": "viewer", "name": "wall screen"})["key"]
    live.post("/api/v1/rules", {
        "id": "hot", "name": "Hot", "selector": {"sites": ["s1"]}, "severity": "critical",
        "condition": {"kind": "threshold", "series": "temp_c", "above": 30}})
    page.goto(f"{live.url}/?key={viewer}#/alerts")
    expect(page.locator("#who")).to_have_text("wall screen (viewer)")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    live.reading("s1", "temp_c", 33, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    item = page.locator('article[data-alert="hot:s1"]')
    expect(item).to_have_attribute("data-state", "firing")
    expect(item.get_by_role("button", name="Acknowledge")).to_be_disabled()
    expect(item.get_by_role("button", name="Acknowledge")).to_have_attribute(
        "title", "needs the operator role; this key is viewer")
    assert page.errors == []


def test_with_auth_off_the_page_needs_no_key(tmp_path: Path, page: Any) -> None:
    server = start_server(tmp_path / "data", auth=False)
    try:
        with Site(server) as live:
            assert live.key is None
            live.post("/api/v1/sites", {"id": "s1", "name": "Hill top"})
            page.goto(live.page_url("#/site/s1"))
            expect(page.locator("#conn")).to_have_attribute("data-status", "live")
            expect(page.locator("#login")).to_be_hidden()
            expect(page.locator("#who")).to_be_hidden()
            live.reading("s1", "temp_c", 17.5, datetime.now(UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"))
            expect(page.locator('#latest tr[data-variable="temp_c"]')).to_contain_text(
                "17.5 °C", timeout=1000)
            assert page.errors == []
    finally:
        server.stop()


def test_a_revoked_key_brings_the_login_form_back(live: Site, page: Any) -> None:
    made = live.post("/api/v1/keys", {"role": "operator", "name": "night shift"})
    page.goto(f"{live.url}/?key={made['key']}#/")
    expect(page.locator("#who")).to_have_text("night shift (operator)")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    r = live.client.delete(f"/api/v1/keys/{made['id']}")
    assert r.status_code == 200, r.text
    # The server closes the key's stream; the reconnect finds the key refused.
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("Your key was refused; sign in again.")
    expect(page.locator("#offline")).to_be_hidden()  # the server is there; the key is not
    page.evaluate("() => { location.hash = '#/alerts'; }")
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#who")).to_contain_text("(admin)")
    # The page is read again with the new key, and the stream is live on it.
    expect(page.locator("#alerts")).to_contain_text("No alerts here.")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")


def test_a_key_scoped_to_one_site_sees_that_site_live(live: Site, page: Any) -> None:
    scoped = live.post("/api/v1/keys", {"role": "viewer", "name": "hill", "sites": ["s1"]})
    page.goto(f"{live.url}/?key={scoped['key']}#/")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    expect(page.locator("#sites [data-site]")).to_have_count(1)
    expect(page.locator("#summary")).to_contain_text("1 site")
    live.reading("s1", "temp_c", 19.5, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    expect(page.locator('#sites [data-site="s1"]')).to_contain_text("19.5 °C", timeout=1000)
    assert page.errors == []
