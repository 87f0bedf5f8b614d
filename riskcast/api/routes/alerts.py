"""Alerts: list, show, acknowledge, feedback; silences; dead-letter notifications.

Three routers: ``router`` (``/api/v1/alerts``), ``silences_router`` (``/api/v1/silences``)
and ``notifications_router`` (``/api/v1/notifications``). The service is
``request.app.state.runtime.alerts`` (:class:`~riskcast.alerts.service.AlertService`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import msgspec
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from riskcast.alerts.admin import SilenceIn
from riskcast.alerts.records import Verdict
from riskcast.alerts.rules import decode_error
from riskcast.alerts.views import alert_view, silence_view, transition_view
from riskcast.api.problems import problem
from riskcast.core.clock import format_us
from riskcast.exceptions import NotFoundError, ValidationError
from riskcast.security.scopes import SiteCheck, site_check

if TYPE_CHECKING:
    from riskcast.alerts.records import Alert, Silence
    from riskcast.alerts.service import AlertService

__all__ = ["SCHEMA_TYPES", "AckIn", "FeedbackIn", "alerts_service", "notifications_router",
           "router", "silences_router"]

T = TypeVar("T")
router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
silences_router = APIRouter(prefix="/api/v1/silences", tags=["alerts"])
notifications_router = APIRouter(prefix="/api/v1/notifications", tags=["alerts"])


class AckIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who acknowledges, and why."""

    by: str
    comment: str = ""


class FeedbackIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Was the alert right?"""

    verdict: Verdict
    comment: str = ""
    by: str = ""


#: msgspec types whose JSON schemas belong in the OpenAPI document.
SCHEMA_TYPES = (AckIn, FeedbackIn, SilenceIn)
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def alerts_service(request: Request) -> AlertService:
    """The alert service of the app serving this request."""
    service: AlertService = request.app.state.runtime.alerts
    return service


def _json(data: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json")


async def _body(request: Request, kind: type[T]) -> T:
    raw = await request.body()
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as err:
        raise decode_error(err) from err
    except msgspec.DecodeError as err:
        raise ValidationError(f"body is not JSON: {err}", field=None) from err


def _body_doc(name: str, *statuses: int) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{name}"}}}},
        "responses": {str(s): {"description": "refused", **_PROBLEM} for s in statuses}}


# -- alerts -------------------------------------------------------------------------------


@router.get("", summary="List alerts, paged by id", response_model=None)
async def list_alerts(
    request: Request,
    state: Annotated[Literal["pending", "firing", "acknowledged", "resolved"] | None,
                     Query(description="only alerts in this state")] = None,
    rule: Annotated[str | None, Query(description="only alerts of this rule")] = None,
    site: Annotated[str | None, Query(description="only alerts of this site")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    service = alerts_service(request)
    sees = site_check(request)
    if sees is None:
        page, after = await service.list_alerts(state=state, rule=rule, site=site,
                                                cursor=cursor, limit=limit)
        return _json({"alerts": [alert_view(a) for a in page], "next_cursor": after})
    if site is not None and not sees(site):
        return problem(403, f"this key may not see site {site!r}", field="site")
    # A key limited to some sites: its sites' alerts, read page by page up to a bound (a
    # page may then hold fewer than `limit`; follow next_cursor until it is null).
    page, after = [], cursor
    for _ in range(_SCOPED_SCAN_PAGES):
        found, after = await service.list_alerts(state=state, rule=rule, site=site,
                                                 cursor=after, limit=limit)
        for i, alert in enumerate(found):
            if sees(alert.site):
                page.append(alert)
                if len(page) == limit:
                    more = after is not None or i < len(found) - 1
                    return _json({"alerts": [alert_view(a) for a in page],
                                  "next_cursor": alert.id if more else None})
        if after is None:
            break
    return _json({"alerts": [alert_view(a) for a in page], "next_cursor": after})


#: Pages of every site's alerts one scoped listing reads at most before answering.
_SCOPED_SCAN_PAGES = 20


async def _visible_alert(request: Request, alert_id: str) -> None:
    """404 for an alert of a site the key may not see (as if it did not exist)."""
    sees = site_check(request)
    if sees is not None:
        alert: Alert = (await alerts_service(request).get_alert(alert_id))[0]
        if not sees(alert.site):
            raise NotFoundError(f"no alert {alert_id!r}")


def _visible_silence(silence: Silence, sees: SiteCheck | None) -> bool:
    """A scoped key sees the silences that name only its sites."""
    return sees is None or (bool(silence.sites) and all(sees(s) for s in silence.sites))


def _refused_sites(sites: list[str], sees: SiteCheck | None) -> Response | None:
    """403 naming ``sites`` when a scoped key would silence beyond its sites."""
    if sees is None or (sites and all(sees(s) for s in sites)):
        return None
    return problem(403, "this key is limited to some sites: list only those in sites",
                   field="sites")


@router.get("/{alert_id}", summary="One alert with its transitions", response_model=None,
            responses={404: {"description": "no such alert", **_PROBLEM}})
async def get_alert(alert_id: str, request: Request) -> Response:
    service = alerts_service(request)
    alert, transitions = await service.get_alert(alert_id)
    sees = site_check(request)
    if sees is not None and not sees(alert.site):
        raise NotFoundError(f"no alert {alert_id!r}")
    out = alert_view(alert)
    latest = service.engine.latest(alert.site, alert.variable) if alert.variable else None
    out["current"] = None if latest is None else {"value": latest[0],
                                                  "time": format_us(latest[1])}
    out["transitions"] = [transition_view(t) for t in transitions]
    return _json(out)


@router.post("/{alert_id}/ack", summary="Acknowledge a firing alert", response_model=None,
             description="Stops escalation and repeats. Acknowledging twice is harmless; "
                         "an alert that is not firing answers 409.",
             openapi_extra=_body_doc("AckIn", 404, 409, 422))
async def acknowledge(alert_id: str, request: Request) -> Response:
    body = await _body(request, AckIn)
    if not body.by.strip():
        raise ValidationError("say who acknowledges", field="by")
    await _visible_alert(request, alert_id)
    alert = await alerts_service(request).acknowledge(alert_id, by=body.by,
                                                      comment=body.comment)
    return _json(alert_view(alert))


@router.post("/{alert_id}/feedback", summary="Say whether an alert was right",
             response_model=None, status_code=201,
             openapi_extra=_body_doc("FeedbackIn", 404, 422))
async def feedback(alert_id: str, request: Request) -> Response:
    body = await _body(request, FeedbackIn)
    await _visible_alert(request, alert_id)
    record = await alerts_service(request).add_feedback(
        alert_id, verdict=body.verdict, comment=body.comment, by=body.by)
    out = msgspec.to_builtins(record)
    out["at"] = format_us(record.at)
    return _json(out, 201)


# -- silences -----------------------------------------------------------------------------


@silences_router.get("", summary="List silences", response_model=None)
async def list_silences(
    request: Request,
    status: Annotated[Literal["active", "pending", "expired"] | None,
                      Query(description="only silences in this status")] = None,
) -> Response:
    service = alerts_service(request)
    now = service.clock()
    sees = site_check(request)
    views = [silence_view(s, now) for s in await service.list_silences()
             if _visible_silence(s, sees)]
    return _json({"silences": [v for v in views if status is None or v["status"] == status]})


@silences_router.post("", summary="Create a silence", status_code=201, response_model=None,
                      description="Alerts whose labels match every matcher (and whose site "
                                  "is listed, when `sites` is given) are recorded but not "
                                  "notified between `starts_at` (default now) and `ends_at` "
                                  "(or `starts_at` + `duration`).",
                      openapi_extra=_body_doc("SilenceIn", 422))
async def create_silence(request: Request) -> Response:
    service = alerts_service(request)
    body = await _body(request, SilenceIn)
    refused = _refused_sites(body.sites, site_check(request))
    if refused is not None:
        return refused
    silence = await service.create_silence(msgspec.to_builtins(body))
    return _json(silence_view(silence, service.clock()), 201)


@silences_router.get("/{silence_id}", summary="One silence", response_model=None)
async def get_silence(silence_id: str, request: Request) -> Response:
    service = alerts_service(request)
    silence = await service.get_silence(silence_id)
    if not _visible_silence(silence, site_check(request)):
        raise NotFoundError(f"no silence {silence_id!r}")
    return _json(silence_view(silence, service.clock()))


@silences_router.put("/{silence_id}", summary="Change a silence", response_model=None,
                     openapi_extra=_body_doc("SilenceIn", 404, 422))
async def put_silence(silence_id: str, request: Request) -> Response:
    service = alerts_service(request)
    body = await _body(request, SilenceIn)
    sees = site_check(request)
    if sees is not None:
        if not _visible_silence(await service.get_silence(silence_id), sees):
            raise NotFoundError(f"no silence {silence_id!r}")
        refused = _refused_sites(body.sites, sees)
        if refused is not None:
            return refused
    stored = await service.put_silence(silence_id, msgspec.to_builtins(body))
    return _json(silence_view(stored, service.clock()))


@silences_router.delete("/{silence_id}", summary="Expire a silence now", status_code=204,
                        response_model=None)
async def expire_silence(silence_id: str, request: Request) -> Response:
    service = alerts_service(request)
    sees = site_check(request)
    if sees is not None and not _visible_silence(await service.get_silence(silence_id), sees):
        raise NotFoundError(f"no silence {silence_id!r}")
    await service.expire_silence(silence_id)
    return Response(status_code=204)


# -- dead letters -------------------------------------------------------------------------


@notifications_router.get("/dead", summary="Notifications that could not be delivered",
                          response_model=None,
                          description="Messages whose last attempt failed, newest first, "
                                      "with the last error.")
async def dead_letters(request: Request,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    return _json({"messages": await alerts_service(request).dead_letters(limit)})


@notifications_router.post("/dead/{message_id}/retry", summary="Send a dead message again",
                           status_code=202, response_model=None)
async def retry_dead(message_id: str, request: Request) -> Response:
    await alerts_service(request).retry_dead(message_id)
    return Response(status_code=202)
