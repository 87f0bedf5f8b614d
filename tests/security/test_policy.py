"""The route-to-role table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from riskcast.security.keys import Role
from riskcast.security.policy import POLICY, default_policy


@pytest.mark.parametrize(("method", "path", "role"), [
    ("GET", "/health/ready", None),
    ("HEAD", "/", None),
    ("GET", "/static/app.js", None),
    ("GET", "/openapi.json", None),
    ("GET", "/metrics", None),
    ("GET", "/api/v1/sites", Role.viewer),
    ("GET", "/api/v1/sites/s1/series/temp_c", Role.viewer),
    ("POST", "/api/v1/readings", Role.operator),
    ("POST", "/api/v1/alerts/hot:s1/ack", Role.operator),
    ("POST", "/api/v1/silences", Role.operator),
    ("POST", "/api/v1/rules", Role.admin),
    ("POST", "/api/v1/keys", Role.admin),
    ("POST", "/api/v1/models/m/deploy", Role.admin),
    ("POST", "/api/v1/models/m/predict", Role.viewer),
    ("POST", "/api/v1/restore", Role.admin),
    ("GET", "/ws", Role.viewer),
])
def test_roles_of_known_endpoints(method: str, path: str, role: Role | None) -> None:
    assert POLICY.match(method, path)[0].role == role


def test_unlisted_endpoints_need_viewer_to_read_and_admin_to_write() -> None:
    read, _ = POLICY.match("GET", "/api/v1/something-new")
    write, _ = POLICY.match("POST", "/api/v1/something-new")
    assert read.role is Role.viewer and write.role is Role.admin
    assert write.action == "POST /api/v1/something-new"  # audited


def test_site_endpoints_name_their_site_for_scope_checks() -> None:
    rule, params = POLICY.match("GET", "/api/v1/sites/s7/latest")
    assert rule.scope == "site" and params["site"] == "s7"


def test_metrics_needs_a_key_when_not_public() -> None:
    assert default_policy(metrics_public=False).match("GET", "/metrics")[0].role is Role.viewer


def _app_routes() -> list[tuple[str, str]]:
    """Every (method, path) the app serves, path parameters filled with a sample value."""
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from riskcast.api.app import create_app
    from riskcast.settings import Settings

    with TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp), auth=True))
    return list(_walk(app.routes, ""))


def _walk(routes: Any, prefix: str) -> Iterator[tuple[str, str]]:
    from fastapi.routing import APIWebSocketRoute
    from starlette.routing import Mount, WebSocketRoute

    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI >= 0.165 includes lazily
        if included is not None:
            yield from _walk(included.routes, prefix + route.include_context.prefix)
            continue
        path = prefix + re.sub(r"\{[^}]+\}", "p1", route.path)
        if isinstance(route, Mount):
            yield "GET", path + "/p1"
        elif isinstance(route, APIWebSocketRoute | WebSocketRoute):
            yield "GET", path
        else:
            yield from ((m, path) for m in sorted(route.methods) if m != "HEAD")


def test_every_route_of_the_app_has_an_explicit_rule() -> None:
    """A route that falls to the default rule (viewer to read, admin for the rest) is a
    route nobody decided on: list it in policy.py with its role."""
    routes = _app_routes()
    assert ("POST", "/api/v1/readings") in routes and ("GET", "/ws") in routes
    unlisted = [f"{m} {p}" for m, p in routes if POLICY.match(m, p)[0].path == "(unlisted)"]
    assert unlisted == []
