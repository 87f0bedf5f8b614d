"""Keys, roles, scopes, tokens, rate limits, CORS and security headers on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    base: dict[str, Any] = {"data_dir": tmp_path / "data", "sqlite_synchronous": "normal",
                            "retention": "0", "auth": True}
    return Settings(**{**base, **extra})


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(_settings(tmp_path)) as server:
        for site, pack in (("s1", "generic"), ("s2", "generic")):
            httpx.post(f"{server.url}/api/v1/sites", json={"id": site, "name": site,
                                                           "pack": pack},
                       headers=server.headers).raise_for_status()
        yield server


def make_key(srv: LiveServer, role: str, **scope: Any) -> str:
    r = httpx.post(f"{srv.url}/api/v1/keys", json={"role": role, "name": f"{role} key",
                                                    **scope}, headers=srv.headers)
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


READING = {"readings": [{"site": "s1", "variable": "temp_c",
                         "time": "2026-07-01T12:00:00Z", "value": 20.5}]}


def test_request_without_key_gets_401_problem_with_www_authenticate(srv: LiveServer) -> None:
    r = httpx.get(f"{srv.url}/api/v1/sites")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "API key" in r.json()["detail"]


def test_unknown_and_malformed_keys_are_refused(srv: LiveServer) -> None:
    real = make_key(srv, "viewer")
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    for bad in (forged, "rk_nosuchid_secret", "not-a-key"):
        r = httpx.get(f"{srv.url}/api/v1/sites", headers=bearer(bad))
        assert r.status_code == 401, bad


def test_public_paths_need_no_key(srv: LiveServer) -> None:
    for path in ("/health/live", "/health/ready", "/", "/docs", "/openapi.json",
                 "/static/style.css"):
        assert httpx.get(srv.url + path).status_code == 200, path


def test_me_answers_the_key_and_its_scope(srv: LiveServer) -> None:
    key = make_key(srv, "operator", sites=["s1"])
    r = httpx.get(f"{srv.url}/api/v1/auth/me", headers={"X-API-Key": key})
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "operator" and body["sites"] == ["s1"] and body["packs"] == []
    assert body["auth"] is True and body["name"] == "operator key"
    assert key.startswith(f"rk_{body['key_id']}_")


def test_key_is_shown_once_and_never_listed(srv: LiveServer) -> None:
    key = make_key(srv, "viewer")
    listed = httpx.get(f"{srv.url}/api/v1/keys", headers=srv.headers).json()["keys"]
    assert listed and all("key" not in k and "hash" not in k for k in listed)
    assert key not in httpx.get(f"{srv.url}/api/v1/keys", headers=srv.headers).text


def test_revoked_key_is_refused_at_once(srv: LiveServer) -> None:
    key = make_key(srv, "viewer")
    me = httpx.get(f"{srv.url}/api/v1/auth/me", headers=bearer(key)).json()
    r = httpx.delete(f"{srv.url}/api/v1/keys/{me['key_id']}", headers=srv.headers)
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = httpx.get(f"{srv.url}/api/v1/auth/me", headers=bearer(key))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_viewer_reads_but_cannot_ingest_or_ack(srv: LiveServer) -> None:
    key = make_key(srv, "viewer")
    assert httpx.get(f"{srv.url}/api/v1/sites", headers=bearer(key)).status_code == 200
    r = httpx.post(f"{srv.url}/api/v1/readings", json=READING, headers=bearer(key))
    assert r.status_code == 403
    assert r.json()["required_role"] == "operator" and "operator" in r.json()["detail"]
    r = httpx.post(f"{srv.url}/api/v1/alerts/1/ack", json={"by": "me"}, headers=bearer(key))
    assert r.status_code == 403


def test_operator_ingests_but_cannot_create_keys_or_deploy(srv: LiveServer) -> None:
    key = make_key(srv, "operator")
    r = httpx.post(f"{srv.url}/api/v1/readings", json=READING, headers=bearer(key))
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = httpx.post(f"{srv.url}/api/v1/keys", json={"role": "admin"}, headers=bearer(key))
    assert r.status_code == 403 and r.json()["required_role"] == "admin"
    r = httpx.post(f"{srv.url}/api/v1/models/x/deploy", json={"version": 1},
                   headers=bearer(key))
    assert r.status_code == 403
    r = httpx.post(f"{srv.url}/api/v1/rules", json={}, headers=bearer(key))
    assert r.status_code == 403


def test_admin_can_do_what_operators_cannot(srv: LiveServer) -> None:
    r = httpx.post(f"{srv.url}/api/v1/keys", json={"role": "viewer"}, headers=srv.headers)
    assert r.status_code == 201
    r = httpx.get(f"{srv.url}/api/v1/audit", headers=srv.headers)
    assert r.status_code == 200
    # past the guard: the model route itself answers (no such model)
    r = httpx.post(f"{srv.url}/api/v1/models/nosuch/deploy", json={"version": 1},
                   headers=srv.headers)
    assert r.status_code not in (401, 403)


def test_bad_key_request_names_the_field(srv: LiveServer) -> None:
    r = httpx.post(f"{srv.url}/api/v1/keys", json={"role": "root"}, headers=srv.headers)
    assert r.status_code == 422 and r.json()["field"] == "role"
    r = httpx.post(f"{srv.url}/api/v1/keys", json={"name": "x"}, headers=srv.headers)
    assert r.status_code == 422 and r.json()["field"] == "role"


def test_site_limited_key_reads_only_its_sites(srv: LiveServer) -> None:
    key = make_key(srv, "operator", sites=["s1"])
    ok = httpx.get(f"{srv.url}/api/v1/sites/s1/series/temp_c", headers=bearer(key))
    assert ok.status_code == 200
    for path in ("/api/v1/sites/s2/series/temp_c", "/api/v1/sites/s2", "/api/v1/sites/s2/latest"):
        r = httpx.get(srv.url + path, headers=bearer(key))
        assert r.status_code == 403, path
        assert r.json()["field"] == "site"
    # endpoints spanning every site are closed to it, or filtered (tests/security/test_scopes.py)
    assert httpx.get(f"{srv.url}/api/v1/rules", headers=bearer(key)).status_code == 403
    assert httpx.get(f"{srv.url}/api/v1/alerts", headers=bearer(key)).json()["alerts"] == []


def test_pack_limited_key_sees_sites_of_its_packs(srv: LiveServer) -> None:
    key = make_key(srv, "viewer", packs=["generic"])
    assert httpx.get(f"{srv.url}/api/v1/sites/s2", headers=bearer(key)).status_code == 200
    other = make_key(srv, "viewer", packs=["water"])
    assert httpx.get(f"{srv.url}/api/v1/sites/s2", headers=bearer(other)).status_code == 403


def test_token_is_signed_and_carries_an_expiry(srv: LiveServer) -> None:
    key = make_key(srv, "viewer")
    r = httpx.post(f"{srv.url}/api/v1/auth/token", headers=bearer(key))
    assert r.status_code == 200
    body = r.json()
    assert body["token"].count(".") == 2 and body["expires_at"].endswith("Z")
    assert 0 < body["expires_in"] <= 15 * 60  # token_ttl, for renewing on the client's clock
    # a token also works as a bearer credential
    me = httpx.get(f"{srv.url}/api/v1/auth/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.json()["role"] == "viewer"
    renewed = httpx.post(f"{srv.url}/api/v1/auth/token", headers=bearer(body["token"]))
    assert renewed.status_code == 403 and "API key" in renewed.json()["detail"]
    tampered = body["token"][:-3] + ("abc" if not body["token"].endswith("abc") else "xyz")
    assert httpx.get(f"{srv.url}/api/v1/auth/me",
                     headers=bearer(tampered)).status_code == 401


def test_security_headers_on_api_and_dashboard(srv: LiveServer) -> None:
    for path in ("/", "/api/v1/auth/me", "/health/live"):
        r = httpx.get(srv.url + path, headers=srv.headers)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert "default-src 'self'" in r.headers["content-security-policy"], path
        assert r.headers["referrer-policy"] == "no-referrer", path


def test_auth_off_leaves_everything_open(tmp_path: Path) -> None:
    with live_server(_settings(tmp_path, auth=False)) as srv:
        assert srv.admin_key is None and srv.headers == {}
        r = httpx.get(f"{srv.url}/api/v1/auth/me")
        assert r.status_code == 200
        assert r.json()["role"] == "admin" and r.json()["auth"] is False
        assert httpx.get(f"{srv.url}/api/v1/keys").status_code == 200


def test_rate_limit_answers_429_with_retry_after_then_recovers(tmp_path: Path) -> None:
    with live_server(_settings(tmp_path, rate_limit=0.5, rate_burst=3)) as srv:
        key = srv.headers
        codes = [httpx.get(f"{srv.url}/api/v1/auth/me", headers=key).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = httpx.get(f"{srv.url}/api/v1/auth/me", headers=key)
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        retry = int(r.headers["retry-after"])
        assert retry >= 1
        # another key has its own bucket
        other = srv.call(_new_admin_key(srv))
        assert httpx.get(f"{srv.url}/api/v1/auth/me", headers=bearer(other)).status_code == 200
        # recovery once Retry-After has passed: move the limiter's clock instead of sleeping
        limiter = srv.runtime.security.limiter
        real_clock = limiter.clock
        limiter.clock = lambda: real_clock() + retry
        assert httpx.get(f"{srv.url}/api/v1/auth/me", headers=key).status_code == 200


async def _new_admin_key(srv: LiveServer) -> str:
    from riskcast.security.keys import Role

    key, _ = await srv.runtime.security.create_key(name="second", role=Role.admin)
    return key.plaintext


def test_cors_preflight_allows_configured_origin_only(tmp_path: Path) -> None:
    origin = "https://ops.example"
    with live_server(_settings(tmp_path, cors_origins=[origin])) as srv:
        r = httpx.options(f"{srv.url}/api/v1/sites", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == origin
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        r = httpx.options(f"{srv.url}/api/v1/sites", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers
        r = httpx.get(f"{srv.url}/api/v1/sites", headers={"Origin": origin, **srv.headers})
        assert r.headers["access-control-allow-origin"] == origin


def test_metrics_public_by_default_and_closable(tmp_path: Path) -> None:
    with live_server(_settings(tmp_path, metrics_public=False)) as srv:
        assert httpx.get(f"{srv.url}/metrics").status_code == 401
        assert httpx.get(f"{srv.url}/metrics", headers=srv.headers).status_code != 401


def test_site_limited_operator_ingests_only_its_sites(srv: LiveServer) -> None:
    key = make_key(srv, "operator", sites=["s1"])
    body = {"readings": [
        {"site": "s1", "variable": "temp_c", "time": "2026-07-01T12:00:00Z", "value": 1.0},
        {"site": "s2", "variable": "temp_c", "time": "2026-07-01T12:00:00Z", "value": 2.0}]}
    r = httpx.post(f"{srv.url}/api/v1/readings", json=body, headers=bearer(key))
    assert r.status_code == 200
    assert r.json()["accepted"] == 1
    [refused] = r.json()["rejected"]
    assert refused["index"] == 1 and refused["field"] == "site"
    assert "scope" in refused["error"]


def test_site_list_shows_only_the_keys_sites(srv: LiveServer) -> None:
    key = make_key(srv, "viewer", sites=["s2"])
    listed = httpx.get(f"{srv.url}/api/v1/sites", headers=bearer(key)).json()["sites"]
    assert [s["id"] for s in listed] == ["s2"]
    everything = httpx.get(f"{srv.url}/api/v1/sites", headers=srv.headers).json()["sites"]
    assert {s["id"] for s in everything} == {"s1", "s2"}
