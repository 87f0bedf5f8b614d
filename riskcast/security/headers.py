"""Security headers on every HTTP answer (the dashboard's and the API's).

A Content-Security-Policy allowing only this origin, no framing by other sites
(``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), no MIME sniffing, and no
referrer sent to other origins. The API docs pages (``/docs``, ``/redoc``) load
Swagger UI and ReDoc from jsDelivr, so their policy allows that one origin too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "SecurityHeaders"]

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
_DOCS_CSP = ("default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com "
             "https://cdn.redoc.ly; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
             "https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com; "
             "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
             "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
             "base-uri 'self'; frame-ancestors 'none'")
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_HEADERS = [*_COMMON, (b"content-security-policy", CSP.encode())]
_DOCS_HEADERS = [*_COMMON, (b"content-security-policy", _DOCS_CSP.encode())]
_DOCS = ("/docs", "/redoc", "/docs/oauth2-redirect")


class SecurityHeaders:
    """Adds the headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _DOCS_HEADERS if scope["path"] in _DOCS else _HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in extra if h[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
