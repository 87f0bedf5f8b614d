"""Errors as ``application/problem+json`` (RFC 9457), naming the field at fault."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from riskcast.exceptions import (
    ConflictError,
    NotFoundError,
    OverloadedError,
    RiskcastError,
    StorageError,
    ValidationError,
)

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
_STATUS_TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Conflict",
                  413: "Body too large",
                  422: "Invalid input", 429: "Too many requests", 500: "Internal error",
                  503: "Unavailable"}


def problem(status: int, detail: str, *, field: str | None = None,
            headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """A problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": _STATUS_TITLES.get(status, "Error"),
                            "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return Response(msgspec.json.encode(body), status_code=status, media_type=PROBLEM_TYPE,
                    headers=headers)


def _riskcast_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ValidationError):
        return problem(422, str(exc), field=exc.field)
    if isinstance(exc, NotFoundError):
        return problem(404, str(exc))
    if isinstance(exc, ConflictError):
        return problem(409, str(exc))
    if isinstance(exc, OverloadedError):
        retry = max(1, round(exc.retry_after))
        return problem(503, str(exc), headers={"Retry-After": str(retry)})
    if isinstance(exc, StorageError):
        log.error("storage error on %s: %s", request.url.path, exc)
        return problem(503, f"storage unavailable: {exc}", headers={"Retry-After": "2"})
    log.error("error on %s: %s", request.url.path, exc)
    return problem(500, str(exc))


def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or None
    detail = f"{field}: {first.get('msg', 'invalid')}" if field else first.get("msg", "invalid")
    return problem(422, detail, field=field,
                   errors=[{"field": ".".join(str(p) for p in e.get("loc", ())),
                            "message": e.get("msg")} for e in errors])


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail), headers=exc.headers)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return problem(500, "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RiskcastError, _riskcast_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
