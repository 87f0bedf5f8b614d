"""Liveness and readiness; no authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from riskcast.api.deps import runtime

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", summary="Storage and bus answer, ingest commits",
            responses={503: {"description": "a dependency does not answer"}})
async def ready(request: Request) -> JSONResponse:
    rt = runtime(request)
    checks: dict[str, str] = {}
    for name, ping in (("storage", rt.storage.ping), ("bus", rt.bus.ping)):
        try:
            await ping()
            checks[name] = "ok"
        except Exception as err:
            checks[name] = f"error: {err}"
    if not rt.pipeline.committer.running and not rt.draining:
        checks["ingest"] = "error: the commit loop is not running"
    ok = all(v == "ok" for v in checks.values()) and not rt.draining
    if rt.draining:
        checks["server"] = "draining"
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)
