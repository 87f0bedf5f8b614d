"""Alerts: rules over series, a lifecycle operators can trust, notifications delivered at
least once.

- :class:`AlertService` listens to the bus beside ingest, evaluates rules (vectorized over
  sites), keeps alert state in an :class:`AlertStore` and notifies through the outbox;
- rules (:class:`Rule`) come from packs, YAML files (:func:`load_rule_file`) and the API;
- notifiers implement :class:`Notifier`: log, webhook (signed), email (SMTP).

See ``docs/alerts.md``.
"""

from riskcast.alerts.files import RuleFile, load_rule_file, parse_rule_text
from riskcast.alerts.memory import MemoryAlertStore
from riskcast.alerts.notifiers import (
    DeliveryError,
    EmailNotifier,
    LogNotifier,
    Message,
    Notifier,
    WebhookNotifier,
)
from riskcast.alerts.records import Alert, Feedback, Silence, Transition
from riskcast.alerts.routes import EmailRoute, LogRoute, Route, WebhookRoute
from riskcast.alerts.rules import Rule, parse_rule
from riskcast.alerts.service import AlertService
from riskcast.alerts.settings import AlertSettings
from riskcast.alerts.sqlite import SqliteAlertStore
from riskcast.alerts.store import AlertStore

__all__ = [
    "Alert",
    "AlertService",
    "AlertSettings",
    "AlertStore",
    "DeliveryError",
    "EmailNotifier",
    "EmailRoute",
    "Feedback",
    "LogNotifier",
    "LogRoute",
    "MemoryAlertStore",
    "Message",
    "Notifier",
    "Route",
    "Rule",
    "RuleFile",
    "Silence",
    "SqliteAlertStore",
    "Transition",
    "WebhookNotifier",
    "WebhookRoute",
    "load_rule_file",
    "parse_rule",
    "parse_rule_text",
]
