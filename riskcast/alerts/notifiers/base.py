"""The notifier contract: deliver one message to one route, once, or say why not.

Notifiers never retry and never sleep: the outbox owns attempts, backoff and the dead-letter
list, so a slow or failing receiver holds up only its own messages. Implementations:
``LogNotifier`` (``log.py``), ``WebhookNotifier`` (``webhook.py``), ``EmailNotifier``
(``email.py``); one per route ``type``.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import msgspec

from riskcast.alerts.routes import Route
from riskcast.exceptions import RiskcastError

__all__ = ["DeliveryError", "Message", "Notifier"]


class DeliveryError(RiskcastError):
    """A delivery failed. ``retryable`` says whether another attempt may succeed;
    ``retry_after`` (seconds) is the receiver's wish, when it said one."""

    def __init__(self, message: str, *, retryable: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Message(msgspec.Struct, kw_only=True):
    """One notification: the events of one rule for one route, grouped.

    ``key`` is the idempotency key: a message sent again (after a crash, or a retry) has the
    same key and the same body.
    """

    key: str
    rule: str
    rule_name: str
    severity: str
    route: str
    #: One entry per alert event: the alert's JSON form plus ``event``.
    alerts: list[dict[str, Any]]

    @property
    def status(self) -> str:
        """``firing``, ``resolved``, or ``mixed``; escalations and repeats count as firing."""
        kinds = {"resolved" if a.get("event") == "resolved" else "firing" for a in self.alerts}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def body(self) -> bytes:
        """The JSON body (what a webhook receives and its signature covers)."""
        return msgspec.json.encode({
            "version": 1, "id": self.key, "status": self.status,
            "rule": {"id": self.rule, "name": self.rule_name, "severity": self.severity},
            "route": self.route, "alerts": self.alerts})

    def title(self) -> str:
        """A one-line subject.

        >>> Message(key="k", rule="r", rule_name="River high", severity="critical",
        ...         route="log", alerts=[{"event": "firing", "site": "s1"}]).title()
        '[FIRING] River high (critical): s1'
        """
        sites = sorted({str(a.get("site")) for a in self.alerts})
        where = ", ".join(sites[:5]) + (f" and {len(sites) - 5} more" if len(sites) > 5 else "")
        return f"[{self.status.upper()}] {self.rule_name or self.rule} ({self.severity}): {where}"

    def text(self) -> str:
        """A plain-text rendering: one paragraph per alert event."""
        lines = [self.title(), ""]
        for a in self.alerts:
            summary = (a.get("annotations") or {}).get("summary", "")
            lines.append(f"- {a.get('event', '?').upper()} {a.get('site')}: "
                         f"{a.get('variable')} = {a.get('value')}  state {a.get('state')}")
            if summary:
                lines.append(f"  {summary}")
            for key, value in sorted((a.get("annotations") or {}).items()):
                if key != "summary":
                    lines.append(f"  {key}: {value}")
        lines += ["", f"idempotency key: {self.key}"]
        return "\n".join(lines)


class Notifier(abc.ABC):
    """Sends messages for routes of one ``type``."""

    #: The route type this notifier serves (``log``, ``webhook``, ``email``).
    type: ClassVar[str]

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections or clients; called once by the service before any send."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`start` opened. Safe to call twice."""

    @abc.abstractmethod
    async def send(self, route: Route, message: Message, *, attempt: int) -> None:
        """Deliver ``message`` once (``attempt`` counts from 1), or raise DeliveryError.

        Returning means the receiver accepted it. Any other exception counts as a
        retryable failure."""
