"""Alert rules: what to watch, when to fire, whom to tell.

A rule selects sites (by pack, ids or tags), watches one series per site with a condition,
waits ``for`` before firing, and notifies its routes in order (escalating when nobody
acknowledges within ``escalate_after``, repeating every ``repeat_interval``).

Condition kinds (``kind``):

- ``threshold``: fires at or above ``above`` and resolves only below ``clear_below``
  (hysteresis; default: ``above``), or the mirror image with ``below`` / ``clear_above``;
- ``rate``: the same comparison on the change of the series over ``window``;
- ``no_data``: nothing from the site (or its ``series``) for ``after``;
- ``class``: the value, a class index such as wildfire's ``danger_class``, is ``at_least``
  a class or one of ``any_of``;
- ``drift``: the feature rows a served model saw at the site within ``window`` have drifted
  from its training reference: PSI or KS of one ``feature`` (or the largest of ``any``) at
  or above ``threshold`` (resolving below ``clear_below``). Evaluated each time the model's
  prediction for the site arrives (its series ``pred_<model>``).

Any derived series (``fwi``, a WQI, a model's probability) is just another series.
"""

from __future__ import annotations

import re
import string
from typing import Any, Literal

import msgspec

from riskcast.alerts.routes import BUILTIN_ROUTES, ROUTE_NAME, Route, check_route
from riskcast.core.clock import parse_duration
from riskcast.exceptions import ValidationError

__all__ = ["TEMPLATE_FIELDS", "ClassCondition", "Condition", "Drift", "NoData", "Rate", "Rule",
           "Selector", "Threshold", "check_rule", "decode_error", "parse_rule",
           "render_template", "rule_to_dict"]

RULE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SERIES = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
Severity = Literal["info", "warning", "critical"]
#: Names an annotation template may use.
TEMPLATE_FIELDS = ("value", "site", "site_name", "variable", "rule", "severity", "pack")


class Selector(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which sites a rule watches; empty matches every site. All given parts must match."""

    pack: str | None = None
    sites: list[str] = []
    tags: dict[str, str] = {}


class _Compare(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    series: str
    #: Fire when the measure is at or above this ...
    above: float | None = None
    #: ... and resolve only once it is below this (default: ``above``).
    clear_below: float | None = None
    #: Or fire when it is at or below this ...
    below: float | None = None
    #: ... and resolve only once it is above this (default: ``below``).
    clear_above: float | None = None


class Threshold(_Compare, kw_only=True, tag="threshold"):
    """The latest value against a threshold, with hysteresis."""


class Rate(_Compare, kw_only=True, tag="rate"):
    """The change of the series over ``window`` (latest value minus the oldest kept within
    the window) against a threshold, with hysteresis."""

    window: str


class NoData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind",
             tag="no_data"):
    """No reading of ``series`` (any series when omitted) has arrived for ``after``."""

    after: str
    series: str | None = None


class ClassCondition(msgspec.Struct, kw_only=True, forbid_unknown_fields=True,
                     tag_field="kind", tag="class"):
    """A class index (rounded to an integer) at least ``at_least``, or one of ``any_of``."""

    series: str
    at_least: int | None = None
    any_of: list[int] = []


class Drift(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind",
            tag="drift"):
    """Drift of a served model's live feature rows at a site against its training reference.

    >>> Drift(model="wildfire-occurrence", threshold=0.25).series
    'pred_wildfire_occurrence'
    """

    model: str
    #: A feature of the production version, or ``any`` (the largest over all features).
    feature: str = "any"
    statistic: Literal["psi", "ks"] = "psi"
    threshold: float
    clear_below: float | None = None
    #: How far back from the newest feature row the rows compared reach.
    window: str = "24h"
    #: Fewer rows than this within the window: no verdict (the condition stays as it was).
    min_rows: int = 30

    @property
    def series(self) -> str:
        """The series whose arrival triggers the check: the model's prediction variable (as
        ``riskcast.models.records.prediction_variable`` names it)."""
        return "pred_" + self.model.lower().replace("-", "_").replace(".", "_")

    @property
    def window_us(self) -> int:
        return parse_duration(self.window)


Condition = Threshold | Rate | NoData | ClassCondition | Drift


class Rule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One alert rule. Durations are text such as ``90s``, ``15m``, ``1h``."""

    id: str
    name: str = ""
    selector: Selector = msgspec.field(default_factory=Selector)
    condition: Condition
    #: How long the condition must hold (state ``pending``) before the alert fires.
    for_: str = msgspec.field(default="0s", name="for")
    severity: Severity = "warning"
    labels: dict[str, str] = {}
    #: Templates; may use {value}, {site}, {site_name}, {variable}, {rule}, {severity}, {pack}.
    annotations: dict[str, str] = {}
    #: Route names or inline routes, in escalation order; empty means the default route.
    routes: list[str | Route] = []
    #: A firing alert nobody acknowledged within this goes to the next route.
    escalate_after: str | None = None
    #: A firing, unacknowledged alert is notified again this often.
    repeat_interval: str | None = None
    enabled: bool = True

    @property
    def series(self) -> str | None:
        """The series the condition reads (``None``: any, for ``no_data``)."""
        return self.condition.series


def decode_error(err: msgspec.ValidationError, prefix: str = "") -> ValidationError:
    """A msgspec error as a ValidationError whose ``field`` is a path like ``condition.above``.

    >>> try:
    ...     msgspec.convert({"id": "r", "condition": {"kind": "threshold"}}, Rule)
    ... except msgspec.ValidationError as err:
    ...     decode_error(err).field
    'condition.series'
    """
    text = str(err)
    match = re.search(r" - at `\$(.*)`$", text)
    path = match.group(1) if match else ""
    message = text[: match.start()] if match else text
    named = re.search(r"(?:missing required|unknown) field `([^`]+)`", message)
    if named:
        path = f"{path}.{named.group(1)}"
    field = (prefix + path).lstrip(".") or None
    return ValidationError(f"{field}: {message}" if field else message, field=field)


def parse_rule(obj: Any, *, field: str = "", known_routes: set[str] | None = None,
               known_packs: set[str] | None = None) -> Rule:
    """A rule from plain data (a dict from JSON or YAML), checked; errors name the field."""
    try:
        rule = msgspec.convert(obj, Rule)
    except msgspec.ValidationError as err:
        raise decode_error(err, field) from err
    return check_rule(rule, field=field, known_routes=known_routes, known_packs=known_packs)


def check_rule(rule: Rule, *, field: str = "", known_routes: set[str] | None = None,
               known_packs: set[str] | None = None) -> Rule:
    """Return ``rule`` if it is consistent, else raise ValidationError naming the field."""
    at = (field + ".") if field else ""
    if not RULE_ID.match(rule.id):
        raise ValidationError(f"id {rule.id!r}: 1-64 letters, digits, '_' or '-'",
                              field=f"{at}id")
    if len(rule.name) > 200:
        raise ValidationError("name is longer than 200 characters", field=f"{at}name")
    _check_selector(rule.selector, f"{at}selector", known_packs)
    _check_condition(rule.condition, f"{at}condition")
    parse_duration(rule.for_, field=f"{at}for")
    for name in ("escalate_after", "repeat_interval"):
        value = getattr(rule, name)
        if value is not None and parse_duration(value, field=f"{at}{name}") <= 0:
            raise ValidationError(f"{name} must be positive", field=f"{at}{name}")
    for key, template in rule.annotations.items():
        _check_template(template, f"{at}annotations.{key}")
    routes = known_routes if known_routes is not None else set(BUILTIN_ROUTES)
    for i, route in enumerate(rule.routes):
        where = f"{at}routes[{i}]"
        if isinstance(route, str):
            if not ROUTE_NAME.match(route):
                raise ValidationError(f"route name {route!r} is not valid", field=where)
            if route not in routes and route not in BUILTIN_ROUTES:
                raise ValidationError(f"no route named {route!r} (known: "
                                      f"{', '.join(sorted(routes | set(BUILTIN_ROUTES)))})",
                                      field=where)
        else:
            check_route(route, where)
    if rule.escalate_after is not None and len(rule.routes) < 2:
        raise ValidationError("escalation needs at least two routes", field=f"{at}routes")
    return rule


def _check_selector(selector: Selector, at: str, known_packs: set[str] | None) -> None:
    if known_packs is not None and selector.pack is not None and selector.pack not in known_packs:
        raise ValidationError(f"pack {selector.pack!r} is not loaded", field=f"{at}.pack")
    for i, site in enumerate(selector.sites):
        if not RULE_ID.match(site):
            raise ValidationError(f"site id {site!r} is not valid", field=f"{at}.sites[{i}]")


def _check_condition(c: Condition, at: str) -> None:
    if isinstance(c, Drift):
        _check_drift(c, at)
        return
    if c.series is not None and not _SERIES.match(c.series):
        raise ValidationError(f"series {c.series!r} is not a variable name",
                              field=f"{at}.series")
    if isinstance(c, NoData):
        if parse_duration(c.after, field=f"{at}.after") <= 0:
            raise ValidationError("after must be positive", field=f"{at}.after")
        return
    if isinstance(c, ClassCondition):
        if (c.at_least is None) == (not c.any_of):
            raise ValidationError("give at_least or any_of (one of them)", field=f"{at}.at_least")
        return
    if isinstance(c, Rate) and parse_duration(c.window, field=f"{at}.window") <= 0:
        raise ValidationError("window must be positive", field=f"{at}.window")
    if (c.above is None) == (c.below is None):
        raise ValidationError("give above or below (one of them)", field=f"{at}.above")
    if c.above is not None:
        if c.clear_above is not None:
            raise ValidationError("clear_above goes with below", field=f"{at}.clear_above")
        if c.clear_below is not None and c.clear_below > c.above:
            raise ValidationError(f"clear_below {c.clear_below} is above the firing "
                                  f"threshold {c.above}", field=f"{at}.clear_below")
    if c.below is not None:
        if c.clear_below is not None:
            raise ValidationError("clear_below goes with above", field=f"{at}.clear_below")
        if c.clear_above is not None and c.clear_above < c.below:
            raise ValidationError(f"clear_above {c.clear_above} is below the firing "
                                  f"threshold {c.below}", field=f"{at}.clear_above")


_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _check_drift(c: Drift, at: str) -> None:
    if not _MODEL.match(c.model):
        raise ValidationError(f"model {c.model!r} is not a model name", field=f"{at}.model")
    if c.feature != "any" and not _SERIES.match(c.feature):
        raise ValidationError(f"feature {c.feature!r} is not a feature name",
                              field=f"{at}.feature")
    if not c.threshold > 0:
        raise ValidationError("threshold must be positive", field=f"{at}.threshold")
    if c.clear_below is not None and not 0 <= c.clear_below <= c.threshold:
        raise ValidationError(f"clear_below {c.clear_below} must be in [0, threshold]",
                              field=f"{at}.clear_below")
    if parse_duration(c.window, field=f"{at}.window") <= 0:
        raise ValidationError("window must be positive", field=f"{at}.window")
    if not 2 <= c.min_rows <= 2_000:
        raise ValidationError("min_rows must be in [2, 2000] (2,000 rows are kept per site)",
                              field=f"{at}.min_rows")


def _check_template(template: str, at: str) -> None:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as err:
        raise ValidationError(f"template: {err}", field=at) from err
    for name in names:
        if name not in TEMPLATE_FIELDS:
            raise ValidationError(f"template field {{{name}}} is unknown (use "
                                  f"{', '.join(TEMPLATE_FIELDS)})", field=at)
    try:
        render_template(template, {"value": 1.0, "site": "s", "site_name": "s",
                                   "variable": "v", "rule": "r", "severity": "warning",
                                   "pack": "p"})
    except (ValueError, TypeError) as err:
        raise ValidationError(f"template: {err}", field=at) from err


class _Value(float):
    """A float that prints with ``g`` unless the template gives a format."""

    def __format__(self, spec: str) -> str:
        return format(float(self), spec or "g")


def render_template(template: str, context: dict[str, Any]) -> str:
    """Fill an annotation template; ``{value}`` prints compactly.

    >>> render_template("FWI {value} at {site}", {"value": 31.25, "site": "s1"})
    'FWI 31.25 at s1'
    >>> render_template("{value:.1f}", {"value": 2.0})
    '2.0'
    """
    ctx = dict(context)
    value = ctx.get("value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ctx["value"] = _Value(value)
    elif value is None:
        ctx["value"] = "n/a"
    return template.format_map(ctx)


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """The rule as plain data (its JSON form)."""
    out: dict[str, Any] = msgspec.to_builtins(rule)
    return out
