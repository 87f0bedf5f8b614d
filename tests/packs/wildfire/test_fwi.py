"""The FWI System against its published references, xclim, its own properties and bad input."""

from __future__ import annotations

import dataclasses
import decimal
import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from riskcast.exceptions import ValidationError
from riskcast.packs.wildfire import fwi
from riskcast.packs.wildfire.fwi import FWIResult, daily

CODES = ("ffmc", "dmc", "dc", "isi", "bui", "fwi", "dsr")


def floats(values: list[str]) -> np.ndarray:
    return np.array([float(v) for v in values])


def round_half_up(value: float, decimals: int) -> float:
    """Round as printed tables do (0.05 -> 0.1); on the 1985 table half-even agrees, no value
    lying within 2e-5 of a tie."""
    scale = 10.0**decimals
    return math.floor(value * scale + 0.5) / scale


# --- published references ------------------------------------------------------------------------


def run_vanwagner_pickett(table: dict[str, list[str]], variant: str = "vanwagner1987") -> FWIResult:
    return daily(
        floats(table["temp_c"]),
        floats(table["rh_pct"]),
        floats(table["ws_kmh"]),
        floats(table["rain_mm"]),
        [int(m) for m in table["month"]],
        lat=44.0,
        variant=variant,
    )


def test_daily_reproduces_the_vanwagner_pickett_1985_table(
    vanwagner_pickett_1985: dict[str, list[str]],
) -> None:
    table = vanwagner_pickett_1985
    assert len(table["day"]) == 49
    assert set(table["lat"]) == {"44.0"}
    out = run_vanwagner_pickett(table)
    mismatches = []
    for code in CODES:
        decimals = 2 if code == "dsr" else 1
        published = floats(table[f"{code.upper()}_published"])
        for day, (ours, theirs) in enumerate(zip(getattr(out, code), published, strict=True)):
            if round_half_up(float(ours), decimals) != theirs:
                mismatches.append(f"{code} day {day}: {ours:.4f} vs published {theirs}")
    assert mismatches == []


def test_daily_matches_xclim_full_precision_column_of_the_1985_table(
    vanwagner_pickett_1985: dict[str, list[str]],
) -> None:
    # xclim 0.62 outputs stored beside the table, printed to 6 decimals (no xclim import needed)
    out = run_vanwagner_pickett(vanwagner_pickett_1985)
    for code in CODES:
        expected = floats(vanwagner_pickett_1985[f"{code.upper()}_xclim0.62"])
        np.testing.assert_allclose(getattr(out, code), expected, rtol=0, atol=1e-6, err_msg=code)


def test_cffdrs_coefficient_does_not_reproduce_the_1985_table(
    vanwagner_pickett_1985: dict[str, list[str]],
) -> None:
    out = run_vanwagner_pickett(vanwagner_pickett_1985, variant="cffdrs")
    published = floats(vanwagner_pickett_1985["FFMC_published"])
    rounded = np.array([round_half_up(float(v), 1) for v in out.ffmc])
    assert 0 < np.count_nonzero(rounded != published) < 49
    assert np.max(np.abs(out.ffmc - published)) < 0.2


def half_unit(printed: str) -> float:
    """Half a unit in the last printed digit: ``"87.65"`` -> 0.005, ``"1.683e-06"`` -> 5e-10."""
    exponent = decimal.Decimal(printed).as_tuple().exponent
    assert isinstance(exponent, int)
    return 0.5 * 10.0**exponent


def run_cffdrs_test_fwi(table: dict[str, list[str]], variant: str) -> FWIResult:
    assert set(table["LAT"]) == {"40"}
    return daily(
        floats(table["TEMP"]),
        floats(table["RH"]),
        floats(table["WS"]),
        floats(table["PREC"]),
        [int(m) for m in table["MON"]],
        lat=40.0,
        variant=variant,
    )


def test_cffdrs_variant_reproduces_cffdrs_r_expected_output(
    cffdrs_r_test_fwi: dict[str, list[str]],
) -> None:
    # fwi_02.csv holds 4 significant figures (at least 2 decimals): every value must round to it
    table = cffdrs_r_test_fwi
    assert len(table["DAY"]) == 48
    out = run_cffdrs_test_fwi(table, "cffdrs")
    mismatches = []
    for code in CODES:
        for day, printed in enumerate(table[f"{code.upper()}_cffdrsR"]):
            ours = float(getattr(out, code)[day])
            if abs(ours - float(printed)) > half_unit(printed) * (1 + 1e-9):
                mismatches.append(f"{code} day {day}: {ours!r} vs cffdrs R {printed}")
    assert mismatches == []


def test_vanwagner1987_variant_misses_cffdrs_r_expected_ffmc(
    cffdrs_r_test_fwi: dict[str, list[str]],
) -> None:
    out = run_cffdrs_test_fwi(cffdrs_r_test_fwi, "vanwagner1987")
    expected = floats(cffdrs_r_test_fwi["FFMC_cffdrsR"])
    assert np.max(np.abs(out.ffmc - expected)) > 0.05  # the coefficient matters at 4 s.f.
    assert np.max(np.abs(out.fwi - floats(cffdrs_r_test_fwi["FWI_cffdrsR"]))) < 0.3


# --- xclim ---------------------------------------------------------------------------------------

# Latitudes where cffdrs R's bands (used here) and xclim's GFWED bands give the same tables.
SHARED_BAND_LATITUDES = (70.0, 46.0, 35.0, 25.0, -25.0, -35.0, -46.0)


def random_weather(days: int, stations: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (days, stations)
    return {
        "temp": rng.uniform(-10.0, 38.0, shape),
        "rh": rng.uniform(3.0, 100.0, shape),
        "wind": rng.gamma(2.0, 8.0, shape),
        "rain": np.where(rng.random(shape) < 0.4, rng.exponential(5.0, shape), 0.0),
    }


def xclim_indices(weather: dict[str, np.ndarray], lat: np.ndarray, start: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xclim's import and unit machinery warn (matplotlib, pint)
        import pandas as pd
        import xarray as xr
        from xclim.indices.fire import cffwis_indices

        time = pd.date_range(start, periods=weather["temp"].shape[0], freq="D")

        def da(values: np.ndarray, units: str) -> xr.DataArray:
            return xr.DataArray(
                values.T, dims=("station", "time"), coords={"time": time}, attrs={"units": units}
            )

        result = cffwis_indices(
            tas=da(weather["temp"], "degC"),
            pr=da(weather["rain"], "mm/d"),
            sfcWind=da(weather["wind"], "km/h"),
            hurs=da(weather["rh"], "%"),
            lat=xr.DataArray(lat, dims=("station",), attrs={"units": "degrees_north"}),
            season_method=None,  # always on, like cffdrs R's fwi()
            overwintering=False,
            dry_start=None,
        )
    out = {code: np.asarray(getattr(result, code.upper()).values).T for code in CODES[:-1]}
    out["months"] = time.month.to_numpy()
    return out


@pytest.mark.slow  # xclim's numba functions compile on first use (about 5 s)
def test_daily_agrees_with_xclim_on_random_weather() -> None:
    stations, days = 210, 120
    weather = random_weather(days, stations, seed=1987)
    lat = np.resize(np.array(SHARED_BAND_LATITUDES), stations)
    theirs = xclim_indices(weather, lat, start="2021-03-01")
    ours = daily(**weather, month=theirs["months"], lat=lat)
    for code in CODES[:-1]:
        np.testing.assert_allclose(
            getattr(ours, code), theirs[code], rtol=0, atol=1e-4, err_msg=code
        )
    np.testing.assert_allclose(ours.dsr, 0.0272 * theirs["fwi"] ** 1.77, rtol=0, atol=1e-4)


@pytest.mark.slow
def test_tropical_drought_code_differs_from_xclim_by_its_day_length_factor() -> None:
    # cffdrs R uses Lf = 1.4 for -20 < lat <= 20; xclim uses 1.39 for -15 <= lat < 15. On dry
    # days the DC gap grows by (1.4 - 1.39) / 2 = 0.005 a day; the DMC (Le = 9 in both) agrees.
    days = 30
    rng = np.random.default_rng(3)
    weather = {
        "temp": rng.uniform(20.0, 35.0, (days, 1)),
        "rh": rng.uniform(20.0, 90.0, (days, 1)),
        "wind": rng.uniform(0.0, 30.0, (days, 1)),
        "rain": np.zeros((days, 1)),
    }
    theirs = xclim_indices(weather, np.array([0.0]), start="2021-06-01")
    ours = daily(**weather, month=theirs["months"], lat=np.array([0.0]))
    np.testing.assert_allclose(ours.dmc, theirs["dmc"], rtol=0, atol=1e-9)
    gap = 0.005 * np.arange(1, days + 1)
    np.testing.assert_allclose(ours.dc[:, 0] - theirs["dc"][:, 0], gap, rtol=0, atol=1e-9)


# --- day-length bands ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "le_april", "lf_april"),
    [
        (90.0, 12.8, 0.9),
        (30.0001, 12.8, 0.9),
        (30.0, 9.5, 0.9),  # 30 >= lat > 10: the 20°N table
        (20.0, 9.5, 1.4),  # 20 >= lat > -20: Lf 1.4
        (10.0, 9.0, 1.4),  # 10 >= lat > -10: Le 9
        (-10.0, 8.5, 1.4),  # -10 >= lat > -30: the 20°S table
        (-20.0, 8.5, 0.4),  # lat <= -20: the southern Lf table
        (-30.0, 7.9, 0.4),  # lat <= -30: the 40°S table
        (-90.0, 7.9, 0.4),
    ],
)
def test_day_length_bands_follow_cffdrs_r(lat: float, le_april: float, lf_april: float) -> None:
    assert fwi.dmc_day_length(lat, 4).item() == le_april
    assert fwi.dc_day_length_factor(lat, 4).item() == lf_april


# --- properties ----------------------------------------------------------------------------------

temps = st.floats(-40.0, 50.0)
rhs = st.floats(0.0, 100.0)
winds = st.floats(0.0, 120.0)
rains = st.one_of(st.just(0.0), st.floats(0.0, 150.0))
months = st.integers(1, 12)
lats = st.floats(-90.0, 90.0)
ffmc_starts = st.floats(0.0, 101.0)
dmc_starts = st.floats(0.0, 300.0)
dc_starts = st.floats(0.0, 1000.0)


@st.composite
def seasons(
    draw: st.DrawFn,
    max_days: int = 20,
    max_stations: int = 4,
    temps: st.SearchStrategy[float] = temps,
    winds: st.SearchStrategy[float] = winds,
    rains: st.SearchStrategy[float] = rains,
    dmc_starts: st.SearchStrategy[float] = dmc_starts,
    dc_starts: st.SearchStrategy[float] = dc_starts,
) -> dict[str, Any]:
    days = draw(st.integers(1, max_days))
    stations = draw(st.integers(1, max_stations))

    def field(elements: st.SearchStrategy[float]) -> np.ndarray:
        return draw(hnp.arrays(np.float64, (days, stations), elements=elements))

    def per_station(elements: st.SearchStrategy[float]) -> np.ndarray:
        return draw(hnp.arrays(np.float64, (stations,), elements=elements))

    return {
        "temp": field(temps),
        "rh": field(rhs),
        "wind": field(winds),
        "rain": field(rains),
        "month": draw(hnp.arrays(np.int64, (days,), elements=months)),
        "lat": per_station(lats),
        "ffmc0": per_station(ffmc_starts),
        "dmc0": per_station(dmc_starts),
        "dc0": per_station(dc_starts),
        "variant": draw(st.sampled_from(fwi.VARIANTS)),
    }


@given(seasons())
@settings(max_examples=150, deadline=None)
def test_codes_stay_in_range(season: dict[str, Any]) -> None:
    check_codes_in_range(season)


@given(
    seasons(
        temps=st.floats(-90.0, 70.0),
        winds=st.floats(0.0, 500.0),
        rains=st.floats(0.0, 1e4),
        dmc_starts=st.floats(0.0, 1e4),
        dc_starts=st.floats(0.0, 1e5),
    )
)
@settings(max_examples=150, deadline=None)
def test_codes_stay_in_range_at_the_limits_of_accepted_input(season: dict[str, Any]) -> None:
    # any input daily accepts gives finite codes, without a numpy warning (warnings are errors)
    check_codes_in_range(season)


def check_codes_in_range(season: dict[str, Any]) -> None:
    out = daily(**season)
    for code in CODES:
        values = getattr(out, code)
        assert values.shape == season["temp"].shape
        assert np.all(np.isfinite(values)), code
        assert np.all(values >= 0.0), code
    assert np.all(out.ffmc <= 101.0)


@given(seasons(max_days=12))
@settings(max_examples=100, deadline=None)
def test_stations_are_independent_and_one_dimensional_input_matches(season: dict[str, Any]) -> None:
    together = daily(**season)
    for station in range(season["temp"].shape[1]):
        alone = daily(
            *(season[k][:, station] for k in ("temp", "rh", "wind", "rain")),
            month=season["month"],
            **{k: float(season[k][station]) for k in ("lat", "ffmc0", "dmc0", "dc0")},
            variant=season["variant"],
        )
        for code in CODES:
            np.testing.assert_array_equal(getattr(alone, code), getattr(together, code)[:, station])


@given(seasons(max_days=12))
@settings(max_examples=100, deadline=None)
def test_chained_step_functions_equal_daily(season: dict[str, Any]) -> None:
    out = daily(**season)
    coefficient = fwi.ffmc_coefficient(season["variant"])
    f, p, d = season["ffmc0"], season["dmc0"], season["dc0"]
    for day in range(season["temp"].shape[0]):
        t, h, w, r = (season[k][day] for k in ("temp", "rh", "wind", "rain"))
        if season["variant"] == "cffdrs":
            h = np.minimum(h, fwi.CFFDRS_RH_CAP)  # as cffdrs R's fwi() does before its steps
        month, lat = season["month"][day], season["lat"]
        f = fwi.ffmc_step(f, t, h, w, r, coefficient)
        p = fwi.dmc_step(p, t, h, r, month, lat)
        d = fwi.dc_step(d, t, r, month, lat)
        spread = fwi.isi(f, w, coefficient)
        buildup = fwi.bui(p, d)
        index = fwi.fwi(spread, buildup)
        stepped = {"ffmc": f, "dmc": p, "dc": d, "isi": spread, "bui": buildup, "fwi": index}
        stepped["dsr"] = fwi.dsr(index)
        for code, value in stepped.items():
            np.testing.assert_allclose(value, getattr(out, code)[day], rtol=1e-12, atol=1e-12)


@given(
    start=st.tuples(ffmc_starts, dmc_starts, dc_starts),
    weather=st.tuples(temps, rhs, winds, rains),
    extra=st.floats(0.01, 100.0),
    month=months,
    lat=lats,
)
@settings(max_examples=300)
def test_more_rain_never_raises_the_moisture_codes(
    start: tuple[float, float, float],
    weather: tuple[float, float, float, float],
    extra: float,
    month: int,
    lat: float,
) -> None:
    (f0, p0, d0), (t, h, w, r) = start, weather
    wetter = r + extra
    tol = 1e-9
    assert fwi.ffmc_step(f0, t, h, w, wetter) <= fwi.ffmc_step(f0, t, h, w, r) + tol
    assert fwi.dmc_step(p0, t, h, wetter, month, lat) <= fwi.dmc_step(p0, t, h, r, month, lat) + tol
    assert fwi.dc_step(d0, t, wetter, month, lat) <= fwi.dc_step(d0, t, r, month, lat) + tol


@given(
    f0=ffmc_starts,
    t=st.floats(-40.0, 21.1),
    rh_pair=st.tuples(rhs, rhs).map(sorted),
    w=winds,
    r=rains,
)
@settings(max_examples=300)
def test_higher_humidity_never_raises_ffmc_up_to_21_celsius(
    f0: float, t: float, rh_pair: list[float], w: float, r: float
) -> None:
    # Eqs. 4 and 5 rise with H only while 0.18 (21.1 - T) >= 0; above 21.1 °C and near-zero RH
    # the equilibrium moisture can fall as H rises, so the property is stated up to 21.1 °C.
    low, high = rh_pair
    assert fwi.ffmc_step(f0, t, high, w, r) <= fwi.ffmc_step(f0, t, low, w, r) + 1e-9


@given(
    p0=dmc_starts,
    d0=dc_starts,
    t_pair=st.tuples(temps, temps).map(sorted),
    h=rhs,
    r=rains,
    month=months,
    lat=lats,
)
@settings(max_examples=300)
def test_warmer_days_never_lower_dmc_or_dc(
    p0: float, d0: float, t_pair: list[float], h: float, r: float, month: int, lat: float
) -> None:
    cool, warm = t_pair
    assert fwi.dmc_step(p0, warm, h, r, month, lat) >= fwi.dmc_step(p0, cool, h, r, month, lat)
    assert fwi.dc_step(d0, warm, r, month, lat) >= fwi.dc_step(d0, cool, r, month, lat)


@given(ffmc=ffmc_starts, wind_pair=st.tuples(winds, winds).map(sorted))
def test_more_wind_never_lowers_isi(ffmc: float, wind_pair: list[float]) -> None:
    calm, windy = wind_pair
    assert fwi.isi(ffmc, windy) >= fwi.isi(ffmc, calm)


# --- results, start-up codes, edge cases ---------------------------------------------------------


def test_result_is_frozen_and_read_only() -> None:
    out = daily([17.0], [42.0], [25.0], [0.0], [4])
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.ffmc = np.zeros(1)  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        out.fwi[0] = 0.0


def test_defaults_are_the_standard_startup_codes() -> None:
    assert fwi.STARTUP == (85.0, 6.0, 15.0)
    explicit = daily([17.0], [42.0], [25.0], [0.0], [4], 46.0, *fwi.STARTUP)
    implicit = daily([17.0], [42.0], [25.0], [0.0], [4])
    assert explicit.fwi[0] == implicit.fwi[0]


def test_zero_days_give_empty_results() -> None:
    out = daily(np.empty((0, 3)), np.empty((0, 3)), np.empty((0, 3)), np.empty((0, 3)), [])
    assert all(getattr(out, code).shape == (0, 3) for code in CODES)


def test_bui_is_zero_when_dmc_and_dc_are_zero() -> None:
    assert fwi.bui(0.0, 0.0) == 0.0
    assert fwi.fwi(5.0, 0.0) > 0.0  # the duff function is 2 at BUI 0


def test_cffdrs_variant_caps_humidity_like_cffdrs_r() -> None:
    saturated = daily(
        [20.0, 15.0], [100.0, 100.0], [10.0, 5.0], [0.0, 0.0], [6, 6], variant="cffdrs"
    )
    capped = daily([20.0, 15.0], [99.9999] * 2, [10.0, 5.0], [0.0, 0.0], [6, 6], variant="cffdrs")
    uncapped = daily([20.0, 15.0], [100.0, 100.0], [10.0, 5.0], [0.0, 0.0], [6, 6])
    assert np.array_equal(saturated.ffmc, capped.ffmc)
    assert np.all(uncapped.dmc == 6.0)  # no duff drying at RH 100 without the cap
    assert np.all(saturated.dmc > 6.0)


def test_unknown_variant_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="'vanwagner1987', 'cffdrs'"):
        daily([17.0], [42.0], [25.0], [0.0], [4], variant="gfwed")


# --- bad input -----------------------------------------------------------------------------------


def weather_arrays(days: int = 20, stations: int = 5) -> dict[str, Any]:
    return {
        "temp": np.full((days, stations), 20.0),
        "rh": np.full((days, stations), 40.0),
        "wind": np.full((days, stations), 10.0),
        "rain": np.zeros((days, stations)),
        "month": np.full(days, 6),
    }


@pytest.mark.parametrize(
    ("field", "index", "value", "message"),
    [
        ("rh", (12, 3), 104.0, "rh[12, 3] = 104.0 is outside 0..100"),
        ("rh", (0, 0), -1.0, "rh[0, 0] = -1.0 is outside 0..100"),
        ("rain", (7, 1), -0.2, "rain[7, 1] = -0.2 is negative"),
        ("wind", (19, 4), -3.0, "wind[19, 4] = -3.0 is outside 0..500 km/h"),
        ("temp", (2, 2), np.nan, "temp[2, 2] = nan is not finite"),
        ("temp", (3, 0), 85.0, "temp[3, 0] = 85.0 is outside -90..70 °C"),
        ("rain", (5, 0), np.inf, "rain[5, 0] = inf is not finite"),
        ("wind", (1, 1), np.nan, "wind[1, 1] = nan is not finite"),
        ("month", (4,), 13, "month[4] = 13 is outside 1..12"),
        ("month", (0,), 0, "month[0] = 0 is outside 1..12"),
        ("month", (9,), 4.5, "month[9] = 4.5 is not a whole month"),
    ],
)
def test_bad_weather_is_refused_naming_array_and_index(
    field: str, index: tuple[int, ...], value: float, message: str
) -> None:
    arrays = weather_arrays()
    if isinstance(value, float):
        arrays[field] = arrays[field].astype(np.float64)
    arrays[field][index] = value
    arrays[field][(-1,) * len(index)] = value  # a later bad value must not be the one reported
    with pytest.raises(ValidationError) as caught:
        daily(**arrays)
    assert str(caught.value) == message
    assert caught.value.field == field


def test_first_bad_value_is_reported_in_day_major_order() -> None:
    arrays = weather_arrays()
    arrays["rh"][15, 0] = 101.0
    arrays["rh"][4, 4] = np.nan
    with pytest.raises(ValidationError, match=r"^rh\[4, 4\] = nan is not finite$"):
        daily(**arrays)


def test_one_dimensional_input_reports_a_single_index() -> None:
    arrays = {k: v[:, 0] for k, v in weather_arrays().items() if k != "month"}
    arrays["rh"][6] = 100.5
    with pytest.raises(ValidationError, match=r"^rh\[6\] = 100.5 is outside 0..100$"):
        daily(**arrays, month=np.full(20, 6))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"lat": 95.0}, "lat", "lat = 95.0 is outside -90..90"),
        ({"lat": np.array([40.0, 41.0, np.nan, 43.0, 44.0])}, "lat", "lat[2] = nan is not finite"),
        ({"ffmc0": 101.5}, "ffmc0", "ffmc0 = 101.5 is outside 0..101"),
        ({"dmc0": np.array([1.0, 2.0, 3.0, -4.0, 5.0])}, "dmc0", "dmc0[3] = -4.0 is outside"),
        ({"dc0": -1.0}, "dc0", "dc0 = -1.0 is outside 0..100000"),
        ({"dmc0": 2e4}, "dmc0", "dmc0 = 20000.0 is outside 0..10000"),
        ({"lat": np.zeros(3)}, "lat", "lat must be a scalar or shaped (5,), got shape (3,)"),
        ({"dc0": np.zeros((5, 1))}, "dc0", "dc0 must be a scalar or shaped (5,), got shape (5, 1)"),
        ({"rh": np.zeros((20, 4))}, "rh", "rh has shape (20, 4) but temp has shape (20, 5)"),
        ({"month": np.full(19, 6)}, "month", "month must be shaped (20,), got shape (19,)"),
        ({"temp": np.zeros((20, 5, 1))}, "temp", "temp must be shaped (days,) or (days, stations)"),
        ({"wind": "breezy"}, "wind", "wind is not numeric"),
    ],
)
def test_bad_shapes_and_start_codes_are_refused(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    arrays = weather_arrays() | overrides
    with pytest.raises(ValidationError, match="^" + re.escape(message)) as caught:
        daily(**arrays)
    assert caught.value.field == field


def test_one_dimensional_weather_needs_scalar_station_values() -> None:
    arrays = {k: v[:, 0] for k, v in weather_arrays().items() if k != "month"}
    with pytest.raises(ValidationError, match=r"lat must be a scalar for \(days,\) weather"):
        daily(**arrays, month=np.full(20, 6), lat=np.array([45.0]))
