"""Properties of the ingest decoder: whatever bytes arrive, the answer is either valid rows
and per-item refusals naming the field, or the documented ``ValidationError`` for a body
that is not a batch at all; never another exception."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from riskcast.core.clock import format_us
from riskcast.core.readings import Rejection, decode_batch, to_rows
from riskcast.core.variables import Variable
from riskcast.exceptions import ValidationError

NOW = 1_782_907_200_000_000  # 2026-07-01T12:00:00Z
SKEW = 300_000_000
MAX_ITEMS = 50
MIN_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
VARIABLES = {"rh_pct": Variable(name="rh_pct", unit="%", valid_min=0, valid_max=100,
                                soft_min=1, soft_max=99)}
FIELDS = {"site", "variable", "value", "time", "quality", "source"}
QUALITIES = ("good", "suspect", "bad")

json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=8)
times = (st.none() | st.floats(allow_nan=False, allow_infinity=False)
         | st.integers(-(2**64), 2**64)
         | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
         | st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                            "2026-07-01T11:00:00Z", "2026-07-01T11:00:00", "yesterday",
                            "1e999", "NaN"])
         | json_values)
items = st.fixed_dictionaries(
    {},
    optional={"site": st.sampled_from(["s1", "s2", ""]) | json_values,
              "variable": st.sampled_from(["rh_pct", "nope"]) | json_values,
              "value": st.floats() | st.integers(-(2**70), 2**70) | json_values,
              "time": times,
              "quality": st.sampled_from(QUALITIES) | json_values,
              "source": st.text(max_size=10) | json_values,
              "extra": json_values}) | json_values


def check(body: bytes) -> None:
    """Decode and check ``body``; assert everything the decoder promises."""
    try:
        decoded, rejected = decode_batch(body, MAX_ITEMS)
    except ValidationError as err:
        assert err.field in ("body", "readings")
        return
    assert len(decoded) <= MAX_ITEMS
    rows = to_rows(decoded, known_sites={"s1"}, variables=VARIABLES, now_us=NOW,
                   max_future_us=SKEW, default_source="api", rejected=rejected)
    assert len(rows) + len(rejected) == len(decoded)
    assert sorted(r.index for r in rejected) == sorted(set(r.index for r in rejected))
    for refusal in rejected:
        assert isinstance(refusal, Rejection) and refusal.error
        assert 0 <= refusal.index < len(decoded)
        if refusal.field is None:  # only an item that is not an object names no field
            assert "Expected `object`" in refusal.error
        else:
            assert refusal.field in FIELDS, refusal
    for site, variable, t, value, quality, source in rows:
        assert (site, variable) == ("s1", "rh_pct")
        assert math.isfinite(value)
        assert MIN_US <= t <= NOW + SKEW
        assert quality in (0, 1, 2)
        assert isinstance(source, str)
        format_us(t)  # every stored time can be written back out (events, answers)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_rows_refusals_or_a_validation_error(raw: bytes) -> None:
    check(raw)


@settings(max_examples=300, deadline=None)
@given(st.lists(items, max_size=8))
def test_any_json_items_are_each_stored_or_refused_naming_the_field(
        batch: list[Any]) -> None:
    check(json.dumps({"readings": batch}).encode())


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_document_is_a_batch_or_a_validation_error(doc: Any) -> None:
    check(json.dumps(doc).encode())


@settings(max_examples=200, deadline=None)
@given(st.floats() | st.integers(-(2**80), 2**80))
def test_extreme_numeric_times_are_refused_not_crashed(stamp: float) -> None:
    # json.dumps writes inf and nan as Infinity/NaN, which the decoder refuses as JSON
    check(json.dumps({"readings": [{"site": "s1", "variable": "rh_pct", "value": 1,
                                    "time": stamp}]}).encode())


def test_times_past_what_utc_can_write_are_refused_naming_time() -> None:
    for stamp in (1e308, -1e300, -1e18, "0001-01-01T00:00:00+14:00"):
        decoded, rejected = decode_batch(json.dumps({"readings": [
            {"site": "s1", "variable": "rh_pct", "value": 1, "time": stamp}]}).encode(), 5)
        rows = to_rows(decoded, known_sites={"s1"}, variables=VARIABLES, now_us=NOW,
                       max_future_us=SKEW, default_source="api", rejected=rejected)
        assert rows == [] and [r.field for r in rejected] == ["time"], stamp
