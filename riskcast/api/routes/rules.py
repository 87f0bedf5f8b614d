"""Alert rules: CRUD, and each rule's effectiveness from feedback.

Bodies are rules as in rules files (see ``docs/alerts.md``); an invalid rule answers 422
with the field at fault (``condition.above``). Secrets in routes come back as ``***``;
sending ``***`` back keeps the stored secret.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from riskcast.alerts.rules import Rule
from riskcast.alerts.views import rule_view
from riskcast.api.routes.alerts import alerts_service
from riskcast.exceptions import ValidationError
from riskcast.feedback.effectiveness import Effectiveness

__all__ = ["SCHEMA_TYPES", "effectiveness_view", "router"]

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])
#: msgspec types whose JSON schemas belong in the OpenAPI document.
SCHEMA_TYPES = (Rule,)
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_RULE_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Rule"}}}},
    "responses": {"422": {"description": "invalid rule; `field` names the part", **_PROBLEM}}}


def _json(data: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json")


async def _raw(request: Request) -> Any:
    try:
        return msgspec.json.decode(await request.body())
    except msgspec.DecodeError as err:
        raise ValidationError(f"body is not JSON: {err}", field=None) from err


@router.get("", summary="List rules", response_model=None)
async def list_rules(
    request: Request,
    source: Annotated[str | None, Query(description="pack, file or api")] = None,
) -> Response:
    rules = [rule_view(s) for s in alerts_service(request).list_rules()
             if source is None or s.source == source]
    return _json({"rules": rules})


@router.post("", summary="Create a rule", status_code=201, response_model=None,
             openapi_extra={**_RULE_BODY, "responses": {
                 **_RULE_BODY["responses"], "409": {"description": "exists", **_PROBLEM}}})
async def create_rule(request: Request) -> Response:
    stored = await alerts_service(request).create_rule(await _raw(request))
    return _json(rule_view(stored), 201)


@router.get("/{rule_id}", summary="One rule", response_model=None,
            responses={404: {"description": "no such rule", **_PROBLEM}})
async def get_rule(rule_id: str, request: Request) -> Response:
    return _json(rule_view(alerts_service(request).rule_of(rule_id)))


@router.put("/{rule_id}", summary="Create or replace a rule", response_model=None,
            openapi_extra=_RULE_BODY)
async def put_rule(rule_id: str, request: Request) -> Response:
    stored, created = await alerts_service(request).put_rule(rule_id, await _raw(request))
    return _json(rule_view(stored), 201 if created else 200)


@router.delete("/{rule_id}", summary="Delete a rule", status_code=204, response_model=None,
               description="Its open alerts resolve without notifications. A pack's default "
                           "rule stays deleted across restarts until it is PUT again.")
async def delete_rule(rule_id: str, request: Request) -> Response:
    await alerts_service(request).delete_rule(rule_id)
    return Response(status_code=204)


@router.get("/{rule_id}/effectiveness", summary="How often the rule was right",
            response_model=None,
            description="From feedback on its alerts: counts per verdict, precision = TP / "
                        "(TP + FP) with its 95 % Wilson lower bound and Beta(1,1) posterior "
                        "mean, weekly buckets (Monday 00:00 UTC), and the Mann-Kendall trend "
                        "with Sen's slope over the weekly precision (3 weeks or more).")
async def effectiveness(
    rule_id: str, request: Request,
    weeks: Annotated[int | None, Query(ge=1, le=520, description="only the last N weeks "
                                       "in the weekly buckets and trend")] = None,
) -> Response:
    result = await alerts_service(request).effectiveness(rule_id, weeks=weeks)
    return _json({"rule": rule_id, **effectiveness_view(result)})


def effectiveness_view(e: Effectiveness) -> dict[str, Any]:
    """The JSON form, with alert verdict names."""
    trend = None
    if e.trend is not None:
        t = e.trend
        trend = {"n": t.n, "s": t.s, "var_s": t.var_s, "z": t.z, "p": t.p, "tau": t.tau,
                 "sens_slope": t.slope, "trend": t.trend}
    return {
        "counts": {"true_positive": e.counts.positive, "false_positive": e.counts.negative,
                   "unsure": e.counts.other, "total": e.counts.total},
        "precision": e.precision, "wilson_lower_bound": e.wilson_lower_bound,
        "confidence": 0.95, "posterior_mean": e.posterior_mean,
        "weeks": [{"start": w.start, "true_positive": w.positive,
                   "false_positive": w.negative, "unsure": w.other, "precision": w.precision}
                  for w in e.weeks],
        "trend": trend,
    }
