"""Notifiers: one per route type (log, webhook, email), behind one contract."""

from riskcast.alerts.notifiers.base import DeliveryError, Message, Notifier
from riskcast.alerts.notifiers.email import EmailNotifier
from riskcast.alerts.notifiers.log import LogNotifier
from riskcast.alerts.notifiers.webhook import WebhookNotifier, sign

__all__ = ["DeliveryError", "EmailNotifier", "LogNotifier", "Message", "Notifier",
           "WebhookNotifier", "default_notifiers", "sign"]


def default_notifiers() -> dict[str, Notifier]:
    """A notifier for every built-in route type."""
    return {"log": LogNotifier(), "webhook": WebhookNotifier(), "email": EmailNotifier()}
