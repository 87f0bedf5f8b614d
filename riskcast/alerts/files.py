"""Rules files (YAML): a ``routes`` section of named routes and a ``rules`` list.

::

    routes:
      ops-hook: {type: webhook, url: "https://ops.example.org/hook", secret_env: OPS_SECRET}
    rules:
      - id: river-high
        condition: {kind: threshold, series: level_m, above: 3.0, clear_below: 2.8}
        routes: [log, ops-hook]

Errors name the field as a path: ``rules[2].condition.above``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from riskcast.alerts.records import Change, NamedRoute, StoredRule
from riskcast.alerts.routes import BUILTIN_ROUTES, ROUTE_NAME, Route, check_route
from riskcast.alerts.rules import Rule, decode_error, parse_rule
from riskcast.alerts.store import AlertStore
from riskcast.exceptions import ValidationError

__all__ = ["RuleFile", "load_rule_file", "parse_rule_text", "store_rule_file"]


class RuleFile(msgspec.Struct, kw_only=True):
    routes: dict[str, Route] = {}
    rules: list[Rule] = []


def parse_rule_text(text: str, *, known_routes: set[str] | None = None,
                    known_packs: set[str] | None = None) -> RuleFile:
    """Parse and check a rules file; raises ValidationError naming the field at fault."""
    import yaml

    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValidationError(f"not valid YAML{where}: {err}", field=None) from err
    if data is None:
        data = {}
    if isinstance(data, list):
        data = {"rules": data}
    if not isinstance(data, dict):
        raise ValidationError("a rules file is a mapping with 'routes' and 'rules'", field=None)
    unknown = set(data) - {"routes", "rules"}
    if unknown:
        first = sorted(map(str, unknown))[0]
        raise ValidationError(f"unknown section {first!r} (use routes, rules)", field=first)
    raw_routes = data.get("routes") or {}
    if not isinstance(raw_routes, dict):
        raise ValidationError("routes is a mapping of name to route", field="routes")
    routes: dict[str, Route] = {}
    for name, raw in raw_routes.items():
        where = f"routes.{name}"
        if not isinstance(name, str) or not ROUTE_NAME.match(name):
            raise ValidationError(f"route name {name!r} is not valid", field=where)
        try:
            route: Route = msgspec.convert(raw, Route)
        except msgspec.ValidationError as err:
            raise decode_error(err, where) from err
        routes[name] = check_route(route, where)
    names = set(routes) | set(BUILTIN_ROUTES) | (known_routes or set())
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise ValidationError("rules is a list", field="rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        rule = parse_rule(raw, field=f"rules[{i}]", known_routes=names,
                          known_packs=known_packs)
        if rule.id in seen:
            raise ValidationError(f"rule id {rule.id!r} appears twice", field=f"rules[{i}].id")
        seen.add(rule.id)
        rules.append(rule)
    return RuleFile(routes=routes, rules=rules)


def load_rule_file(path: Path, **known: Any) -> RuleFile:
    """Read and check a rules file (see :func:`parse_rule_text`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValidationError(f"cannot read {path}: {err.strerror}", field=None) from err
    return parse_rule_text(text, **known)


async def store_rule_file(store: AlertStore, rules: RuleFile, now: int) -> Change:
    """Write a checked rules file into a store (one transaction): its routes by name and
    its rules by id, replacing what had the same name or id (pack defaults included)."""
    change = Change(
        routes=[NamedRoute(name=n, route=r, source="file", updated_at=now)
                for n, r in rules.routes.items()],
        rules=[StoredRule(rule=r, source="file", updated_at=now) for r in rules.rules])
    await store.write(change)
    return change
