"""The auth guard: a pure-ASGI middleware in front of every route.

For each HTTP request and WebSocket it finds the endpoint's rule in the policy table
(``riskcast/security/policy.py``), then:

1. strips ``token`` and ``key`` from the query string, so no access log ever holds them;
2. authenticates ``Authorization: Bearer <key or token>`` or ``X-API-Key: <key>`` (a
   stream also takes ``?token=``): 401 with ``WWW-Authenticate: Bearer`` when missing or
   invalid;
3. takes one request from the key's rate bucket: 429 with ``Retry-After`` when empty;
   requests without a valid key have buckets per client address instead: one for
   requests without a credential (and for every request when auth is off), and one for
   failed key and token attempts, which, once empty, refuses the address before its
   credential is even checked (the brute-force guard);
4. checks the role (403 naming the role needed) and a scoped key's scope (403);
5. puts the :class:`~riskcast.security.keys.Principal` and the hub's channel check in
   the connection's state (``request.state.principal``, ``request.state.authorize``);
6. writes an audit record after the answer, for rules that name an action.

A WebSocket refused here is accepted and closed at once with 4401 (not authenticated),
4403 (not allowed) or 4429 (rate limited) and the reason, since a browser sees nothing
of a refused handshake.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskcast.exceptions import StorageError
from riskcast.security import tokens
from riskcast.security.keys import ANONYMOUS_ADMIN, Principal
from riskcast.security.policy import Policy, Rule, default_policy
from riskcast.security.scopes import FILTERED_CHANNELS, event_filters
from riskcast.security.service import AuthError, Security

if TYPE_CHECKING:
    from riskcast.core.sites import Site

__all__ = ["AuthMiddleware", "channel_check", "install"]

log = logging.getLogger(__name__)

#: WebSocket close codes (4000-4999 are the application's).
WS_UNAUTHENTICATED = 4401
WS_FORBIDDEN = 4403
WS_RATE_LIMITED = 4429

_encode = msgspec.json.Encoder().encode
_SECRET_PARAMS = ("token", "key")
_STREAMS = ("/ws", "/sse")


class _Refusal(Exception):
    def __init__(self, status: int, detail: str, *, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


def channel_check(principal: Principal, sites: Mapping[str, Site]) -> Callable[[str], bool]:
    """Which live channels a key may subscribe to.

    An unscoped key: every channel. A key limited to packs or sites: ``site.<id>`` of its
    sites (and of its packs' sites), ``pack.<name>`` of its packs when it is not limited
    to sites, and ``alerts`` filtered to its sites' alerts (``scopes.event_filters``);
    never ``system`` or ``models``, which carry every site.
    """
    if not principal.scoped:
        return _allow_all

    def authorize(channel: str) -> bool:
        kind, _, name = channel.partition(".")
        if kind == "site":
            site = sites.get(name)
            return principal.may_see_site(name, site.pack if site else None)
        if kind == "pack":
            return not principal.sites and name in principal.packs
        return channel in FILTERED_CHANNELS

    return authorize


def _allow_all(channel: str) -> bool:
    return True


class AuthMiddleware:
    """See the module docstring. ``runtime`` gives the security service and the sites."""

    def __init__(self, app: ASGIApp, *, runtime: Any, policy: Policy | None = None) -> None:
        self.app = app
        self.runtime = runtime
        settings = runtime.settings
        self.enabled: bool = settings.auth
        self.policy = policy or default_policy(metrics_public=settings.metrics_public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        params: dict[str, str] = {}
        if b"token=" in query or b"key=" in query:
            params = _strip_secrets(scope)
        method = scope["method"] if kind == "http" else "GET"
        rule, path_params = self.policy.match(method, scope["path"])
        if rule.role is None:
            await self.app(scope, receive, send)
            return
        security: Security = self.runtime.security
        try:
            principal = await self._principal(scope, rule, params, security)
            if principal.auth:
                wait = security.limiter.take(principal.key_id)
                if wait > 0:
                    raise _limited(wait, f"rate limit: at most {security.limiter.rate:g} "
                                   "requests/s per key")
            else:  # auth off: everyone is anonymous, so the bucket is the address's
                wait = security.anonymous.take(_client(scope))
                if wait > 0:
                    raise _limited(wait, f"rate limit: at most {security.anonymous.rate:g} "
                                   "requests/s per client address")
            self._check(principal, rule, path_params)
        except _Refusal as refusal:
            if refusal.status == 403 and rule.action is not None:
                security.audit.record(refusal.extra["principal"], rule.action,
                                      _target(path_params, scope["path"]),
                                      result="forbidden",
                                      detail={"method": method, "path": scope["path"]})
            refusal.extra.pop("principal", None)
            await _refuse(scope, receive, send, refusal)
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["via_token"] = principal.auth and _via_token(scope, params)
        state["authorize"] = channel_check(principal, self.runtime.pipeline.sites)
        if principal.scoped and scope["path"] in _STREAMS:
            state["filters"] = event_filters(principal, self.runtime.pipeline.sites)
        if principal.auth and scope["path"] in _STREAMS:  # closed when the key is revoked
            expires = (security.token_expiry(_credential(scope) or params.get("token", ""))
                       if state["via_token"] else None)  # ... or its token expires
            state["watch"] = _watcher(security, principal.key_id, expires)
        if rule.action is None:
            await self.app(scope, receive, send)
            return
        await self._audited(scope, receive, send, principal, rule, path_params, security)

    async def _principal(self, scope: Scope, rule: Rule, params: dict[str, str],
                         security: Security) -> Principal:
        if not self.enabled:
            return ANONYMOUS_ADMIN
        credential = _credential(scope)
        if credential is None and scope["path"] in _STREAMS:
            credential = params.get("token")
        client = _client(scope)
        if not credential:
            wait = security.anonymous.take(client)
            if wait > 0:
                raise _limited(wait, "too many requests without an API key from this "
                               f"address (at most {security.anonymous.rate:g}/s)")
            where = ("an Authorization: Bearer <key or token> or X-API-Key header, or "
                     "?token=" if scope["path"] in _STREAMS
                     else "an Authorization: Bearer <key> or X-API-Key header")
            raise _Refusal(401, f"an API key is needed: send {where}",
                           headers={"WWW-Authenticate": 'Bearer realm="riskcast"'})
        # The brute-force guard: an address that failed too often is refused before its
        # credential is checked, so a good guess cannot be told from a bad one meanwhile.
        wait = security.failures.wait(client)
        if wait > 0:
            raise _limited(wait, "too many failed API key attempts from this address")
        try:
            return await security.authenticate(credential)
        except AuthError as err:
            security.failures.take(client)
            raise _Refusal(401, str(err), headers={
                "WWW-Authenticate": 'Bearer realm="riskcast", error="invalid_token"'}) from None
        except StorageError as err:
            log.error("key store unavailable: %s", err)
            raise _Refusal(503, "the key store is unavailable; retry",
                           headers={"Retry-After": "2"}) from None

    def _check(self, principal: Principal, rule: Rule, path_params: dict[str, str]) -> None:
        assert rule.role is not None
        if principal.role < rule.role:
            raise _Refusal(403, f"needs the {rule.role.name} role; this key is "
                           f"{principal.role.name}", required_role=rule.role.name,
                           principal=principal)
        if not principal.scoped or rule.scope == "any":
            return
        if rule.scope == "site":
            site_id = path_params.get("site", "")
            site = self.runtime.pipeline.sites.get(site_id)
            if principal.may_see_site(site_id, site.pack if site else None):
                return
            raise _Refusal(403, f"this key may not see site {site_id!r}", field="site",
                           principal=principal)
        raise _Refusal(403, "this key is limited to some packs or sites and this endpoint "
                       "spans all of them", principal=principal)

    async def _audited(self, scope: Scope, receive: Receive, send: Send,
                       principal: Principal, rule: Rule, path_params: dict[str, str],
                       security: Security) -> None:
        status = 500
        body = bytearray()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and len(body) < 4096:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            state = scope.get("state", {})
            target = state.get("audit_target") or _target(path_params, scope["path"])
            if not path_params and "audit_target" not in state and status < 300:
                target = _created_id(bytes(body)) or target
            result = "ok" if status < 400 else ("forbidden" if status == 403
                                                else f"error {status}")
            security.audit.record(principal, rule.action or "", target, result=result,
                                  detail={"method": scope.get("method", "GET"),
                                          "path": scope["path"], "status": status})


def _limited(wait: float, why: str) -> _Refusal:
    retry = max(1, math.ceil(wait))
    return _Refusal(429, f"{why}; retry after {retry} s", headers={"Retry-After": str(retry)})


def _client(scope: Scope) -> str:
    """The client's address as the server reports it (behind a proxy: see uvicorn's
    ``forwarded_allow_ips``)."""
    client = scope.get("client")
    return str(client[0]) if client else "-"


def _watcher(security: Security, key_id: str, expires: float | None
             ) -> Callable[[Callable[[str], None]], Callable[[], None]]:
    return lambda close: security.watch(key_id, close, expires=expires)


def _via_token(scope: Scope, params: dict[str, str]) -> bool:
    credential = _credential(scope) or params.get("token", "")
    return tokens.looks_like_token(credential)


def _credential(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                return str(rest.strip())
        elif name == b"x-api-key" and value:
            return str(value.decode("latin-1").strip())
    return None


def _strip_secrets(scope: Scope) -> dict[str, str]:
    """Take ``token`` and ``key`` out of the query string (in place) and return them."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    found = {k: v for k, v in pairs if k in _SECRET_PARAMS}
    if found:
        kept = [(k, v) for k, v in pairs if k not in _SECRET_PARAMS]
        scope["query_string"] = urlencode(kept).encode("latin-1")
    return found


def _target(path_params: dict[str, str], path: str) -> str:
    for value in path_params.values():
        return value
    return path


def _created_id(body: bytes) -> str | None:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if isinstance(data, dict) and isinstance(data.get("id"), str | int):
        return str(data["id"])
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: _Refusal) -> None:
    if scope["type"] == "websocket":
        code = {401: WS_UNAUTHENTICATED, 403: WS_FORBIDDEN, 429: WS_RATE_LIMITED}.get(
            refusal.status, 1013)  # 1013: try again later
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        reason = refusal.detail.encode()[:120].decode(errors="ignore")
        await send({"type": "websocket.close", "code": code, "reason": reason})
        return
    titles = {401: "Unauthorized", 403: "Forbidden", 429: "Too many requests",
              503: "Unavailable"}
    body = _encode({"type": "about:blank", "title": titles.get(refusal.status, "Error"),
                    "status": refusal.status, "detail": refusal.detail, **refusal.extra})
    headers = [(b"content-type", b"application/problem+json"),
               (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in refusal.headers.items()]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install(app: Any, runtime: Any) -> None:
    """Put the guards on a FastAPI app: CORS outermost (so preflights need no key), then
    the security headers, then authentication in front of the routes."""
    from starlette.middleware.cors import CORSMiddleware

    from riskcast.security.headers import SecurityHeaders

    settings = runtime.settings
    app.add_middleware(AuthMiddleware, runtime=runtime)
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Last-Event-ID"],
            expose_headers=["Retry-After", "WWW-Authenticate"], max_age=600)
