"""The public API of ``riskcast.alerts`` and ``riskcast.feedback`` changes only on purpose."""

import riskcast.alerts
import riskcast.feedback
from riskcast.exceptions import RiskcastError


def test_alerts_exports() -> None:
    assert sorted(riskcast.alerts.__all__) == sorted([
        "Alert", "AlertService", "AlertSettings", "AlertStore", "DeliveryError",
        "EmailNotifier", "EmailRoute", "Feedback", "LogNotifier", "LogRoute",
        "MemoryAlertStore", "Message", "Notifier", "Route", "Rule", "RuleFile", "Silence",
        "SqliteAlertStore", "Transition", "WebhookNotifier", "WebhookRoute", "load_rule_file",
        "parse_rule", "parse_rule_text"])
    for name in riskcast.alerts.__all__:
        assert hasattr(riskcast.alerts, name), name
    assert issubclass(riskcast.alerts.DeliveryError, RiskcastError)


def test_feedback_exports() -> None:
    assert sorted(riskcast.feedback.__all__) == sorted([
        "Counts", "Effectiveness", "MannKendall", "Week", "beta_posterior_mean",
        "beta_posterior_quantile", "effectiveness", "mann_kendall", "sens_slope",
        "wilson_lower_bound", "week_start"])
    for name in riskcast.feedback.__all__:
        assert hasattr(riskcast.feedback, name), name
