"""NSF WQI: the published worked example, the curves' precision, renormalisation, classes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskcast.exceptions import ValidationError
from riskcast.packs.water import wqi
from riskcast.packs.water.wqi import (
    PARAMETERS,
    PRECISION,
    WEIGHTS,
    aggregate,
    do_percent_saturation,
    do_saturation_mgl,
    nsf_wqi,
    subindex,
    wqi_class,
)

#: The worked example of SCIENCE.md B.1 (fotsch.org, "WQI Background"): input, published Q.
EXAMPLE = {
    "do_sat_pct": (82, 90), "fecal_coliform_cfu100ml": (12, 72), "ph": (7.67, 92),
    "bod_mgl": (2, 80), "temp_change_c": (5, 72), "total_phosphate_mgl": (0.5, 60),
    "nitrate_mgl": (5, 67), "turbidity_ntu": (5, 85), "total_solids_mgl": (150, 78),
}
#: Where each curve changes equation, and where the NSF tail values begin.
BREAKPOINTS: dict[str, list[float]] = {
    "do_sat_pct": [50, 85, 100], "fecal_coliform_cfu100ml": [10],
    "ph": [4, 6.2, 7, 8, 8.5, 9, 10, 12], "bod_mgl": [5, 15],
    "total_phosphate_mgl": [1, 5, 10], "nitrate_mgl": [10, 60, 100],
    "turbidity_ntu": [25], "total_solids_mgl": [150, 500],
}


def test_published_weights_sum_to_one() -> None:
    assert len(WEIGHTS) == 9
    assert math.isclose(sum(WEIGHTS.values()), 1.0)


def test_aggregation_reproduces_the_worked_example_77_9() -> None:
    q = {name: float(published) for name, (_, published) in EXAMPLE.items()}
    assert aggregate(q) == pytest.approx(77.9, abs=1e-9)
    assert wqi_class(aggregate(q)) == 1  # Good


@pytest.mark.parametrize("parameter", PARAMETERS)
def test_curves_at_the_example_inputs_within_stated_precision(parameter: str) -> None:
    value, published = EXAMPLE[parameter]
    assert abs(float(subindex(parameter, value)) - published) <= PRECISION[parameter]


def test_example_wqi_within_the_weighted_precision_of_the_curves() -> None:
    result = nsf_wqi({name: value for name, (value, _) in EXAMPLE.items()})
    bound = sum(WEIGHTS[n] * PRECISION[n] for n in PARAMETERS)
    assert abs(result.wqi - 77.9) <= bound
    assert round(result.wqi, 1) == 76.6 and result.label == "Good"


@pytest.mark.parametrize(("parameter", "x"), [(p, x) for p, xs in BREAKPOINTS.items()
                                              for x in xs])
def test_curve_pieces_meet_at_their_breakpoints(parameter: str, x: float) -> None:
    below, above = subindex(parameter, [x * (1 - 1e-9), x * (1 + 1e-9)])
    assert abs(below - above) < 1.0


@pytest.mark.parametrize(("parameter", "x", "q"), [
    ("do_sat_pct", 150, 50), ("fecal_coliform_cfu100ml", 2e5, 3), ("bod_mgl", 31, 2),
    ("total_phosphate_mgl", 12, 5), ("nitrate_mgl", 150, 1), ("turbidity_ntu", 120, 5),
    ("total_solids_mgl", 600, 32), ("ph", 1.5, 2), ("ph", 13, 3),
    ("fecal_coliform_cfu100ml", 0, 100), ("do_sat_pct", 0, 0),
])
def test_tail_values(parameter: str, x: float, q: float) -> None:
    assert float(subindex(parameter, x)) == q


def test_missing_parameters_rescale_the_weights() -> None:
    r = nsf_wqi({"do_sat_pct": 82, "ph": 7.67, "bod_mgl": None, "nitrate_mgl": float("nan")})
    assert set(r.subindices) == {"do_sat_pct", "ph"}
    assert math.isclose(sum(r.weights.values()), 1.0)
    assert r.weights["do_sat_pct"] == pytest.approx(0.17 / 0.28)


def test_unknown_and_empty_inputs_refused() -> None:
    with pytest.raises(ValidationError, match="not an NSF"):
        subindex("chlorophyll", 3.0)
    with pytest.raises(ValidationError):
        nsf_wqi({"water_temp_c": 20.0})
    with pytest.raises(ValidationError):
        aggregate({"mystery": 50.0})
    assert math.isnan(aggregate({}))


def test_nan_stays_nan_and_arrays_stay_arrays() -> None:
    out = subindex("ph", [7.0, float("nan"), 9.0])
    assert out.shape == (3,) and math.isnan(out[1])


def test_class_boundaries_take_the_better_class() -> None:
    assert [wqi_class(v) for v in (90, 70, 50, 25)] == [0, 1, 2, 3]
    assert [wqi_class(v) for v in (89.999, 69.999, 49.999, 24.999)] == [1, 2, 3, 4]
    with pytest.raises(ValidationError):
        wqi_class(float("nan"))


def test_do_saturation_matches_the_apha_table() -> None:
    # APHA Standard Methods 4500-O table, fresh water at 1 atm.
    assert do_saturation_mgl([0, 10, 20, 30, 40]) == pytest.approx(
        [14.621, 11.288, 9.092, 7.559, 6.412], abs=0.002)
    assert float(do_percent_saturation(9.092, 20)) == pytest.approx(100.0, abs=0.01)


finite_values = st.floats(min_value=-1e3, max_value=1e9, allow_nan=False)


@given(parameter=st.sampled_from(PARAMETERS), value=finite_values)
def test_subindices_stay_within_0_and_100(parameter: str, value: float) -> None:
    q = float(subindex(parameter, value))
    assert 0.0 <= q <= 100.0


@given(st.dictionaries(st.sampled_from(PARAMETERS), finite_values, min_size=1))
def test_wqi_stays_within_0_and_100(values: dict[str, float]) -> None:
    result = nsf_wqi(values)
    assert 0.0 <= result.wqi <= 100.0
    assert wqi_class(result.wqi) == result.klass


@given(st.dictionaries(st.sampled_from(PARAMETERS), st.floats(0, 100), min_size=1),
       st.floats(min_value=1e-3, max_value=1e3))
def test_renormalisation_is_invariant_to_scaling_the_weights(
        q: dict[str, float], scale: float) -> None:
    scaled = {name: w * scale for name, w in WEIGHTS.items()}
    assert aggregate(q, scaled) == pytest.approx(aggregate(q), rel=1e-9, abs=1e-9)


@given(st.floats(0, 1e8), st.floats(0, 1e8))
def test_more_fecal_coliform_never_raises_its_subindex(a: float, b: float) -> None:
    low, high = sorted((a, b))
    q_low, q_high = subindex("fecal_coliform_cfu100ml", [low, high])
    assert q_high <= q_low + 1e-9


@given(st.floats(0, 40), st.floats(0, 40))
def test_warmer_water_holds_less_oxygen(a: float, b: float) -> None:
    cool, warm = sorted((a, b))
    # Within float rounding: two temperatures a hair apart may round the other way (1e-12).
    assert float(do_saturation_mgl(warm)) <= float(do_saturation_mgl(cool)) + 1e-9


def test_module_exposes_no_mutable_curve_state() -> None:
    before = subindex("ph", 7.0).copy()
    subindex("ph", np.array([1.0, 2.0]))
    assert subindex("ph", 7.0) == before
    assert wqi.CLASS_LABELS[0] == "Excellent"
