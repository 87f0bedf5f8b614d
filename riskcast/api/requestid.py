"""A request id per HTTP request and WebSocket, bound into every log line it causes.

:class:`RequestId` is a pure-ASGI layer: it takes the client's ``X-Request-ID`` when it is a
sensible token (1-128 characters of letters, digits and ``-_.:/+=``), else makes one (16 hex
digits), binds it as ``request_id`` in structlog's context variables for the request's task,
and returns it in the ``X-Request-ID`` response header. ``riskcast.logs`` merges the context
variables into every log record, stdlib ones included.
"""

from __future__ import annotations

import os
import re

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "RequestId", "request_id_of"]

HEADER = b"x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The id to use for ``scope``: the client's valid ``X-Request-ID``, else a new one.

    >>> request_id_of({"headers": [(b"x-request-id", b"abc-1")]})
    'abc-1'
    >>> len(request_id_of({"headers": [(b"x-request-id", b"bad id\\n")]}))
    16
    """
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            if _VALID.fullmatch(value):
                rid: str = value.decode("ascii")
                return rid
            break
    return os.urandom(8).hex()


class RequestId:
    """Give each HTTP request and WebSocket an id (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = rid
        header = (HEADER, rid.encode("ascii"))
        tokens = structlog.contextvars.bind_contextvars(request_id=rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
