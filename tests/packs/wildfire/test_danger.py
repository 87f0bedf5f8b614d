"""Fire danger classes: EFFIS boundaries, custom schemes, refused definitions and values."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskcast.exceptions import ValidationError
from riskcast.packs.wildfire import danger
from riskcast.packs.wildfire.danger import EFFIS, DangerScheme, classify, label


@pytest.mark.parametrize(
    ("fwi", "expected"),
    [
        (0.0, "very low"),
        (5.19, "very low"),
        (5.2, "low"),  # a breakpoint goes to the higher class
        (11.2, "moderate"),
        (21.29, "moderate"),
        (21.3, "high"),
        (38.0, "very high"),
        (49.99, "very high"),
        (50.0, "extreme"),
        (1e6, "extreme"),
    ],
)
def test_effis_boundaries(fwi: float, expected: str) -> None:
    assert label(int(classify(fwi))) == expected


def test_effis_definition() -> None:
    assert EFFIS.breakpoints == (5.2, 11.2, 21.3, 38.0, 50.0)
    assert EFFIS.labels == ("very low", "low", "moderate", "high", "very high", "extreme")
    assert "EFFIS" in EFFIS.source
    assert danger.SCHEMES == {"effis": EFFIS}


def test_classify_keeps_shape_and_returns_indices() -> None:
    values = np.array([[0.0, 5.2], [38.0, 60.0]])
    classes = classify(values)
    assert classes.shape == (2, 2)
    assert classes.dtype == np.intp
    assert classes.tolist() == [[0, 1], [4, 5]]


def test_custom_scheme() -> None:
    lists: Any = ([1, 2.5], ["calm", "watch", "act"])  # sequences are coerced to tuples
    scheme = DangerScheme("two-step", *lists, source="ours")
    assert scheme.breakpoints == (1.0, 2.5)  # coerced to a tuple of floats
    assert scheme.labels == ("calm", "watch", "act")
    assert classify([0.5, 1.0, 2.49, 2.5], scheme).tolist() == [0, 1, 1, 2]
    assert label(1, scheme) == "watch"


def test_schemes_compare_by_definition_not_source() -> None:
    a = DangerScheme("x", (1.0,), ("lo", "hi"), source="one")
    b = DangerScheme("x", (1.0,), ("lo", "hi"), source="two")
    assert a == b
    assert hash(a) == hash(b)


@given(st.lists(st.floats(0.0, 200.0), min_size=1, max_size=50))
def test_classes_never_decrease_as_fwi_rises(values: list[float]) -> None:
    ordered = sorted(values)
    classes = classify(ordered)
    assert np.all(np.diff(classes) >= 0)
    assert classes.min() >= 0
    assert classes.max() <= len(EFFIS.labels) - 1


@given(st.floats(0.0, 200.0))
def test_class_bounds_hold(value: float) -> None:
    index = int(classify(value))
    edges = (0.0, *EFFIS.breakpoints, math.inf)
    assert edges[index] <= value < edges[index + 1]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"breakpoints": (11.2, 5.2)}, "breakpoints", "strictly increasing"),
        ({"breakpoints": (5.0, 5.0)}, "breakpoints", "strictly increasing"),
        ({"breakpoints": (5.0, math.nan)}, "breakpoints", "breakpoints[1] = nan is not finite"),
        ({"breakpoints": ()}, "breakpoints", "at least one breakpoint"),
        ({"breakpoints": ("high",)}, "breakpoints", "must be numbers"),
        ({"labels": ("a", "b")}, "labels", "has 2 breakpoints, so it needs 3 labels, got 2"),
        ({"labels": ("a", "b", "c", "d")}, "labels", "needs 3 labels, got 4"),
        ({"labels": ("a", "a", "b")}, "labels", "distinct"),
        ({"labels": ("a", " ", "b")}, "labels", "non-empty"),
        ({"name": ""}, "name", "non-empty name"),
    ],
)
def test_invalid_schemes_are_refused(kwargs: dict[str, Any], field: str, message: str) -> None:
    definition: dict[str, Any] = {"name": "bad", "breakpoints": (1, 2), "labels": ("a", "b", "c")}
    with pytest.raises(ValidationError, match=re.escape(message)) as caught:
        DangerScheme(**(definition | kwargs))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, math.nan], r"fwi\[1\] = nan is not finite"),
        ([[1.0, 2.0], [-0.5, 3.0]], r"fwi\[1, 0\] = -0.5 is negative"),
        (math.inf, r"fwi = inf is not finite"),
    ],
)
def test_invalid_fwi_is_refused(values: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        classify(values)
    assert caught.value.field == "fwi"


@pytest.mark.parametrize("index", [-1, 6, True])
def test_unknown_class_index_is_refused(index: int) -> None:
    with pytest.raises(ValidationError, match=r"classes 0\.\.5") as caught:
        label(index)
    assert caught.value.field == "index"
