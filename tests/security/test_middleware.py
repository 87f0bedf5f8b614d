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
    assert water("alerts")  # served filtered to its sites' alerts (scopes.event_filters)
    assert not water("site.f1") and not water("pack.wildfire")
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


def _me(srv: LiveServer, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{srv.url}/api/v1/auth/me", headers=headers or {})


def test_failed_attempts_lock_the_address_out_before_any_key_is_checked(
        tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=True, retention="0", auth_failures=3)
    with live_server(settings) as srv:
        bad = {"X-API-Key": new_key().plaintext}
        assert [_me(srv, bad).status_code for _ in range(3)] == [401, 401, 401]
        r = _me(srv, bad)
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        retry = int(r.headers["retry-after"])
        assert retry >= 1 and "failed API key attempts" in r.json()["detail"]
        # meanwhile a right key from that address is refused too: a good guess must not
        # be told from a bad one while the address is locked out
        assert _me(srv, srv.headers).status_code == 429
        assert srv.call(_ws_close_code(srv.ws_url + "?token=a.b.c")) == 4429
        # the other buckets are untouched: public paths, and requests without a key
        assert httpx.get(f"{srv.url}/health/live").status_code == 200
        assert _me(srv).status_code == 401
        # once Retry-After has passed (the limiter's clock moved instead of sleeping)
        failures = srv.runtime.security.failures
        real_clock = failures.clock
        failures.clock = lambda: real_clock() + retry
        assert _me(srv, srv.headers).status_code == 200
        assert _me(srv, bad).status_code == 401


async def _ws_close_code(url: str) -> int:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with connect(url) as ws:
        try:
            await ws.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code
    raise AssertionError("the stream was not closed")


def test_requests_without_a_key_have_a_bucket_per_address(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=True, retention="0", anon_rate_limit=0.5,
                        anon_rate_burst=2)
    with live_server(settings) as srv:
        assert [_me(srv).status_code for _ in range(3)] == [401, 401, 429]
        r = _me(srv)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "without an API key" in r.json()["detail"]
        assert _me(srv, srv.headers).status_code == 200  # a key has its own bucket
        assert httpx.get(f"{srv.url}/health/ready").status_code == 200  # public: no limit


def test_with_auth_off_each_address_has_a_bucket(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=False, retention="0", rate_limit=0.5,
                        rate_burst=3)
    with live_server(settings) as srv:
        assert [_me(srv).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert "per client address" in _me(srv).json()["detail"]
