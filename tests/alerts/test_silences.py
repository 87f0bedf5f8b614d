"""Silence matchers and checks."""

from __future__ import annotations

import pytest

from riskcast.alerts.records import Matcher, Silence
from riskcast.alerts.silences import check_silence, is_active, matches, silenced_by
from riskcast.exceptions import ValidationError

LABELS = {"rule": "hot", "site": "s1", "severity": "critical", "team": "fire"}


def silence(*matchers: Matcher, sites: list[str] | None = None, start: int = 0,
            end: int = 100) -> Silence:
    return Silence(id="x", matchers=list(matchers), sites=sites or [], starts_at=start,
                   ends_at=end, created_at=0)


@pytest.mark.parametrize(("matcher", "hit"), [
    (Matcher(label="team", value="fire"), True),
    (Matcher(label="team", value="water"), False),
    (Matcher(label="team", value="water", op="!="), True),
    (Matcher(label="severity", value="crit.*", op="=~"), True),
    (Matcher(label="severity", value="crit", op="=~"), False),  # full match
    (Matcher(label="severity", value="info|warning", op="!~"), True),
    (Matcher(label="missing", value="", op="="), True),
])
def test_label_matchers(matcher: Matcher, hit: bool) -> None:
    assert matches(silence(matcher), LABELS, "s1") is hit


def test_sites_and_matchers_must_all_match() -> None:
    s = silence(Matcher(label="team", value="fire"), sites=["s2", "s3"])
    assert not matches(s, LABELS, "s1")
    assert matches(s, LABELS, "s3")


def test_only_active_silences_count() -> None:
    s = silence(Matcher(label="team", value="fire"), start=10, end=20)
    assert [is_active(s, t) for t in (9, 10, 19, 20)] == [False, True, True, False]
    assert silenced_by([s], LABELS, "s1", 15) is s
    assert silenced_by([s], LABELS, "s1", 25) is None


@pytest.mark.parametrize(("bad", "field"), [
    (silence(), "matchers"),
    (silence(Matcher(label="a", value="b"), start=5, end=5), "ends_at"),
    (silence(Matcher(label="a b", value="b")), "matchers[0].label"),
    (silence(Matcher(label="a", value="(", op="=~")), "matchers[0].value"),
])
def test_bad_silences_name_the_field(bad: Silence, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        check_silence(bad)
    assert err.value.field == field
