"""The log notifier: notifications as log records (the default route, ``log``)."""

from __future__ import annotations

import logging

from riskcast.alerts.notifiers.base import Message, Notifier
from riskcast.alerts.routes import LogRoute, Route

__all__ = ["LogNotifier"]

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LogNotifier(Notifier):
    """Writes one record per message to the ``riskcast.alerts.notify`` logger."""

    type = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("riskcast.alerts.notify")

    async def send(self, route: Route, message: Message, *, attempt: int) -> None:
        level = _LEVELS[route.level] if isinstance(route, LogRoute) else logging.WARNING
        self.log.log(level, "%s [%s]", message.title(), message.key,
                     extra={"alert_message": message.key, "rule": message.rule,
                            "alerts": len(message.alerts)})
