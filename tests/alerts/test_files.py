"""Rules files: YAML with routes and rules; errors name the field as a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskcast.alerts.files import load_rule_file, parse_rule_text, store_rule_file
from riskcast.alerts.memory import MemoryAlertStore
from riskcast.alerts.routes import WebhookRoute
from riskcast.exceptions import ValidationError

GOOD = """
routes:
  ops-hook: {type: webhook, url: "https://ops.example.org/hook", secret_env: OPS_SECRET}
  oncall: {type: email, host: smtp.example.org, port: 587, starttls: true,
           from: riskcast@example.org, to: [oncall@example.org]}
rules:
  - id: river-high
    name: River level high
    selector: {pack: generic, tags: {basin: north}}
    condition: {kind: threshold, series: level_m, above: 3.0, clear_below: 2.8}
    for: 10m
    severity: critical
    annotations: {summary: "Level {value} m at {site_name}"}
    routes: [log, ops-hook, oncall]
    escalate_after: 15m
    repeat_interval: 4h
  - id: station-silent
    condition: {kind: no_data, after: 30m}
"""


def test_a_rules_file_parses() -> None:
    parsed = parse_rule_text(GOOD, known_packs={"generic"})
    assert sorted(parsed.routes) == ["oncall", "ops-hook"]
    assert isinstance(parsed.routes["ops-hook"], WebhookRoute)
    assert [r.id for r in parsed.rules] == ["river-high", "station-silent"]


def test_a_bare_list_of_rules_is_a_file_too() -> None:
    parsed = parse_rule_text("- {id: a, condition: {kind: no_data, after: 1h}}")
    assert [r.id for r in parsed.rules] == ["a"]


@pytest.mark.parametrize(("text", "field"), [
    ("rules: [{id: a, condition: {kind: threshold, series: t, above: hot}}]",
     "rules[0].condition.above"),
    ("rules:\n  - {id: a, condition: {kind: no_data, after: 1h}}\n"
     "  - {id: a, condition: {kind: no_data, after: 1h}}", "rules[1].id"),
    ("rules: [{id: a, routes: [pager], condition: {kind: no_data, after: 1h}}]",
     "rules[0].routes[0]"),
    ("routes: {hook: {type: webhook}}", "routes.hook.url"),
    ("routes: {hook: {type: carrier-pigeon}}", "routes.hook.type"),
    ("routes: {'bad name': {type: log}}", "routes.bad name"),
    ("routes: [a]", "routes"),
    ("rules: {a: 1}", "rules"),
    ("alerts: []", "alerts"),
])
def test_errors_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_rule_text(text)
    assert err.value.field == field, str(err.value)


def test_broken_yaml_says_where() -> None:
    with pytest.raises(ValidationError, match="line 2"):
        parse_rule_text("rules:\n\t- a\n")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        load_rule_file(tmp_path / "missing.yaml")


@pytest.mark.anyio
async def test_storing_a_file_writes_routes_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    store = MemoryAlertStore()
    await store_rule_file(store, load_rule_file(path), now=5)
    rules, routes = await store.rules()
    assert [(r.rule.id, r.source) for r in rules] == [("river-high", "file"),
                                                      ("station-silent", "file")]
    assert [r.name for r in routes] == ["oncall", "ops-hook"]


def test_the_example_in_the_docs_is_a_valid_rules_file() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"
    text = docs.read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    parsed = parse_rule_text(block, known_packs={"water", "wildfire"})
    assert [r.id for r in parsed.rules] == ["river-high", "river-rising", "dry-air",
                                            "station-silent", "fire-danger-high", "fwi-high"]
