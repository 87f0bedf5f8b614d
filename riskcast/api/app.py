"""The ASGI application: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from riskcast import __version__
from riskcast.api import metrics, problems, sse, ws
from riskcast.api.limits import BodySizeLimit
from riskcast.api.requestid import RequestId
from riskcast.api.routes import alerts, catalog, health, models, readings, rules, series, sites
from riskcast.api.routes import auth as auth_routes
from riskcast.api.runtime import Runtime
from riskcast.security.middleware import install as install_security
from riskcast.settings import Settings

DESCRIPTION = """\
riskcast turns readings from the field into indices, forecasts and alerts, and streams them
live. Times are RFC 3339 UTC. Errors are `application/problem+json` naming the field at fault.
Live streams: WebSocket at `/ws`, Server-Sent Events at `/sse`.
"""


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The FastAPI app; the runtime starts and stops with the app's lifespan."""
    settings = settings or (runtime.settings if runtime else Settings())
    rt = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await rt.aclose()

    app = FastAPI(title="riskcast", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url="/docs", redoc_url="/redoc")
    app.state.runtime = rt
    app.state.hub = rt.hub
    problems.install(app)
    install_security(app, rt)  # CORS, security headers, keys and roles: docs/security.md
    for module in (health, sites, readings, series, catalog, alerts, rules, models):
        app.include_router(module.router)
    app.include_router(alerts.silences_router)
    app.include_router(alerts.notifications_router)
    for router in (auth_routes.router, auth_routes.keys_router, auth_routes.audit_router):
        app.include_router(router)
    app.include_router(ws.router)
    app.include_router(sse.router)
    app.include_router(metrics.router)
    _mount_dashboard(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class _Revalidated(StaticFiles):
    """Static files the browser must revalidate (ETag) before each use: the dashboard's
    modules import each other, so after an upgrade none may come from a stale cache."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "no-cache"
        return response


def _mount_dashboard(app: FastAPI) -> None:
    """The dashboard at ``/`` (docs/dashboard.md), from static files shipped in the package."""
    folder = Path(__file__).resolve().parent.parent / "dashboard"
    app.mount("/static", _Revalidated(directory=folder), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(folder / "index.html", headers={"cache-control": "no-cache"})


def wrap(app: FastAPI, settings: Settings) -> Any:
    """The app behind the ASGI layers that must run before routing: request id, latency
    metrics, body size."""
    guarded = BodySizeLimit(app, settings.max_body_bytes)
    return RequestId(metrics.HttpMetrics(guarded, app.state.runtime.metrics))


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    _, components = msgspec.json.schema_components(
        readings.SCHEMA_TYPES + alerts.SCHEMA_TYPES + rules.SCHEMA_TYPES
        + auth_routes.SCHEMA_TYPES,
        ref_template="#/components/schemas/{name}")
    schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
    app.openapi_schema = schema
    return schema
