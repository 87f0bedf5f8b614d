"""The alert service's settings and their defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from riskcast.core.clock import parse_duration
from riskcast.exceptions import ConfigError, ValidationError

__all__ = ["AlertSettings"]


class AlertSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Durations are text such as ``5s``; ``tick`` and ``outbox_poll`` are seconds."""

    #: Notifications of one rule and route within this window go out as one message.
    group_wait: str = "5s"
    #: Most alert events in one message.
    max_group: int = 500
    #: Routes of a rule that names none.
    default_routes: list[str] = msgspec.field(default_factory=lambda: ["log"])
    #: How often timers run (``for``, ``no_data``, escalation, repeats); 0 turns the task off
    #: (tests call ``tick`` themselves).
    tick: float = 1.0
    #: Longest wait of the outbox worker between two looks at the store.
    outbox_poll: float = 1.0
    #: How often rules are re-read from the store (rules loaded by the CLI meanwhile).
    rules_reload: str = "10s"
    #: How often the site list is re-read in full (new sites are taken at once).
    sites_reload: str = "30s"
    #: Sent outbox rows are kept this long.
    sent_retention: str = "7d"
    #: Readings events evaluated in one slice (the loop gets a turn between slices).
    max_batch_events: int = 2000
    #: Readings events waiting for evaluation at most; beyond, the oldest are dropped and
    #: counted (a later reading of the same series evaluates the same condition again).
    max_queued_events: int = 200_000
    #: Samples kept per site for each rate-of-change window.
    ring_size: int = 32
    #: SQLite ``synchronous`` for ``alerts.db``.
    sqlite_synchronous: str = "normal"

    def __post_init__(self) -> None:
        for name in ("group_wait", "rules_reload", "sites_reload", "sent_retention"):
            try:
                parse_duration(getattr(self, name), field=name)
            except ValidationError as err:
                raise ConfigError(f"alerts setting {err}") from err
        if min(self.max_group, self.max_batch_events, self.max_queued_events) < 1 \
                or self.ring_size < 2:
            raise ConfigError("alerts settings: max_group, max_batch_events and "
                              "max_queued_events >= 1, ring_size >= 2")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AlertSettings:
        """Settings from plain data (a TOML table); ConfigError naming a wrong key.

        >>> AlertSettings.from_mapping({"group_wait": "30s"}).group_wait
        '30s'
        """
        try:
            return msgspec.convert(dict(values), cls, strict=False)
        except msgspec.ValidationError as err:
            raise ConfigError(f"alerts settings: {err}") from err

    def us(self, name: str) -> int:
        return parse_duration(getattr(self, name), field=name)
