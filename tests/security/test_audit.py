"""The audit log: every operator and admin action, with its actor, through a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from riskcast.security.audit import AuditLog, record_action
from riskcast.security.keys import Principal, Role
from riskcast.security.memory import MemoryKeyStore
from riskcast.security.store import AuditQuery
from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server

HOT: dict[str, Any] = {"id": "hot", "condition": {"kind": "threshold", "series": "temp_c",
                                                  "above": 40}}


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal",
                        retention="0", auth=True)
    with live_server(settings) as server:
        yield server


def make_key(srv: LiveServer, role: str, name: str) -> tuple[str, dict[str, str]]:
    r = httpx.post(f"{srv.url}/api/v1/keys", json={"role": role, "name": name},
                   headers=srv.headers)
    r.raise_for_status()
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['key']}"}


def audit(srv: LiveServer, **params: Any) -> list[dict[str, Any]]:
    r = httpx.get(f"{srv.url}/api/v1/audit", params=params, headers=srv.headers)
    r.raise_for_status()
    records: list[dict[str, Any]] = r.json()["records"]
    return records


async def _wait_for_alert(srv: LiveServer, operator: dict[str, str]) -> dict[str, Any]:
    async with connect(srv.ws_url, additional_headers=srv.headers) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"]}))
        assert json.loads(await ws.recv())["op"] == "subscribed"
        async with httpx.AsyncClient() as client:
            r = await client.post(f"{srv.url}/api/v1/readings", headers=operator, json={
                "readings": [{"site": "s1", "variable": "temp_c",
                              "time": "2026-07-01T00:00:00Z", "value": 45}]})
            r.raise_for_status()
        while True:
            event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if event.get("channel") == "alerts":
                return event


def test_each_kind_of_action_is_recorded_with_its_actor(srv: LiveServer) -> None:
    admin_id, admin = make_key(srv, "admin", "alice")
    operator_id, operator = make_key(srv, "operator", "olga")
    viewer_id, viewer = make_key(srv, "viewer", "vic")
    httpx.post(f"{srv.url}/api/v1/sites", json={"id": "s1"}, headers=admin).raise_for_status()
    assert httpx.post(f"{srv.url}/api/v1/rules", json=HOT,
                      headers=admin).status_code == 201
    asyncio.run(_wait_for_alert(srv, operator))
    assert httpx.post(f"{srv.url}/api/v1/alerts/hot:s1/ack", json={"by": "olga"},
                      headers=operator).status_code == 200
    assert httpx.post(f"{srv.url}/api/v1/alerts/hot:s1/feedback", json={"verdict": "true_positive"},
                      headers=operator).status_code < 300
    r = httpx.post(f"{srv.url}/api/v1/silences", json={"sites": ["s1"], "duration": "1h"},
                   headers=operator)
    assert r.status_code == 201
    silence = r.json()["id"]
    assert httpx.delete(f"{srv.url}/api/v1/silences/{silence}",
                        headers=operator).status_code == 204
    # a refused action is recorded as such, with who tried
    assert httpx.post(f"{srv.url}/api/v1/rules", json=HOT, headers=viewer).status_code == 403
    deploy = httpx.post(f"{srv.url}/api/v1/models/nosuch/deploy", json={"version": 1},
                        headers=admin)
    rollback = httpx.post(f"{srv.url}/api/v1/models/nosuch/rollback", json={},
                          headers=admin)
    httpx.delete(f"{srv.url}/api/v1/keys/{viewer_id}", headers=admin).raise_for_status()
    # reads and ingest are not actions
    httpx.get(f"{srv.url}/api/v1/sites", headers=viewer)

    records = audit(srv)
    by_action = {(r["action"], r["actor"]["key_id"]): r for r in records}
    assert by_action[("site.put", admin_id)]["target"] == "s1"
    assert by_action[("rule.create", admin_id)]["target"] == "hot"
    assert by_action[("rule.create", admin_id)]["result"] == "ok"
    ack = by_action[("alert.ack", operator_id)]
    assert ack["target"] == "hot:s1" and ack["actor"]["name"] == "olga"
    assert ack["time"].endswith("Z")
    assert by_action[("alert.feedback", operator_id)]["result"] == "ok"
    assert by_action[("silence.create", operator_id)]["result"] == "ok"
    assert by_action[("silence.create", operator_id)]["target"] == str(silence)
    assert by_action[("silence.expire", operator_id)]["target"] == str(silence)
    assert by_action[("model.rollback", admin_id)]["result"] == (
        "ok" if rollback.status_code < 400 else f"error {rollback.status_code}")
    assert by_action[("rule.create", viewer_id)]["result"] == "forbidden"
    assert by_action[("model.deploy", admin_id)]["result"] == (
        "ok" if deploy.status_code < 400 else f"error {deploy.status_code}")
    assert by_action[("key.revoke", admin_id)]["target"] == viewer_id
    created = [r["target"] for r in records if r["action"] == "key.create"]
    assert {admin_id, operator_id, viewer_id} <= set(created)
    assert not any(r["action"].startswith(("GET", "readings")) for r in records)

    # filters and paging
    assert {r["actor"]["key_id"] for r in audit(srv, actor=operator_id)} == {operator_id}
    assert {r["action"] for r in audit(srv, action="alert.")} == {"alert.ack",
                                                                  "alert.feedback"}
    first = httpx.get(f"{srv.url}/api/v1/audit", params={"limit": 2},
                      headers=srv.headers).json()
    assert len(first["records"]) == 2 and first["next_cursor"]
    rest = audit(srv, cursor=first["next_cursor"], limit=1000)
    assert len(rest) == len(records) - 2
    assert audit(srv, since="2100-01-01T00:00:00Z") == []


def test_audit_needs_admin_and_checks_its_parameters(srv: LiveServer) -> None:
    _, operator = make_key(srv, "operator", "olga")
    r = httpx.get(f"{srv.url}/api/v1/audit", headers=operator)
    assert r.status_code == 403 and r.json()["required_role"] == "admin"
    r = httpx.get(f"{srv.url}/api/v1/audit", params={"since": "yesterday"},
                  headers=srv.headers)
    assert r.status_code == 422 and r.json()["field"] == "since"


def test_record_action_for_commands_outside_a_server(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    record_action(settings, "restore", "backup-2026.tar", result="ok", files=3)
    with live_server(Settings(data_dir=tmp_path, auth=True, retention="0")) as srv:
        records = audit(srv, action="restore")
    assert records[0]["actor"] == {"key_id": "cli", "name": "command line"}
    assert records[0]["target"] == "backup-2026.tar" and records[0]["detail"] == {"files": 3}


@pytest.mark.anyio
async def test_recording_is_queued_and_flushed_in_order() -> None:
    store = MemoryKeyStore()
    log = AuditLog(store)
    log.start()
    who = Principal("k1", "alice", Role.admin)
    for n in range(100):
        log.record(who, "rule.create", f"r{n}")
    await log.flush()
    got = await store.audit(AuditQuery(limit=1000))
    assert [r.target for r in reversed(got)] == [f"r{n}" for n in range(100)]
    await log.aclose()
