"""The route-to-role table."""

from __future__ import annotations

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
