"""The guard itself: the query string loses its secrets, and no log line holds a key,
a token or the signing secret."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from riskcast.security.keys import new_key
from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server


def test_keys_tokens_and_secret_never_reach_the_logs(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    admin = new_key().plaintext
    secret = "s" * 20 + new_key().plaintext
    settings = Settings(data_dir=tmp_path, auth=True, admin_key=admin, secret=secret,
                        retention="0", log_level="debug")
    logging.getLogger("uvicorn.access").setLevel(logging.DEBUG)
    with live_server(settings) as srv:
        headers = {"Authorization": f"Bearer {admin}"}
        made = httpx.post(f"{srv.url}/api/v1/keys", json={"role": "viewer"},
                          headers=headers).json()["key"]
        token = httpx.post(f"{srv.url}/api/v1/auth/token",
                           headers={"X-API-Key": made}).json()["token"]
        httpx.get(f"{srv.url}/api/v1/auth/me", headers={"X-API-Key": made})
        httpx.get(f"{srv.url}/api/v1/auth/me", headers={"X-API-Key": made + "x"})
        with httpx.stream("GET", f"{srv.url}/sse?channels=system&token={token}") as r:
            assert r.status_code == 200
        httpx.get(f"{srv.url}/?key={made}")
        httpx.get(f"{srv.url}/api/v1/sites?key={made}&token={token}")
    # the server's records (httpx and httpcore are this test's client)
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records
                     if not r.name.startswith(("httpx", "httpcore")))
    assert "/sse?channels=system" in text or "GET /" in text, "the access log was captured"
    for secret_text in (admin, made, token, secret, made.split("_", 2)[2]):
        assert secret_text not in text


def test_query_secrets_are_stripped_before_the_routes(tmp_path: Path) -> None:
    with live_server(Settings(data_dir=tmp_path, auth=True, retention="0")) as srv:
        # a key in the query string is not a credential for the API (headers only) ...
        r = httpx.get(f"{srv.url}/api/v1/sites?key={srv.admin_key}")
        assert r.status_code == 401
        # ... and the other parameters survive
        r = httpx.get(f"{srv.url}/api/v1/sites?limit=1&key=x", headers=srv.headers)
        assert r.status_code == 200


def test_channel_check_follows_the_keys_scope() -> None:
    from riskcast.core.sites import Site
    from riskcast.security.keys import Principal, Role
    from riskcast.security.middleware import channel_check

    sites = {"w1": Site(id="w1", name="w1", pack="water"),
             "f1": Site(id="f1", name="f1", pack="wildfire")}
    everything = channel_check(Principal("k", "k", Role.viewer), sites)
    assert all(everything(c) for c in ("site.f1", "alerts", "system", "pack.water"))
    water = channel_check(Principal("k", "k", Role.viewer, packs=frozenset({"water"})), sites)
    assert water("site.w1") and water("pack.water")
    assert not water("site.f1") and not water("pack.wildfire") and not water("alerts")
    assert not water("site.unknown")
    one = channel_check(Principal("k", "k", Role.viewer, sites=frozenset({"f1"})), sites)
    assert one("site.f1") and not one("site.w1") and not one("pack.wildfire")
    assert not one("system") and not one("models")


def test_an_unreachable_key_store_answers_503(tmp_path: Path) -> None:
    with live_server(Settings(data_dir=tmp_path, auth=True, retention="0")) as srv:
        key = srv.call(_make_key(srv))
        srv.call(srv.runtime.security.store.aclose())  # the store goes away
        r = httpx.get(f"{srv.url}/api/v1/auth/me", headers={"X-API-Key": key})
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.headers["content-type"] == "application/problem+json"
        assert key not in r.text


async def _make_key(srv: LiveServer) -> str:
    from riskcast.security.keys import Role
    from riskcast.security.service import create_key

    key, _ = await create_key(srv.runtime.security.store, name="k", role=Role.viewer)
    return key.plaintext
