"""What the alert store keeps: alerts, their transitions, silences, the outbox, feedback.

Times are integer microseconds since the epoch (RFC 3339 only at the API edge).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from riskcast.alerts.routes import Route
from riskcast.alerts.rules import Rule, Severity

__all__ = ["STATES", "Alert", "AlertQuery", "Change", "Feedback", "Matcher", "NamedRoute",
           "OutboxItem", "OutboxUpdate", "Silence", "State", "StoredRule", "Transition",
           "Verdict", "alert_id"]

State = Literal["pending", "firing", "acknowledged", "resolved"]
STATES: tuple[State, ...] = ("pending", "firing", "acknowledged", "resolved")
#: ``open`` alerts are the ones not resolved.
OPEN_STATES = frozenset({"pending", "firing", "acknowledged"})
Verdict = Literal["true_positive", "false_positive", "unsure"]
RuleSource = Literal["pack", "file", "api"]
OutboxStatus = Literal["pending", "claimed", "sent", "dead"]
#: What a notification says happened.
NotifyEvent = Literal["firing", "resolved", "escalated", "repeat"]


def alert_id(rule: str, site: str) -> str:
    """One alert per (rule, site): its id.

    >>> alert_id("wildfire-fwi-high", "s1")
    'wildfire-fwi-high:s1'
    """
    return f"{rule}:{site}"


class Alert(msgspec.Struct, kw_only=True):
    """One rule for one site, across its episodes (repeats are folded in)."""

    id: str
    rule: str
    site: str
    state: State
    severity: Severity
    variable: str | None = None
    #: The value at the last transition.
    value: float | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    #: Start of the current episode (entering pending, or firing directly).
    started_at: int
    fired_at: int | None = None
    acknowledged_at: int | None = None
    acknowledged_by: str | None = None
    resolved_at: int | None = None
    updated_at: int
    #: First notification of the current episode, and the latest one.
    notified_at: int | None = None
    last_notified_at: int | None = None
    #: Escalation level: index of the route the alert has reached.
    level: int = 0
    #: How many times the alert has started (pending or firing) since it was created.
    episodes: int = 1
    #: Sequence number of its latest transition.
    seq: int = 0
    #: Whether a silence matched at the latest transition.
    silenced: bool = False


class Transition(msgspec.Struct, kw_only=True):
    """A change of an alert's state (or an escalation), with who and when."""

    alert: str
    seq: int
    from_state: State | None = msgspec.field(default=None, name="from")
    to_state: State = msgspec.field(name="to")
    at: int
    by: str
    comment: str = ""
    value: float | None = None
    silenced: bool = False


class Matcher(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A label matcher: ``=`` equal, ``!=`` not equal, ``=~`` / ``!~`` regex (full match)."""

    label: str
    value: str
    op: Literal["=", "!=", "=~", "!~"] = "="


class Silence(msgspec.Struct, kw_only=True):
    """Alerts matching every matcher (and one of ``sites``, when given) within
    [``starts_at``, ``ends_at``) are recorded but not notified."""

    id: str
    matchers: list[Matcher] = []
    sites: list[str] = []
    starts_at: int
    ends_at: int
    comment: str = ""
    created_by: str = ""
    created_at: int


class OutboxItem(msgspec.Struct, kw_only=True):
    """A notification to send for one alert event, written with the state change.

    ``pending`` rows wait for ``due_at`` (the grouping window); the worker then *claims* all
    pending rows of the same ``group`` into one message (``message`` is its idempotency
    key), and marks them ``sent`` or, after the last attempt, ``dead``. A claimed row whose
    send was interrupted is sent again with the same key.
    """

    id: str
    created_at: int
    due_at: int
    group: str
    rule: str
    alert: str
    route_name: str
    route: Route
    event: NotifyEvent
    payload: dict[str, Any] = {}
    status: OutboxStatus = "pending"
    message: str | None = None
    attempts: int = 0
    last_error: str | None = None
    sent_at: int | None = None


class OutboxUpdate(msgspec.Struct, kw_only=True):
    """The mutable part of an outbox row (its payload never changes after the insert)."""

    id: str
    status: OutboxStatus
    due_at: int
    message: str | None = None
    attempts: int = 0
    last_error: str | None = None
    sent_at: int | None = None

    @classmethod
    def of(cls, item: OutboxItem, **changes: Any) -> OutboxUpdate:
        """The update that gives ``item`` these ``changes``."""
        fields: dict[str, Any] = {
            "id": item.id, "status": item.status, "due_at": item.due_at,
            "message": item.message, "attempts": item.attempts,
            "last_error": item.last_error, "sent_at": item.sent_at}
        fields.update(changes)
        return cls(**fields)


class Feedback(msgspec.Struct, kw_only=True):
    """What a person said about an alert (its current episode)."""

    id: str
    alert: str
    rule: str
    site: str
    verdict: Verdict
    comment: str = ""
    by: str = ""
    at: int
    episode: int = 1


class StoredRule(msgspec.Struct, kw_only=True):
    """A rule with where it came from; ``deleted`` keeps a deleted pack default deleted."""

    rule: Rule
    source: RuleSource
    updated_at: int
    deleted: bool = False


class NamedRoute(msgspec.Struct, kw_only=True):
    name: str
    route: Route
    source: RuleSource = "file"
    updated_at: int = 0


class AlertQuery(msgspec.Struct, kw_only=True):
    """Filters for listing alerts, ordered by id; ``after`` is the cursor (an id)."""

    id: str | None = None
    state: str | None = None
    rule: str | None = None
    site: str | None = None
    after: str | None = None
    limit: int | None = None

    def sql(self, table: str, mark: str) -> tuple[str, list[str]]:
        """The ``SELECT body`` of these filters on ``table``, with ``mark`` as the
        parameter placeholder (``?`` for SQLite, ``%s`` for PostgreSQL), and its args."""
        where, args = [], []
        for column, value in (("id", self.id), ("state", self.state), ("rule", self.rule),
                              ("site", self.site)):
            if value is not None:
                where.append(f"{column} = {mark}")
                args.append(value)
        if self.after is not None:
            where.append(f"id > {mark}")
            args.append(self.after)
        text = f"SELECT body FROM {table}"
        if where:
            text += " WHERE " + " AND ".join(where)
        text += " ORDER BY id"
        if self.limit is not None:
            text += f" LIMIT {int(self.limit)}"
        return text, args


class Change(msgspec.Struct, kw_only=True):
    """Everything one store write applies, atomically. Rows with an id replace the row
    with the same id (rules by rule id, routes by name)."""

    rules: list[StoredRule] = []
    delete_rules: list[str] = []
    routes: list[NamedRoute] = []
    alerts: list[Alert] = []
    transitions: list[Transition] = []
    outbox: list[OutboxItem] = []
    #: Status changes of existing outbox rows (applied after the inserts).
    outbox_updates: list[OutboxUpdate] = []
    silences: list[Silence] = []
    delete_silences: list[str] = []
    feedback: list[Feedback] = []
    #: Delete ``sent`` outbox rows sent before this time.
    prune_sent_before: int | None = None

    def __bool__(self) -> bool:
        return any((self.rules, self.delete_rules, self.routes, self.alerts, self.transitions,
                    self.outbox, self.outbox_updates, self.silences, self.delete_silences,
                    self.feedback, self.prune_sent_before is not None))
