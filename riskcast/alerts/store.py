"""The alert store contract: rules, alerts with their transitions, silences, the outbox and
feedback, written atomically.

Implementations: ``MemoryAlertStore`` (``alerts/memory.py``, for tests) and
``SqliteAlertStore`` (``alerts/sqlite.py``, ``<data_dir>/alerts.db``, the default).
Every implementation passes ``tests/alerts/test_store.py``.
"""

from __future__ import annotations

import abc
from collections.abc import Collection

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

__all__ = ["AlertStore"]


class AlertStore(abc.ABC):
    """Where alert state lives; it survives a restart."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Create or migrate the schema. Called once before any other method."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the store. Safe to call twice."""

    @abc.abstractmethod
    async def write(self, change: Change) -> None:
        """Apply every part of ``change`` in one transaction: all of it, or (raising
        ``StorageError``) none of it. So a state change and its outbox rows commit together."""

    @abc.abstractmethod
    async def rules(self) -> tuple[list[StoredRule], list[NamedRoute]]:
        """Every stored rule (deleted pack defaults included, flagged) by id, and every
        named route by name."""

    @abc.abstractmethod
    async def alerts(self, query: AlertQuery | None = None) -> list[Alert]:
        """Alerts matching ``query`` in id order, at most ``query.limit``."""

    @abc.abstractmethod
    async def transitions(self, alert: str) -> list[Transition]:
        """The transitions of one alert, oldest first (by ``seq``)."""

    @abc.abstractmethod
    async def silences(self) -> list[Silence]:
        """Every silence, expired ones included, by id."""

    @abc.abstractmethod
    async def outbox(self, statuses: Collection[str], *, due_before: int | None = None,
                     groups: Collection[str] | None = None,
                     limit: int | None = None) -> list[OutboxItem]:
        """Outbox rows in these statuses (due at or before ``due_before``, of these
        ``groups``, when given), ordered by (``due_at``, ``created_at``, ``id``)."""

    @abc.abstractmethod
    async def feedback(self, *, rule: str | None = None,
                       alert: str | None = None) -> list[Feedback]:
        """Feedback of a rule or an alert (all when neither is given), oldest first."""
