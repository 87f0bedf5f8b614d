"""CPCB designated-best-use classes: the six test cases, missing values, monotonicity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskcast.exceptions import ValidationError
from riskcast.packs.water.cpcb import CLASSES, class_index, cpcb_bounds, cpcb_class

#: Test-vector keys → riskcast variable names.
KEYS = {"do": "do_mgl", "ph": "ph", "bod": "bod_mgl", "tc": "total_coliform_mpn100ml",
        "free_nh3": "free_ammonia_mgl", "ec": "conductivity_uscm"}


def sample_of(case: dict[str, Any]) -> dict[str, float]:
    return {KEYS[k]: float(v) for k, v in case.items() if k in KEYS}


def test_the_six_test_cases(vectors: dict[str, Any]) -> None:
    cases = vectors["cpcb_cases"]
    assert [cpcb_class(sample_of(c)) for c in cases] == [c["expected_class"] for c in cases]
    assert [c["expected_class"] for c in cases] == list(CLASSES)


def test_missing_coliform_leaves_the_class_open() -> None:
    sample = {"do_mgl": 7.0, "ph": 7.5, "bod_mgl": 1.5}
    assert cpcb_class(sample) is None
    assert cpcb_bounds(sample) == ("A", "D")
    # A failed criterion that needs no coliform count still settles it.
    assert cpcb_class({"do_mgl": 3.0, "ph": 7.5, "bod_mgl": 8.0,
                       "conductivity_uscm": 900}) == "E"


def test_strict_mode_needs_ammonia_sar_and_boron(vectors: dict[str, Any]) -> None:
    e_case = sample_of(vectors["cpcb_cases"][4])
    assert cpcb_class(e_case) == "E"
    assert cpcb_class(e_case, assume_met=frozenset()) is None
    assert cpcb_bounds(e_case, assume_met=frozenset()) == ("E", "below-E")


def test_other_keys_are_ignored_and_class_indices_round_trip() -> None:
    assert cpcb_class({"do_mgl": 7.0, "ph": 7.5, "bod_mgl": 1.5,
                       "total_coliform_mpn100ml": 30, "water_temp_c": 28.0}) == "A"
    assert [class_index(c) for c in CLASSES] == list(range(6))
    with pytest.raises(ValidationError):
        class_index("F")


def full_samples() -> st.SearchStrategy[dict[str, float]]:
    return st.fixed_dictionaries({
        "do_mgl": st.floats(0, 14), "ph": st.floats(4, 10), "bod_mgl": st.floats(0, 50),
        "total_coliform_mpn100ml": st.floats(0, 1e6), "free_ammonia_mgl": st.floats(0, 3),
        "conductivity_uscm": st.floats(0, 5000), "sar": st.floats(0, 40),
        "boron_mgl": st.floats(0, 4)})


WORSE = {"do_mgl": -1.0, "bod_mgl": 1.0, "total_coliform_mpn100ml": 1.0,
         "free_ammonia_mgl": 1.0, "conductivity_uscm": 1.0, "sar": 1.0, "boron_mgl": 1.0}


@given(full_samples(), st.sampled_from(sorted(WORSE)), st.floats(0, 1e4))
def test_class_never_improves_when_a_parameter_worsens(
        sample: dict[str, float], name: str, step: float) -> None:
    worse = dict(sample)
    worse[name] = max(0.0, sample[name] + WORSE[name] * step)
    before, after = cpcb_class(sample), cpcb_class(worse)
    assert before is not None and after is not None
    assert class_index(after) >= class_index(before)


@given(full_samples(), st.floats(0, 5))
def test_class_never_improves_as_ph_moves_away_from_neutral(
        sample: dict[str, float], step: float) -> None:
    worse = dict(sample)
    worse["ph"] = sample["ph"] + step if sample["ph"] >= 7.5 else sample["ph"] - step
    before, after = cpcb_class(sample), cpcb_class(worse)
    assert before is not None and after is not None
    assert class_index(after) >= class_index(before)
