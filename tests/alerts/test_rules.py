"""Rules: the model, checks that name the field, templates, the wildfire defaults."""

from __future__ import annotations

from typing import Any

import pytest

from riskcast.alerts.routes import EmailRoute, LogRoute, WebhookRoute, redact_route
from riskcast.alerts.rules import ClassCondition, Rate, Threshold, parse_rule, render_template
from riskcast.exceptions import ValidationError
from riskcast.packs.registry import discover
from riskcast.packs.wildfire import RULES as WILDFIRE_RULES

BASE: dict[str, Any] = {"id": "r1", "condition": {"kind": "threshold", "series": "temp_c",
                                                  "above": 40}}


def test_wildfire_default_rules_load() -> None:
    rules = [parse_rule(r, known_packs={"wildfire"}) for r in WILDFIRE_RULES]
    assert [r.id for r in rules] == ["wildfire-fwi-high", "wildfire-fwi-very-high",
                                     "wildfire-fwi-extreme"]
    assert all(isinstance(r.condition, ClassCondition) for r in rules)
    assert [r.condition.at_least for r in rules] == [3, 4, 5]  # type: ignore[union-attr]
    assert [r.severity for r in rules] == ["warning", "critical", "critical"]


def test_every_installed_pack_default_rule_loads() -> None:
    packs = discover()
    for pack in packs.values():
        for i, raw in enumerate(pack.rules):
            rule = parse_rule(raw, field=f"{pack.name}.rules[{i}]", known_packs=set(packs))
            assert rule.selector.pack in (None, pack.name), rule.id


def test_a_full_rule_parses() -> None:
    rule = parse_rule({
        "id": "river-rise", "name": "River rising fast",
        "selector": {"pack": "water", "sites": ["g1"], "tags": {"basin": "north"}},
        "condition": {"kind": "rate", "series": "level_m", "window": "1h", "above": 0.5},
        "for": "10m", "severity": "critical", "labels": {"team": "hydro"},
        "annotations": {"summary": "{site_name}: +{value:.2f} m in an hour"},
        "routes": ["log", {"type": "webhook", "url": "https://x.example/h", "secret": "k"},
                   {"type": "email", "host": "smtp", "from": "a@x.org", "to": ["b@x.org"]}],
        "escalate_after": "15m", "repeat_interval": "4h"})
    assert isinstance(rule.condition, Rate) and rule.for_ == "10m"
    assert [type(r) for r in rule.routes] == [str, WebhookRoute, EmailRoute]


@pytest.mark.parametrize(("change", "field"), [
    ({"id": "bad id"}, "id"),
    ({"id": None}, "id"),
    ({"condition": None}, "condition"),
    ({"condition": {"kind": "nope"}}, "condition.kind"),
    ({"condition": {"kind": "threshold", "series": "t"}}, "condition.above"),
    ({"condition": {"kind": "threshold", "series": "t", "above": 1, "below": 0}},
     "condition.above"),
    ({"condition": {"kind": "threshold", "series": "t", "above": 1, "clear_below": 2}},
     "condition.clear_below"),
    ({"condition": {"kind": "threshold", "series": "t", "below": 1, "clear_above": 0}},
     "condition.clear_above"),
    ({"condition": {"kind": "threshold", "series": "t", "above": 1, "clear_above": 2}},
     "condition.clear_above"),
    ({"condition": {"kind": "threshold", "series": "t", "abov": 1}}, "condition.abov"),
    ({"condition": {"kind": "threshold", "series": "bad name", "above": 1}},
     "condition.series"),
    ({"condition": {"kind": "rate", "series": "t", "above": 1}}, "condition.window"),
    ({"condition": {"kind": "rate", "series": "t", "above": 1, "window": "0s"}},
     "condition.window"),
    ({"condition": {"kind": "no_data", "after": "soon"}}, "condition.after"),
    ({"condition": {"kind": "class", "series": "c"}}, "condition.at_least"),
    ({"for": "ten minutes"}, "for"),
    ({"for": 10}, "for"),
    ({"severity": "fatal"}, "severity"),
    ({"selector": {"sites": ["a b"]}}, "selector.sites[0]"),
    ({"selector": {"pak": "x"}}, "selector.pak"),
    ({"selector": {"pack": "nope"}}, "selector.pack"),
    ({"annotations": {"summary": "{nope}"}}, "annotations.summary"),
    ({"annotations": {"summary": "{value:zz}"}}, "annotations.summary"),
    ({"routes": ["nowhere"]}, "routes[0]"),
    ({"routes": [{"type": "webhook"}]}, "routes[0].url"),
    ({"routes": [{"type": "webhook", "url": "ftp://x"}]}, "routes[0].url"),
    ({"routes": ["log", {"type": "email", "host": "h", "from": "x", "to": ["b@x"]}]},
     "routes[1].from"),
    ({"routes": [{"type": "email", "host": "h", "from": "a@x", "to": []}]}, "routes[0].to"),
    ({"routes": [{"type": "log", "attempts": 0}]}, "routes[0].attempts"),
    ({"routes": [{"type": "log", "backoff": "x"}]}, "routes[0].backoff"),
    ({"escalate_after": "5m"}, "routes"),
    ({"repeat_interval": "0s"}, "repeat_interval"),
    ({"unknown": 1}, "unknown"),
])
def test_invalid_rules_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_rule({**BASE, **change}, known_packs={"wildfire", "generic"})
    assert err.value.field == field, str(err.value)


def test_field_paths_carry_a_prefix() -> None:
    with pytest.raises(ValidationError) as err:
        parse_rule({**BASE, "severity": 1}, field="rules[3]")
    assert err.value.field == "rules[3].severity"


def test_hysteresis_defaults_to_the_threshold() -> None:
    rule = parse_rule(BASE)
    assert isinstance(rule.condition, Threshold) and rule.condition.clear_below is None


def test_templates_fill_value_site_and_variable() -> None:
    context = {"value": 1234.5678, "site": "s1", "variable": "fwi"}
    assert render_template("{variable}={value} at {site}", context) == "fwi=1234.57 at s1"
    assert render_template("{value:.1f}", context) == "1234.6"
    assert render_template("{value}", {"value": None}) == "n/a"


def test_secrets_are_redacted_for_display() -> None:
    hook = redact_route(WebhookRoute(url="http://x", secret="k"))
    mail = redact_route(EmailRoute(host="h", sender="a@x", to=["b@x"], password="p"))
    assert (hook.secret, mail.password) == ("***", "***")  # type: ignore[union-attr]
    assert redact_route(LogRoute()) == LogRoute()


def test_drift_rule_reads_the_model_prediction_series() -> None:
    from riskcast.alerts.rules import Drift
    from riskcast.models.records import prediction_variable

    rule = parse_rule({"id": "d", "condition": {"kind": "drift", "model": "water-do.forecast",
                                                "threshold": 0.25, "window": "6h"}})
    assert isinstance(rule.condition, Drift)
    assert rule.series == prediction_variable("water-do.forecast") == "pred_water_do_forecast"
    assert (rule.condition.feature, rule.condition.statistic) == ("any", "psi")
    assert rule.condition.window_us == 6 * 3_600_000_000


@pytest.mark.parametrize(("condition", "field"), [
    ({"threshold": 0.2}, "condition.model"),
    ({"model": "m"}, "condition.threshold"),
    ({"model": "m", "threshold": 0}, "condition.threshold"),
    ({"model": "m", "threshold": 0.2, "statistic": "chi2"}, "condition.statistic"),
    ({"model": "m", "threshold": 0.2, "clear_below": 0.3}, "condition.clear_below"),
    ({"model": "m", "threshold": 0.2, "window": "soon"}, "condition.window"),
    ({"model": "m", "threshold": 0.2, "min_rows": 1}, "condition.min_rows"),
    ({"model": "no way", "threshold": 0.2}, "condition.model"),
])
def test_bad_drift_rules_name_the_field(condition: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_rule({"id": "d", "condition": {"kind": "drift", **condition}})
    assert err.value.field == field
