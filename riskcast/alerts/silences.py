"""Silences: matchers on labels and sites over a time window. A silenced alert is still
recorded (its transitions carry ``silenced: true``) but nothing is sent for it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from riskcast.alerts.records import Matcher, Silence
from riskcast.exceptions import ValidationError

__all__ = ["check_silence", "is_active", "matches", "silenced_by"]

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _match_one(m: Matcher, labels: Mapping[str, str]) -> bool:
    have = labels.get(m.label, "")
    if m.op == "=":
        return have == m.value
    if m.op == "!=":
        return have != m.value
    found = _regex(m.value).fullmatch(have) is not None
    return found if m.op == "=~" else not found


def is_active(silence: Silence, now: int) -> bool:
    return silence.starts_at <= now < silence.ends_at


def matches(silence: Silence, labels: Mapping[str, str], site: str) -> bool:
    """Whether the silence covers an alert with these labels at this site (any time).

    >>> s = Silence(id="x", matchers=[Matcher(label="severity", value="warn.*", op="=~")],
    ...             starts_at=0, ends_at=10, created_at=0)
    >>> matches(s, {"severity": "warning"}, "s1"), matches(s, {"severity": "critical"}, "s1")
    (True, False)
    """
    if silence.sites and site not in silence.sites:
        return False
    return all(_match_one(m, labels) for m in silence.matchers)


def silenced_by(silences: Iterable[Silence], labels: Mapping[str, str], site: str,
                now: int) -> Silence | None:
    """The first silence active at ``now`` that covers the alert, if any."""
    for silence in silences:
        if is_active(silence, now) and matches(silence, labels, site):
            return silence
    return None


def check_silence(silence: Silence) -> Silence:
    """Return ``silence`` if it is well formed, else raise ValidationError naming the field."""
    if not silence.matchers and not silence.sites:
        raise ValidationError("a silence needs at least one matcher or site", field="matchers")
    if silence.ends_at <= silence.starts_at:
        raise ValidationError("ends_at must be after starts_at", field="ends_at")
    for i, m in enumerate(silence.matchers):
        if not _LABEL.match(m.label):
            raise ValidationError(f"label {m.label!r} is not a label name",
                                  field=f"matchers[{i}].label")
        if m.op in ("=~", "!~"):
            try:
                _regex(m.value)
            except re.error as err:
                raise ValidationError(f"not a regular expression: {err}",
                                      field=f"matchers[{i}].value") from err
    if len(silence.comment) > 1000:
        raise ValidationError("comment is longer than 1000 characters", field="comment")
    return silence
