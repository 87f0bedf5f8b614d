"""Who am I, stream tokens, API keys and the audit log.

``/api/v1/auth/me`` and ``/api/v1/auth/token`` serve any key; ``/api/v1/keys`` and
``/api/v1/audit`` need ``admin`` (the policy table in ``riskcast/security/policy.py``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from riskcast.alerts.rules import decode_error
from riskcast.api.deps import runtime
from riskcast.core.clock import format_us, parse_time
from riskcast.exceptions import ValidationError
from riskcast.security.audit import record
from riskcast.security.keys import ANONYMOUS_ADMIN, KeyRecord, Principal, Role, clean_names
from riskcast.security.store import AuditQuery, AuditRecord

__all__ = ["SCHEMA_TYPES", "audit_router", "keys_router", "router"]

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
keys_router = APIRouter(prefix="/api/v1/keys", tags=["auth"])
audit_router = APIRouter(prefix="/api/v1/audit", tags=["auth"])
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class KeyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A key to make: its role and, optionally, the packs and sites it is limited to."""

    role: str
    name: str = ""
    packs: list[str] = []
    sites: list[str] = []


SCHEMA_TYPES = (KeyIn,)


def _json(data: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json")


def _principal(request: Request) -> Principal:
    found: Principal | None = getattr(request.state, "principal", None)
    return found or ANONYMOUS_ADMIN


def key_view(record: KeyRecord) -> dict[str, Any]:
    """A key as the API shows it: never the key, never its hash."""
    return {"id": record.id, "name": record.name, "role": record.role.name,
            "packs": list(record.packs), "sites": list(record.sites),
            "created_at": format_us(record.created_us),
            "revoked_at": format_us(record.revoked_us) if record.revoked_us else None}


def audit_view(entry: AuditRecord) -> dict[str, Any]:
    return {"id": entry.id, "time": format_us(entry.time_us),
            "actor": {"key_id": entry.actor_id, "name": entry.actor_name},
            "action": entry.action, "target": entry.target, "result": entry.result,
            "detail": entry.detail}


@router.get("/me", summary="The key making this request: id, name, role and scope",
            responses={401: _PROBLEM})
async def me(request: Request) -> Response:
    return _json(_principal(request).to_json())


@router.post("/token", summary="A short-lived token for /ws?token= and /sse?token=; a "
             "stream opened with it is closed when it expires (4401 token expired)",
             responses={401: _PROBLEM})
async def token(request: Request) -> Response:
    principal = _principal(request)
    if not principal.auth:
        return _json({"token": "", "expires_at": None, "auth": False})
    if getattr(request.state, "via_token", False):  # a leaked token must not renew itself
        raise HTTPException(403, "a token cannot make tokens: send the API key")
    text, expires = runtime(request).security.issue_token(principal)
    # expires_in lets a client renew on its own clock, whatever the clocks' skew
    return _json({"token": text, "expires_at": format_us(int(expires * 1_000_000)),
                  "expires_in": max(0, int(expires - time.time()))})


@keys_router.get("", summary="Every API key, revoked ones included (never the keys)")
async def list_keys(request: Request) -> Response:
    records = await runtime(request).security.store.list_keys()
    return _json({"keys": [key_view(r) for r in records]})


@keys_router.post("", status_code=201, summary="Make a key; the answer holds it, once",
                  responses={422: _PROBLEM}, openapi_extra={"requestBody": {
                      "required": True, "content": {"application/json": {
                          "schema": {"$ref": "#/components/schemas/KeyIn"}}}}})
async def create_key(request: Request) -> Response:
    try:
        body = msgspec.json.decode(await request.body(), type=KeyIn)
    except msgspec.ValidationError as err:
        raise decode_error(err) from err
    except msgspec.DecodeError as err:
        raise ValidationError(f"body is not JSON: {err}") from err
    role = Role.parse(body.role)
    key, stored = await runtime(request).security.create_key(
        name=body.name, role=role, packs=clean_names(body.packs, field="packs"),
        sites=clean_names(body.sites, field="sites"))
    record(request, "key.create", key.id, role=role.name, packs=list(stored.packs),
           sites=list(stored.sites))
    return _json({**key_view(stored), "key": key.plaintext}, 201)


@keys_router.delete("/{key_id}", summary="Revoke a key: it stops working at once here, "
                    "within key_cache_ttl in other processes", responses={404: _PROBLEM})
async def revoke_key(request: Request, key_id: str) -> Response:
    stored = await runtime(request).security.revoke_key(key_id)
    record(request, "key.revoke", key_id)
    return _json(key_view(stored))


@audit_router.get("", summary="The audit log, newest first, paged by cursor")
async def audit(
    request: Request,
    actor: Annotated[str | None, Query(description="a key id")] = None,
    action: Annotated[str | None, Query(
        description="an action (alert.ack) or a family ending in a dot (alert.)")] = None,
    since: Annotated[str | None, Query(description="RFC 3339 time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1,
                                        description="next_cursor of a page")] = None,
) -> Response:
    since_us = parse_time(since, field="since") if since else None
    security = runtime(request).security
    await security.audit.flush()
    entries = await security.store.audit(AuditQuery(actor=actor, action=action,
                                                    since_us=since_us, before=cursor,
                                                    limit=limit))
    next_cursor = entries[-1].id if len(entries) == limit else None
    return _json({"records": [audit_view(e) for e in entries], "next_cursor": next_cursor})
