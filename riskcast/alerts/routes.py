"""Notification routes: where a rule's notifications go (log, webhook, email).

A route is declared inline in a rule or by name in the ``routes`` section of a rules file;
the built-in route ``log`` always exists. Every route carries its delivery policy: how many
attempts, and the exponential backoff between them (with jitter).
"""

from __future__ import annotations

import os
import re
from typing import Literal

import msgspec

from riskcast.core.clock import parse_duration
from riskcast.exceptions import ValidationError

__all__ = ["BUILTIN_ROUTES", "ROUTE_NAME", "EmailRoute", "LogRoute", "Route", "WebhookRoute",
           "check_route", "redact_route"]

ROUTE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REDACTED = "***"


class _Delivery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="type"):
    #: Attempts in all (the first try included); after the last the message is dead.
    attempts: int = 6
    #: Delay before the second attempt; doubles with each further one (jittered).
    backoff: str = "2s"
    #: Longest delay between two attempts.
    max_backoff: str = "10m"
    #: How long one attempt may take.
    timeout: str = "10s"


class LogRoute(_Delivery, kw_only=True, tag="log"):
    """Write the notification to riskcast's log (the default route)."""

    level: Literal["info", "warning", "error"] = "warning"


class WebhookRoute(_Delivery, kw_only=True, tag="webhook"):
    """POST the notification as JSON, signed with HMAC-SHA256 of the body when a secret is set.

    The secret is ``secret`` or the environment variable named by ``secret_env``.
    """

    url: str
    secret: str | None = None
    secret_env: str | None = None
    headers: dict[str, str] = {}

    def resolved_secret(self) -> str | None:
        if self.secret is not None:
            return self.secret
        return os.environ.get(self.secret_env) if self.secret_env else None


class EmailRoute(_Delivery, kw_only=True, tag="email"):
    """Send the notification over SMTP; ``starttls`` upgrades the connection first."""

    host: str
    port: int = 25
    sender: str = msgspec.field(name="from")
    to: list[str]
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    password_env: str | None = None

    def resolved_password(self) -> str | None:
        if self.password is not None:
            return self.password
        return os.environ.get(self.password_env) if self.password_env else None


Route = LogRoute | WebhookRoute | EmailRoute

#: Routes every rule may name without declaring them.
BUILTIN_ROUTES: dict[str, Route] = {"log": LogRoute()}


def check_route(route: Route, field: str) -> Route:
    """Return ``route`` if it is usable, else raise ValidationError naming the field."""
    for name in ("backoff", "max_backoff", "timeout"):
        parse_duration(getattr(route, name), field=f"{field}.{name}")
    if not 1 <= route.attempts <= 100:
        raise ValidationError("attempts must be 1..100", field=f"{field}.attempts")
    if isinstance(route, WebhookRoute):
        if not route.url.startswith(("http://", "https://")):
            raise ValidationError(f"url {route.url!r} is not http(s)", field=f"{field}.url")
        if route.secret_env is not None and not _ENV_NAME.match(route.secret_env):
            raise ValidationError("not an environment variable name",
                                  field=f"{field}.secret_env")
    if isinstance(route, EmailRoute):
        if not route.to:
            raise ValidationError("give at least one recipient", field=f"{field}.to")
        for i, address in enumerate([route.sender, *route.to]):
            if "@" not in address:
                where = f"{field}.from" if i == 0 else f"{field}.to[{i - 1}]"
                raise ValidationError(f"{address!r} is not an email address", field=where)
        if not 0 < route.port < 65536:
            raise ValidationError("port must be 1..65535", field=f"{field}.port")
        if route.password_env is not None and not _ENV_NAME.match(route.password_env):
            raise ValidationError("not an environment variable name",
                                  field=f"{field}.password_env")
    return route


def redact_route(route: Route) -> Route:
    """The route with its secrets replaced by ``***`` (for API answers)."""
    if isinstance(route, WebhookRoute) and route.secret is not None:
        return msgspec.structs.replace(route, secret=_REDACTED)
    if isinstance(route, EmailRoute) and route.password is not None:
        return msgspec.structs.replace(route, password=_REDACTED)
    return route
