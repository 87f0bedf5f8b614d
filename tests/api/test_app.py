"""The app as a whole: the overview page and its static files, OpenAPI, problem+json on 404."""

from __future__ import annotations

import httpx

from riskcast.testing.server import LiveServer


def test_overview_page_and_assets_are_served(server: LiveServer) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("/static/app.js", "/static/style.css"):
        assert asset in page.text
        r = httpx.get(server.url + asset)
        assert r.status_code == 200 and len(r.content) > 500


def test_unknown_path_is_problem_json(server: LiveServer) -> None:
    r = httpx.get(server.url + "/api/v1/nothing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404
