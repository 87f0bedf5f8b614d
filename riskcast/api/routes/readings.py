"""Ingest over HTTP: ``POST /api/v1/readings``."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import Response

from riskcast.api.deps import runtime
from riskcast.core.readings import ReadingsBody, Rejection, decode_batch
from riskcast.pipeline import IngestResult
from riskcast.security.keys import Principal

router = APIRouter(prefix="/api/v1", tags=["readings"])

_DESCRIPTION = """\
Store a batch of readings. The answer comes only after the batch is committed
(concurrent requests share one commit).

Each item is checked alone: an unknown site, an unknown variable, a non-finite value, a
malformed field, or a time further in the future than `max_future_skew` refuses that item,
named by its index, and the rest are stored. A value outside its variable's valid range is
stored with quality `bad` (outside the soft range: `suspect`).

**Idempotent:** a reading with the same (site, variable, time) as a stored one replaces it,
so a retried batch stores the same data once.

`time` is RFC 3339 with a timezone (`Z` or an offset) or seconds since the epoch; without
it, the time of arrival. Too much queued: 503 with `Retry-After`.
"""


@router.post(
    "/readings",
    summary="Ingest readings",
    description=_DESCRIPTION,
    response_model=None,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ReadingsBody"}}}},
        "responses": {"200": {"description": "committed", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/IngestResult"}}}},
            "422": {"description": "malformed body",
                    "content": {"application/problem+json": {}}},
            "503": {"description": "overloaded; retry after Retry-After seconds",
                    "content": {"application/problem+json": {}}}},
    },
)
async def post_readings(request: Request) -> Response:
    body = await request.body()
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.scoped:  # a key limited to some packs or sites
        result = await _ingest_in_scope(request, body, principal)
    else:
        result = await runtime(request).pipeline.ingest_body(body, source="api")
    return Response(msgspec.json.encode(result), media_type="application/json")


async def _ingest_in_scope(request: Request, body: bytes, principal: Principal
                           ) -> IngestResult:
    """Ingest for a scoped key: items of sites outside its scope are refused one by one."""
    pipeline = runtime(request).pipeline
    items, rejected = decode_batch(body, pipeline.settings.max_batch)
    for index, item in enumerate(items):
        if item is None:
            continue
        site = pipeline.sites.get(item.site)
        if not principal.may_see_site(item.site, site.pack if site else None):
            items[index] = None
            rejected.append(Rejection(index, f"site {item.site!r} is outside this key's scope",
                                      "site"))
    return await pipeline.ingest(items, "api", rejected=rejected)


#: msgspec types whose JSON schemas are merged into the OpenAPI document.
SCHEMA_TYPES = (ReadingsBody, IngestResult)
