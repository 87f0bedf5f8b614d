"""The in-memory alert store: for tests and throwaway runs (state is lost on exit).

Rows are kept encoded, so callers never share objects with the store (as with SQLite).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

import msgspec

from riskcast.alerts.records import (
    Alert,
    AlertQuery,
    Change,
    Feedback,
    NamedRoute,
    OutboxItem,
    Silence,
    StoredRule,
    Transition,
)
from riskcast.alerts.store import AlertStore
from riskcast.exceptions import StorageError

__all__ = ["MemoryAlertStore"]

T = TypeVar("T")
_encode = msgspec.json.encode


def _decode(raw: bytes, kind: type[T]) -> T:
    return msgspec.json.decode(raw, type=kind)


class MemoryAlertStore(AlertStore):
    """Alert state in dicts of this process."""

    def __init__(self) -> None:
        self._rules: dict[str, bytes] = {}
        self._routes: dict[str, bytes] = {}
        self._alerts: dict[str, bytes] = {}
        self._transitions: dict[str, list[bytes]] = {}
        self._silences: dict[str, bytes] = {}
        self._outbox: dict[str, bytes] = {}
        self._feedback: list[bytes] = []
        self._closed = False
        #: Set to make the next write fail (tests of atomicity).
        self.fail_next_write = False

    async def open(self) -> None:
        self._closed = False

    async def aclose(self) -> None:
        self._closed = True

    def _check(self) -> None:
        if self._closed:
            raise StorageError("alert store is closed")

    async def write(self, change: Change) -> None:
        self._check()
        if self.fail_next_write:
            self.fail_next_write = False
            raise StorageError("write failed (simulated)")
        # Encode everything first: nothing is applied unless all of it encodes.
        rules = {r.rule.id: _encode(r) for r in change.rules}
        routes = {r.name: _encode(r) for r in change.routes}
        alerts = {a.id: _encode(a) for a in change.alerts}
        transitions = [(t.alert, _encode(t)) for t in change.transitions]
        outbox = {o.id: _encode(o) for o in change.outbox}
        silences = {s.id: _encode(s) for s in change.silences}
        feedback = [_encode(f) for f in change.feedback]
        for rid in change.delete_rules:
            self._rules.pop(rid, None)
        self._rules.update(rules)
        self._routes.update(routes)
        self._alerts.update(alerts)
        for aid, raw in transitions:
            self._transitions.setdefault(aid, []).append(raw)
        self._outbox.update(outbox)
        for u in change.outbox_updates:
            stored = self._outbox.get(u.id)
            if stored is not None:
                item = _decode(stored, OutboxItem)
                self._outbox[u.id] = _encode(msgspec.structs.replace(
                    item, status=u.status, due_at=u.due_at, message=u.message,
                    attempts=u.attempts, last_error=u.last_error, sent_at=u.sent_at))
        for sid in change.delete_silences:
            self._silences.pop(sid, None)
        self._silences.update(silences)
        self._feedback.extend(feedback)
        if change.prune_sent_before is not None:
            cutoff = change.prune_sent_before
            for key, raw in list(self._outbox.items()):
                item = _decode(raw, OutboxItem)
                if item.status == "sent" and (item.sent_at or 0) < cutoff:
                    del self._outbox[key]

    async def rules(self) -> tuple[list[StoredRule], list[NamedRoute]]:
        self._check()
        return ([_decode(self._rules[k], StoredRule) for k in sorted(self._rules)],
                [_decode(self._routes[k], NamedRoute) for k in sorted(self._routes)])

    async def alerts(self, query: AlertQuery | None = None) -> list[Alert]:
        self._check()
        q = query or AlertQuery()
        out: list[Alert] = []
        keys = [q.id] if q.id is not None else sorted(self._alerts)
        for key in keys:
            raw = self._alerts.get(key)
            if raw is None or (q.after is not None and key <= q.after):
                continue
            alert = _decode(raw, Alert)
            if _matches(alert, q):
                out.append(alert)
                if q.limit is not None and len(out) >= q.limit:
                    break
        return out

    async def transitions(self, alert: str) -> list[Transition]:
        self._check()
        found = [_decode(r, Transition) for r in self._transitions.get(alert, [])]
        return sorted(found, key=lambda t: t.seq)

    async def silences(self) -> list[Silence]:
        self._check()
        return [_decode(self._silences[k], Silence) for k in sorted(self._silences)]

    async def outbox(self, statuses: Collection[str], *, due_before: int | None = None,
                     groups: Collection[str] | None = None,
                     limit: int | None = None) -> list[OutboxItem]:
        self._check()
        items = [_decode(raw, OutboxItem) for raw in self._outbox.values()]
        items = [i for i in items if i.status in statuses
                 and (due_before is None or i.due_at <= due_before)
                 and (groups is None or i.group in groups)]
        items.sort(key=lambda i: (i.due_at, i.created_at, i.id))
        return items if limit is None else items[:limit]

    async def feedback(self, *, rule: str | None = None,
                       alert: str | None = None) -> list[Feedback]:
        self._check()
        items = [_decode(raw, Feedback) for raw in self._feedback]
        found = [f for f in items if (rule is None or f.rule == rule)
                 and (alert is None or f.alert == alert)]
        return sorted(found, key=lambda f: (f.at, f.id))


def _matches(alert: Alert, q: AlertQuery) -> bool:
    checks: list[tuple[Any, Any]] = [(q.state, alert.state), (q.rule, alert.rule),
                                     (q.site, alert.site)]
    return all(want is None or want == have for want, have in checks)
