"""Quality flags: each check alone, combined, and one reading at a time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskcast.packs.water.quality import (
    BAD,
    GOOD,
    LIMITS,
    SENSOR_VARIABLES,
    SUSPECT,
    QualityChecker,
    flags,
    implausible,
    impossible,
    spikes,
    stuck,
)


def test_physically_impossible_values_are_bad() -> None:
    assert impossible([-0.5, 0.0, 8.0, 51.0], LIMITS["do_mgl"]).tolist() == [
        True, False, False, True]
    assert flags("water_temp_c", [25.0, 120.0]).tolist() == [GOOD, BAD]


def test_implausible_values_are_suspect_not_bad() -> None:
    assert implausible([8.0, 22.0, 60.0], LIMITS["do_mgl"]).tolist() == [False, True, False]
    assert flags("turbidity_ntu", [10.0, 1500.0, 5000.0]).tolist() == [GOOD, SUSPECT, BAD]


def test_stuck_flags_from_the_nth_identical_value() -> None:
    values = [7.01, 7.02] + [7.03] * 7 + [7.05]
    assert stuck(values, n=6).tolist() == [False] * 7 + [True, True, False]
    with pytest.raises(ValueError):
        stuck(values, n=1)


def test_spike_needs_a_large_robust_z_and_enough_neighbours() -> None:
    calm = [8.0, 8.1, 7.9, 8.0, 8.05, 7.95, 8.0, 8.1, 7.9]
    assert not spikes(calm, 0.05).any()
    jumped = [*calm[:4], 12.0, *calm[5:]]
    assert spikes(jumped, 0.05).tolist() == [False] * 4 + [True] + [False] * 4
    assert not spikes([8.0, 12.0, 8.0], 0.05).any()  # two neighbours only


def test_the_mad_floor_keeps_a_flat_series_from_spiking() -> None:
    flat_then_step = [7.00] * 8 + [7.05] + [7.00] * 8
    assert not spikes(flat_then_step, LIMITS["ph"].resolution).any()


def test_stuck_and_spike_apply_to_sensor_variables_only() -> None:
    repeated = [2.0] * 10
    assert flags("bod_mgl", repeated).max() == GOOD
    assert flags("do_mgl", repeated).tolist()[5:] == [SUSPECT] * 5
    assert "bod_mgl" not in SENSOR_VARIABLES


def test_checker_one_reading_at_a_time_keeps_state_per_series() -> None:
    qc = QualityChecker(k=3, stuck_after=3)
    assert [qc.check("a", "ph", v) for v in (7.0, 7.1, 6.9, 7.0, 7.05, 9.5)] == [
        0, 0, 0, 0, 0, 1]
    assert qc.check("b", "ph", 9.5) == 0  # another site: no history yet
    assert [qc.check("a", "do_mgl", 8.0) for _ in range(4)] == [0, 0, 1, 1]
    assert qc.check("a", "unknown_variable", 1e9) == 0
    assert qc.check("a", "bod_mgl", -1.0) == 2


def test_every_limit_is_consistent() -> None:
    for name, lim in LIMITS.items():
        assert lim.physical[0] <= lim.plausible[0] <= lim.plausible[1] <= lim.physical[1], name
        assert lim.resolution > 0, name


@given(st.sampled_from(sorted(LIMITS)),
       st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=30))
def test_flags_are_codes_and_impossible_is_always_bad(name: str, values: list[float]) -> None:
    out = flags(name, values)
    assert out.shape == (len(values),) and set(out.tolist()) <= {0, 1, 2}
    assert np.array_equal(out == BAD, impossible(values, LIMITS[name]))
