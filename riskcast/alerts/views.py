"""The JSON forms of alert records: RFC 3339 times, secrets redacted. Used by the API, the
``alerts`` bus channel and notification bodies alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import msgspec

from riskcast.alerts.records import Alert, OutboxItem, Silence, StoredRule, Transition
from riskcast.alerts.routes import redact_route
from riskcast.core.clock import format_us

__all__ = ["alert_payload", "alert_view", "dead_letter_view", "payload_view", "rule_view",
           "silence_view", "time_text", "transition_view"]

_ALERT_TIMES = ("started_at", "fired_at", "acknowledged_at", "resolved_at", "updated_at",
                "notified_at", "last_notified_at")


#: RFC 3339 text of a time; the same few times recur (one per evaluation), so cached.
time_text = lru_cache(maxsize=4096)(format_us)


def _time(us: int | None) -> str | None:
    return None if us is None else time_text(us)


def alert_view(alert: Alert) -> dict[str, Any]:
    return payload_view(msgspec.to_builtins(alert))


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The alert as plain data with integer times (what an outbox row keeps)."""
    out: dict[str, Any] = msgspec.to_builtins(alert)
    return out


def payload_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An alert payload with its times as RFC 3339 text."""
    out = dict(payload)
    for name in _ALERT_TIMES:
        value = out.get(name)
        if isinstance(value, int):
            out[name] = time_text(value)
    return out


def transition_view(t: Transition) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(t)
    out["at"] = time_text(t.at)
    return out


def silence_view(s: Silence, now: int) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(s)
    for name in ("starts_at", "ends_at", "created_at"):
        out[name] = format_us(getattr(s, name))
    out["status"] = ("pending" if now < s.starts_at else "active" if now < s.ends_at
                     else "expired")
    return out


def rule_view(stored: StoredRule) -> dict[str, Any]:
    rule = stored.rule
    routes = [r if isinstance(r, str) else redact_route(r) for r in rule.routes]
    out: dict[str, Any] = msgspec.to_builtins(msgspec.structs.replace(rule, routes=routes))
    out["source"] = stored.source
    out["updated_at"] = format_us(stored.updated_at)
    return out


def dead_letter_view(rows: Sequence[OutboxItem]) -> dict[str, Any]:
    """One dead message: the rows that were claimed into it."""
    first = rows[0]
    return {
        "id": first.message, "rule": first.rule, "route": first.route_name,
        "type": msgspec.to_builtins(first.route)["type"], "attempts": first.attempts,
        "error": first.last_error, "created_at": format_us(min(r.created_at for r in rows)),
        "events": [{"alert": r.alert, "event": r.event} for r in rows],
    }
