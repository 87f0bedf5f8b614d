"""Series queries: raw readings (paged), rollups per time bucket, latest values."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from riskcast.api.deps import runtime
from riskcast.core.clock import format_us, now_us, parse_duration, parse_time
from riskcast.core.variables import QUALITY_NAMES
from riskcast.exceptions import NotFoundError, ValidationError

router = APIRouter(prefix="/api/v1/sites", tags=["series"])
MAX_BUCKETS = 100_000
_DAY = 86_400_000_000


def _json(obj: object) -> Response:
    return Response(msgspec.json.encode(obj), media_type="application/json")


@router.get(
    "/{site_id}/series/{variable}",
    summary="Readings of one variable of a site",
    description="Raw readings with `from <= time < to`, oldest first, paged by `cursor`; "
                "or with `every` (e.g. `1h`, `1d`) one rollup per bucket (mean, min, max, "
                "count; buckets aligned to the epoch in UTC; readings of quality `bad` left "
                "out). `from` defaults to 24 h before `to`, `to` to now.",
)
async def series(
    site_id: str, variable: str, request: Request,
    start: Annotated[str | None, Query(alias="from", description="RFC 3339")] = None,
    end: Annotated[str | None, Query(alias="to", description="RFC 3339")] = None,
    every: Annotated[str | None, Query(description="bucket size, e.g. 1h or 1d")] = None,
    limit: Annotated[int | None, Query(ge=1, description="rows per page")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    rt = runtime(request)
    if site_id not in rt.pipeline.sites and not await rt.storage.get_sites([site_id]):
        raise NotFoundError(f"no site {site_id!r}")
    var = rt.packs.variables.get(variable)
    if var is None:
        raise NotFoundError(f"no variable {variable!r}")
    t_end = parse_time(end, field="to") if end else now_us() + rt.pipeline.max_future_us + 1
    t_start = parse_time(start, field="from") if start else t_end - _DAY
    if t_start >= t_end:
        raise ValidationError("from must be before to", field="from")
    head = {"site": site_id, "variable": variable, "unit": var.unit,
            "from": format_us(t_start), "to": format_us(t_end)}
    if every is not None:
        step = parse_duration(every, field="every")
        if step < 1_000_000:
            raise ValidationError("every must be at least 1s", field="every")
        if (t_end - t_start) // step > MAX_BUCKETS:
            raise ValidationError(
                f"{(t_end - t_start) // step} buckets; at most {MAX_BUCKETS}: widen every "
                "or narrow from/to", field="every")
        buckets = await rt.storage.rollup(site_id, variable, t_start, t_end, step)
        return _json({**head, "every": every, "buckets": [
            {"start": format_us(b.start), "mean": b.mean, "min": b.min, "max": b.max,
             "count": b.count} for b in buckets]})
    size = min(limit or rt.settings.page_size, rt.settings.max_page_size)
    if cursor is not None:
        try:
            after = int(cursor)
        except ValueError as err:
            raise ValidationError("cursor: not a cursor from this API", field="cursor") from err
        t_start = max(t_start, after + 1)
    points = [] if t_start >= t_end else await rt.storage.read_series(
        site_id, variable, t_start, t_end, limit=size + 1)
    more = len(points) > size
    points = points[:size]
    return _json({**head, "points": [
        {"time": format_us(p.time), "value": p.value, "quality": QUALITY_NAMES[p.quality],
         "source": p.source} for p in points],
        "next_cursor": str(points[-1].time) if more else None})


@router.get("/{site_id}/latest", summary="The newest reading of each variable of a site")
async def latest(site_id: str, request: Request) -> Response:
    rt = runtime(request)
    if site_id not in rt.pipeline.sites and not await rt.storage.get_sites([site_id]):
        raise NotFoundError(f"no site {site_id!r}")
    rows = await rt.storage.latest(site_id)
    return _json({"site": site_id, "latest": {
        r.variable: {"time": format_us(r.time), "value": r.value,
                     "quality": QUALITY_NAMES[r.quality],
                     "unit": (v.unit if (v := rt.packs.variables.get(r.variable)) else None)}
        for r in rows}})
