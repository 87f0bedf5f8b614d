"""Decoding and checking readings: each refusal reason, quality flags, bad items alone."""

from __future__ import annotations

import pytest

from riskcast.core.readings import ReadingIn, Rejection, decode_batch, to_rows
from riskcast.core.variables import Variable
from riskcast.exceptions import ValidationError

NOW = 1_782_907_200_000_000  # 2026-07-01T12:00:00Z
VARIABLES = {"rh_pct": Variable(name="rh_pct", unit="%", valid_min=0, valid_max=100,
                                soft_min=1, soft_max=99)}


def rows_of(body: bytes, *, skew: int = 300_000_000) -> tuple[list, list[Rejection]]:
    items, rejected = decode_batch(body, 100)
    rows = to_rows(items, known_sites={"s1"}, variables=VARIABLES, now_us=NOW,
                   max_future_us=skew, default_source="api", rejected=rejected)
    return rows, sorted(rejected, key=lambda r: r.index)


def item(**kw: object) -> str:
    base = {"site": "s1", "variable": "rh_pct", "time": "2026-07-01T11:00:00Z", "value": 50}
    base.update(kw)
    import json
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def body(*items: str) -> bytes:
    return ('{"readings": [' + ",".join(items) + "]}").encode()


def test_good_reading_becomes_row() -> None:
    rows, rejected = rows_of(body(item()))
    assert rejected == []
    assert rows == [("s1", "rh_pct", NOW - 3_600_000_000, 50.0, 0, "api")]


@pytest.mark.parametrize(("bad", "field", "words"), [
    (item(site="nope"), "site", "unknown site 'nope'"),
    (item(variable="nope"), "variable", "unknown variable 'nope'"),
    (item(time="2026-07-01T12:10:00Z"), "time", "in the future"),
    (item(time="2026-07-01T11:00:00"), "time", "timezone"),
    (item(time="yesterday"), "time", "datetime"),
    (item(value="high"), "value", "Expected `float`"),
    (item(value=None), "value", "Expected `float`"),
    (item(value=...), "value", "missing required field `value`"),
    ('{"site": "s1", "variable": "rh_pct", "value": 1e999}', "value", "out of range"),
    ('"just a string"', None, "Expected `object`"),
])
def test_bad_item_is_refused_alone(bad: str, field: str | None, words: str) -> None:
    rows, rejected = rows_of(body(item(value=1), bad, item(value=2, time="2026-07-01T10:00:00Z")))
    assert [r[3] for r in rows] == [1.0, 2.0]
    assert len(rejected) == 1
    assert rejected[0].index == 1
    assert words in rejected[0].error
    assert rejected[0].field == field


def test_non_finite_value_from_a_source_is_refused() -> None:
    rejected: list[Rejection] = []
    rows = to_rows([ReadingIn(site="s1", variable="rh_pct", value=float("nan"))],
                   known_sites={"s1"}, variables=VARIABLES, now_us=NOW, max_future_us=0,
                   default_source="x", rejected=rejected)
    assert rows == [] and rejected[0].field == "value" and "finite" in rejected[0].error


@pytest.mark.parametrize(("value", "quality"), [
    (50, 0), (0.5, 1), (99.5, 1), (-0.1, 2), (100.1, 2), (0, 1), (100, 1), (1, 0)])
def test_out_of_range_is_stored_with_quality(value: float, quality: int) -> None:
    rows, rejected = rows_of(body(item(value=value)))
    assert rejected == [] and rows[0][4] == quality


def test_sender_can_only_worsen_quality() -> None:
    rows, _ = rows_of(body(item(quality="suspect"), item(value=-5, quality="good",
                                                         time="2026-07-01T10:00:00Z")))
    assert [r[4] for r in rows] == [1, 2]


def test_epoch_seconds_and_missing_time() -> None:
    rows, rejected = rows_of(body(item(time=1_782_900_000.25), item(time=...)))
    assert rejected == []
    assert rows[0][2] == 1_782_900_000_250_000
    assert rows[1][2] == NOW


def test_future_skew_is_configurable() -> None:
    future = item(time="2026-07-01T12:10:00Z")
    assert rows_of(body(future), skew=3_600_000_000)[1] == []
    assert len(rows_of(body(future), skew=60_000_000)[1]) == 1


@pytest.mark.parametrize(("raw", "field"), [
    (b"not json", "body"), (b'{"readings": 5}', "readings"), (b"[]", None),
    (b'{"other": []}', None), (b'{"readings": [', "body")])
def test_malformed_body_is_refused_whole(raw: bytes, field: str | None) -> None:
    with pytest.raises(ValidationError) as err:
        decode_batch(raw, 10)
    if field is not None:
        assert err.value.field == field


def test_batch_size_limit() -> None:
    with pytest.raises(ValidationError, match="more than the limit of 2"):
        decode_batch(body(item(), item(), item()), 2)
