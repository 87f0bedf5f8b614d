"""The alert lifecycle: pending → firing → acknowledged → resolved, and back to pending or
firing when the condition returns (one alert per rule and site; repeats fold into it).

::

                 condition true, for > 0            for elapsed
    (new) ──────────────────────────► pending ────────────────────► firing ──► acknowledged
      │  resolved ─────────────────────▲  │                           ▲ │            │
      │     ▲      condition true        │ condition false            │ │            │
      │     │                            ▼                            │ │            │
      │     └──────────────────────── resolved ◄──────────────────────┘─┘◄───────────┘
      └──── condition true, for = 0 ─────────────────────────────────► firing
                                                         condition false (any open state)

:class:`Lifecycle` decides; it does no I/O. Each decision is a :class:`Step`: the
:class:`~riskcast.alerts.records.Change` to write (alerts, transitions and outbox rows
together) and the events to publish on ``alerts`` once it is written. The in-memory view
is updated with :meth:`Lifecycle.apply` only after the write succeeded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec

from riskcast.alerts.engine import Signal
from riskcast.alerts.records import (
    OPEN_STATES,
    Alert,
    Change,
    NotifyEvent,
    OutboxItem,
    Silence,
    State,
    Transition,
    alert_id,
)
from riskcast.alerts.routes import BUILTIN_ROUTES, Route
from riskcast.alerts.rules import Rule, render_template
from riskcast.alerts.silences import silenced_by
from riskcast.alerts.views import alert_payload, time_text
from riskcast.core.clock import parse_duration
from riskcast.core.sites import Site
from riskcast.exceptions import ConflictError, NotFoundError

__all__ = ["Lifecycle", "Step"]

#: Durations of rules, parsed once.
_duration = lru_cache(maxsize=4096)(parse_duration)

log = logging.getLogger(__name__)
ENGINE = "engine"


@dataclass
class Step:
    """One decision: what to write, what to publish after, which conditions to undo if the
    write fails (rule id, site, condition held before)."""

    change: Change = field(default_factory=Change)
    events: list[dict[str, Any]] = field(default_factory=list)
    undo: list[tuple[str, str, bool]] = field(default_factory=list)
    #: The newest version of every alert this step touched.
    latest: dict[str, Alert] = field(default_factory=dict)

    def seal(self) -> Change:
        """The change to write: the step's alerts, transitions and outbox rows."""
        self.change.alerts = list(self.latest.values())
        return self.change


class Lifecycle:
    """Alert state in memory (every alert), rules, routes and silences in force."""

    def __init__(self, sites: Callable[[], Mapping[str, Site]], *, group_wait_us: int,
                 default_routes: Iterable[str] = ("log",)) -> None:
        self._sites = sites
        self.group_wait_us = group_wait_us
        self.default_routes = list(default_routes)
        self.alerts: dict[str, Alert] = {}
        self.pending: set[str] = set()
        self.firing: set[str] = set()
        self.rules: dict[str, Rule] = {}
        self.routes: dict[str, Route] = dict(BUILTIN_ROUTES)
        self.silences: list[Silence] = []
        self._route_lists: dict[str, list[tuple[str, Route]]] = {}

    def configure(self, rules: dict[str, Rule], routes: Mapping[str, Route]) -> None:
        """Use these rules (by id) and named routes (besides the built-in ones)."""
        self.rules = rules
        self.routes = {**BUILTIN_ROUTES, **routes}
        self._route_lists.clear()

    # -- the in-memory view ---------------------------------------------------------------

    def apply(self, change: Change) -> None:
        """Take in alerts that were written."""
        for alert in change.alerts:
            self.alerts[alert.id] = alert
            (self.pending.add if alert.state == "pending" else self.pending.discard)(alert.id)
            (self.firing.add if alert.state == "firing" else self.firing.discard)(alert.id)

    def open_alerts(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.state in OPEN_STATES]

    def route_list(self, rule: Rule) -> list[tuple[str, Route]]:
        """The rule's routes in escalation order, as (name, route); inline routes are
        named ``<rule>#<position>``."""
        cached = self._route_lists.get(rule.id)
        if cached is None:
            cached = self._route_lists[rule.id] = self._routes_of(rule)
        return cached

    def _routes_of(self, rule: Rule) -> list[tuple[str, Route]]:
        out: list[tuple[str, Route]] = []
        for i, entry in enumerate(rule.routes or self.default_routes):
            if isinstance(entry, str):
                route = self.routes.get(entry)
                if route is None:
                    log.error("rule %s: route %r is not defined; skipped", rule.id, entry)
                    continue
                out.append((entry, route))
            else:
                out.append((f"{rule.id}#{i}", entry))
        return out

    # -- decisions ------------------------------------------------------------------------

    def on_signals(self, signals: Iterable[Signal], now: int,
                   step: Step | None = None) -> Step:
        """Transitions for changed conditions (added to ``step`` when given)."""
        step = Step() if step is None else step
        for s in signals:
            rule = self.rules.get(s.rule.id)
            if rule is None:
                continue
            aid = alert_id(rule.id, s.site)
            alert = step.latest.get(aid) or self.alerts.get(aid)
            is_open = alert is not None and alert.state in OPEN_STATES
            if s.active and not is_open:
                self._start(step, rule, alert, s, now)
                step.undo.append((rule.id, s.site, False))
            elif not s.active and alert is not None and is_open:
                self._resolve(step, rule, alert, now, value=s.value, by=ENGINE,
                              comment="condition cleared")
                step.undo.append((rule.id, s.site, True))
        return step

    def on_timers(self, now: int) -> Step:
        """``for`` elapsed, escalations, repeats, and firing alerts whose silence ended."""
        step = Step()
        for aid in sorted(self.pending):
            alert = step.latest.get(aid) or self.alerts[aid]
            rule = self.rules.get(alert.rule)
            if rule is not None and now - alert.started_at >= _duration(rule.for_):
                self._transition(step, rule, alert, "firing", now, by=ENGINE,
                                 comment=f"held for {rule.for_}", fired_at=now)
        for aid in sorted(self.firing - step.latest.keys()):
            alert = self.alerts[aid]
            rule = self.rules.get(alert.rule)
            if rule is None or self._silenced(alert, now):
                continue
            routes = self.route_list(rule)
            if alert.notified_at is None:
                self._notify(step, rule, alert, "firing", [0], now)
                continue
            escalate = _duration(rule.escalate_after) if rule.escalate_after else 0
            repeat = _duration(rule.repeat_interval) if rule.repeat_interval else 0
            next_level = alert.level + 1
            if escalate and next_level < len(routes) and \
                    now >= alert.notified_at + next_level * escalate:
                self._transition(step, rule, alert, "firing", now, by=ENGINE,
                                 comment=f"escalated to {routes[next_level][0]}",
                                 level=next_level, notify=("escalated", [next_level]))
            elif repeat and now >= (alert.last_notified_at or alert.notified_at) + repeat:
                self._notify(step, rule, alert, "repeat", [alert.level], now)
        return step

    def acknowledge(self, aid: str, by: str, comment: str, now: int) -> Step:
        alert = self.alerts.get(aid)
        if alert is None:
            raise NotFoundError(f"no alert {aid!r}")
        step = Step()
        if alert.state == "acknowledged":
            return step
        if alert.state != "firing":
            raise ConflictError(f"alert {aid} is {alert.state}: only a firing alert can be "
                                "acknowledged")
        rule = self.rules.get(alert.rule) or _orphan(alert)
        self._transition(step, rule, alert, "acknowledged", now, by=by, comment=comment,
                         acknowledged_at=now, acknowledged_by=by)
        return step

    def close_rule(self, rule_id: str, now: int, comment: str) -> Step:
        """Resolve the open alerts of a rule that was deleted, without notifying."""
        return self._close([a for a in self.open_alerts() if a.rule == rule_id], now, comment)

    def close_sites(self, sites: set[str], now: int) -> Step:
        """Resolve the open alerts of deleted sites, without notifying."""
        return self._close([a for a in self.open_alerts() if a.site in sites], now,
                           "site removed")

    def _close(self, alerts: list[Alert], now: int, comment: str) -> Step:
        step = Step()
        for alert in alerts:
            self._transition(step, _orphan(alert), alert, "resolved", now, by="system",
                             comment=comment, resolved_at=now)
        return step

    # -- transitions ----------------------------------------------------------------------

    def _start(self, step: Step, rule: Rule, old: Alert | None, s: Signal, now: int) -> None:
        for_us = _duration(rule.for_)
        to: State = "firing" if for_us == 0 else "pending"
        site = self._sites().get(s.site)
        labels = {**rule.labels, "rule": rule.id, "site": s.site, "severity": rule.severity}
        if site is not None:
            labels["pack"] = site.pack
        context = {"value": s.value, "site": s.site, "variable": s.variable,
                   "site_name": site.name if site and site.name else s.site,
                   "rule": rule.name or rule.id, "severity": rule.severity,
                   "pack": site.pack if site else ""}
        annotations = {}
        for key, template in rule.annotations.items():
            try:
                annotations[key] = render_template(template, context)
            except (KeyError, ValueError, TypeError, IndexError):
                annotations[key] = template
        base = old or Alert(id=alert_id(rule.id, s.site), rule=rule.id, site=s.site,
                            state="resolved", severity=rule.severity, started_at=now,
                            updated_at=now, episodes=0)
        fresh = msgspec.structs.replace(
            base, severity=rule.severity, variable=s.variable, labels=labels,
            annotations=annotations, started_at=now, fired_at=None, acknowledged_at=None,
            acknowledged_by=None, resolved_at=None, notified_at=None, last_notified_at=None,
            level=0, episodes=base.episodes + 1)
        self._transition(step, rule, fresh, to, now, by=ENGINE, value=s.value,
                         comment="condition true", from_state=old.state if old else None,
                         fired_at=now if to == "firing" else None)

    def _resolve(self, step: Step, rule: Rule, alert: Alert, now: int, *, value: float | None,
                 by: str, comment: str) -> None:
        notify: tuple[NotifyEvent, list[int]] | None = None
        if alert.notified_at is not None and alert.state != "pending":
            notify = ("resolved", list(range(alert.level + 1)))
        self._transition(step, rule, alert, "resolved", now, by=by, comment=comment,
                         value=value, resolved_at=now, notify=notify)

    def _transition(self, step: Step, rule: Rule, alert: Alert, to: State, now: int, *,
                    by: str, comment: str = "", value: float | None = None,
                    from_state: State | bool | None = False,
                    notify: tuple[NotifyEvent, list[int]] | None = None,
                    **updates: Any) -> Alert:
        silenced = self._silenced(alert, now)
        if value is not None:
            updates["value"] = value
        new = msgspec.structs.replace(alert, state=to, updated_at=now, seq=alert.seq + 1,
                                      silenced=silenced, **updates)
        previous = alert.state if from_state is False else from_state
        assert previous is not True
        t = Transition(alert=new.id, seq=new.seq, from_state=previous, to_state=to, at=now,
                       by=by, comment=comment, value=new.value, silenced=silenced)
        step.change.transitions.append(t)
        step.events.append({
            "type": "alert.transition", "id": new.id, "rule": new.rule, "site": new.site,
            "from": previous, "to": to, "by": by, "comment": comment, "at": time_text(now),
            "severity": new.severity, "value": new.value, "silenced": silenced,
            "annotations": new.annotations})
        if notify is None and to == "firing" and previous != "firing":
            notify = ("firing", [0])
        step.latest[new.id] = new
        if notify is not None and not silenced:
            self._notify(step, rule, new, notify[0], notify[1], now)
        return new

    def _notify(self, step: Step, rule: Rule, alert: Alert, event: NotifyEvent,
                levels: list[int], now: int) -> None:
        routes = self.route_list(rule)
        if event in ("firing", "escalated", "repeat"):
            alert = msgspec.structs.replace(
                alert, last_notified_at=now,
                notified_at=alert.notified_at if alert.notified_at is not None else now)
        payload = {**alert_payload(alert), "rule_name": rule.name or rule.id}
        for level in levels:
            if level >= len(routes):
                continue
            name, route = routes[level]
            step.change.outbox.append(OutboxItem(
                id=uuid.uuid4().hex, created_at=now, due_at=now + self.group_wait_us,
                group=f"{rule.id}|{name}", rule=rule.id, alert=alert.id, route_name=name,
                route=route, event=event, payload=payload))
        step.latest[alert.id] = alert

    def _silenced(self, alert: Alert, now: int) -> bool:
        return silenced_by(self.silences, alert.labels, alert.site, now) is not None


def _orphan(alert: Alert) -> Rule:
    """A stand-in for the rule of an alert whose rule is gone (for transitions only)."""
    from riskcast.alerts.rules import NoData

    return Rule(id=alert.rule, condition=NoData(after="1s"), severity=alert.severity)
