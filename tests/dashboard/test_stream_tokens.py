"""Stream tokens expire and the server closes their streams: the page renews before that and
stays live, without an offline banner and without missing an event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import SITES, Site, start_server

#: Records what the page saw: every value and seq of site.s1, every stream status, and
#: whether the offline banner ever showed.
WATCH = """() => {
  window.seen = []; window.seqs = []; window.statuses = []; window.bannerShown = false;
  riskcast.stream.on("site.s1", (data, frame) => {
    window.seqs.push(frame.seq);
    if (data.type === "readings") window.seen.push(...data.readings.map((r) => r.value));
  });
  riskcast.stream.addEventListener("status", (e) => window.statuses.push(e.detail));
  const closed = riskcast.stream.closed.bind(riskcast.stream);
  window.expiries = 0;  // sockets the server closed because their token expired
  riskcast.stream.closed = (ws, e) => {
    if (e.code === 4401 && e.reason === "token expired") window.expiries += 1;
    closed(ws, e);
  };
  const banner = document.getElementById("offline");
  new MutationObserver(() => { if (!banner.hidden) window.bannerShown = true; })
    .observe(banner, { attributes: true });
}"""


@pytest.mark.parametrize("renew", [True, False], ids=["renews-early", "reconnects-on-4401"])
def test_the_page_stays_live_across_token_expiries(tmp_path: Path, page: Any,
                                                   renew: bool) -> None:
    # The test posts as fast as it can for several token lifetimes: on a quick machine that
    # passes the default per-key limit (200/s), which is beside the point here.
    server = start_server(tmp_path / "data", token_ttl="3s", rate_limit=1e6, rate_burst=10**6)
    try:
        with Site(server) as live:
            for body in SITES:
                live.post("/api/v1/sites", body)
            page.goto(live.page_url("#/site/s1"))
            expect(page.locator("#conn")).to_have_attribute("data-status", "live")
            page.evaluate(WATCH)
            if not renew:  # the close for the expired token comes first (a background tab)
                page.evaluate("riskcast.stream.renew = async () => {}")
            # Publish without pause until the page went through three expiries of its token.
            posted: list[int] = []
            while True:
                value = len(posted) + 1
                live.post("/api/v1/readings", {"readings": [
                    {"site": "s1", "variable": "temp_c", "value": value,
                     "time": 1_790_000_000 + value}]})
                posted.append(value)
                done = ("riskcast.stream.renewals" if renew else "window.expiries")
                if page.evaluate(done) >= 3:
                    break
                assert len(posted) < 100_000, "the stream never renewed"
            page.wait_for_function("(n) => window.seen.length >= n", arg=len(posted),
                                   timeout=10_000)
            assert page.evaluate("window.seen") == posted  # every value, once, in order
            seqs = page.evaluate("window.seqs")
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap in the stream
            statuses = page.evaluate("window.statuses")
            assert "offline" not in statuses and "reconnecting" not in statuses, statuses
            assert page.evaluate("window.bannerShown") is False
            expect(page.locator("#conn")).to_have_attribute("data-status", "live")
            expect(page.locator('#latest tr[data-variable="temp_c"]')).to_contain_text(
                f"{posted[-1]} °C")
            assert page.errors == []
    finally:
        server.stop()
