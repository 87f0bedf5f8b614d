"""CCME WQI 1.0: the test vector, excursions both ways, notes, categories."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskcast.exceptions import ValidationError
from riskcast.packs.water.ccme import Objective, category, ccme_wqi, in_window


def test_reproduces_the_test_vector(vectors: dict[str, Any]) -> None:
    case = vectors["ccme_example"]
    objectives = {name: Objective.parse(spec) for name, spec in case["objectives"].items()}
    r = ccme_wqi(case["samples"], objectives)
    want = case["result"]
    assert (r.f1, r.f2) == (want["F1"], want["F2"])
    assert r.nse == pytest.approx(want["nse"], rel=1e-12)
    assert r.f3 == pytest.approx(want["F3"], rel=1e-12)
    assert r.wqi == pytest.approx(want["WQI"], rel=1e-12)
    assert round(r.wqi, 2) == 62.56 and r.category == want["category"] == "Marginal"
    assert (r.variables, r.tests, r.notes) == (5, 20, [])


def test_excursions_for_upper_lower_and_range_objectives() -> None:
    assert Objective(high=200).excursion(400) == pytest.approx(1.0)
    assert Objective(low=6.0).excursion(4.0) == pytest.approx(0.5)
    both = Objective(low=6.5, high=9.0)
    assert both.excursion(6.4) == pytest.approx(6.5 / 6.4 - 1)
    assert both.excursion(9.9) == pytest.approx(0.1)
    assert both.excursion(7.0) == 0.0
    assert Objective(low=6.0).excursion(0.0) == math.inf


def test_a_zero_against_a_lower_bound_gives_the_largest_amplitude() -> None:
    r = ccme_wqi({"do": [0.0, 7.0]}, {"do": Objective(low=6.0)})
    assert r.f3 == 100.0 and r.wqi == pytest.approx(100 - math.sqrt(1e4 + 2500 + 1e4) / 1.732)


def test_missing_samples_and_variables_without_objectives_are_left_out_with_notes() -> None:
    r = ccme_wqi({"do": [7.0, None, float("nan"), 8.0], "colour": [5.0], "tp": []},
                 {"do": Objective(low=6.0), "tp": Objective(high=0.03)})
    assert r.tests == 2 and r.variables == 1 and r.wqi == 100.0
    assert any("colour" in n for n in r.notes) and any("tp" in n for n in r.notes)
    assert any("at least 4" in n for n in r.notes)
    with pytest.raises(ValidationError):
        ccme_wqi({"colour": [5.0]}, {})


def test_objective_specs_parsed_and_refused() -> None:
    assert Objective.parse(["range", 6.5, 9.0]) == Objective(6.5, 9.0)
    assert Objective.parse(["min", 6]) == Objective(low=6.0)
    for bad in (["max"], ["between", 1, 2], ["range", 1]):
        with pytest.raises(ValidationError):
            Objective.parse(bad)
    with pytest.raises(ValidationError):
        Objective()
    with pytest.raises(ValidationError):
        Objective(low=9, high=6)


def test_categories_take_their_floor() -> None:
    assert [category(v) for v in (95, 80, 65, 45, 44.99)] == [
        "Excellent", "Good", "Fair", "Marginal", "Poor"]


def test_window_selects_half_open_span() -> None:
    series = [(0, 1.0), (10, 2.0), (20, 3.0)]
    assert in_window(series, 0, 20) == [1.0, 2.0]


@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]),
                       st.lists(st.floats(0, 1e6), min_size=1, max_size=8), min_size=1))
def test_index_stays_within_0_and_100_and_all_pass_is_100(
        samples: dict[str, list[float]]) -> None:
    objectives = {"a": Objective(high=10), "b": Objective(low=5), "c": Objective(1, 100),
                  "d": Objective(high=1e3), "e": Objective(low=0.5)}
    r = ccme_wqi(samples, objectives)
    assert 0.0 <= r.wqi <= 100.0
    assert (r.wqi == 100.0) == (r.f1 == 0.0)
    loose = {name: Objective(low=-1.0, high=1e7) for name in samples}
    assert ccme_wqi(samples, loose).wqi == 100.0
