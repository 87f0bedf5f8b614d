"""Liveness and readiness; no authentication."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from riskcast.api.deps import runtime

router = APIRouter(tags=["health"])

#: Seconds a dependency may take to answer a readiness probe.
PING_TIMEOUT = 2.0


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", summary="Storage answers and ingest commits; the bus state too",
            responses={503: {"description": "a dependency does not answer"}})
async def ready(request: Request) -> JSONResponse:
    rt = runtime(request)
    checks: dict[str, str] = {}
    for name, ping in (("storage", rt.storage.ping), ("bus", rt.bus.ping)):
        try:
            await asyncio.wait_for(ping(), PING_TIMEOUT)  # a probe must answer promptly
            checks[name] = "ok"
        except TimeoutError:
            checks[name] = f"error: no answer within {PING_TIMEOUT:g} s"
        except Exception as err:
            checks[name] = f"error: {err}"
    if not rt.pipeline.committer.running and not rt.draining:
        checks["ingest"] = "error: the commit loop is not running"
    # A shared bus that is away only delays live events: they wait in the publish queue and
    # go out when it is back, so the process still takes readings and stays ready (degraded).
    # Failing readiness then would take every process out of service and stop ingest too.
    required = {k: v for k, v in checks.items()
                if not (k == "bus" and not rt.pipeline.publishing.inline)}
    ok = all(v == "ok" for v in required.values()) and not rt.draining
    if rt.draining:
        checks["server"] = "draining"
    status = "unavailable" if not ok else "ok" if checks["bus"] == "ok" else "degraded"
    return JSONResponse({"status": status, "checks": checks},
                        status_code=200 if ok else 503)
