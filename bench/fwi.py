"""Benchmark: riskcast's FWI System against xclim's ``cffwis_indices`` in the same run.

Random but plausible noon weather (seeded), ``stations`` x ``days``, latitudes spread over both
hemispheres where the two implementations use the same day-length tables. Prints wall times,
station-days per second, the speed ratio and the largest absolute difference per code.

    .venv/bin/python bench/fwi.py [--stations 10000 --days 365 --repeat 3 --seed 0]

xclim is a dev dependency (``pip install -e '.[dev]'``); it is never imported by riskcast itself.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from riskcast.packs.wildfire import fwi

Weather = dict[str, npt.NDArray[np.float64]]
Codes = dict[str, npt.NDArray[np.float64]]
CODES = ("ffmc", "dmc", "dc", "isi", "bui", "fwi", "dsr")
# Latitudes where cffdrs R's and xclim's day-length bands give the same tables.
LATITUDES = np.array([60.0, 46.0, 35.0, 25.0, -25.0, -35.0, -46.0])


def weather(stations: int, days: int, seed: int) -> Weather:
    """Plausible fire-season weather, shaped (days, stations), with some seasonality."""
    rng = np.random.default_rng(seed)
    season = np.sin(np.linspace(0.0, np.pi, days))[:, None]
    temp = 5.0 + 20.0 * season + rng.normal(0.0, 6.0, (days, stations))
    rh = np.clip(rng.normal(55.0, 20.0, (days, stations)), 5.0, 100.0)
    wind = rng.gamma(2.0, 7.0, (days, stations))
    wet = rng.random((days, stations)) < 0.35
    rain = np.where(wet, rng.exponential(4.0, (days, stations)), 0.0)
    lat = LATITUDES[np.arange(stations) % LATITUDES.size]
    dates = np.datetime64("2001-01-01") + np.arange(days)
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return {"temp": temp, "rh": rh, "wind": wind, "rain": rain, "month": month, "lat": lat}


def run_ours(w: Weather) -> Codes:
    out = fwi.daily(w["temp"], w["rh"], w["wind"], w["rain"], w["month"], lat=w["lat"])
    return {code: getattr(out, code) for code in CODES}


def run_xclim(w: Weather) -> Codes:
    import pandas as pd  # type: ignore[import-untyped]
    import xarray as xr
    from xclim.indices.fire import cffwis_indices  # type: ignore[import-untyped]

    # xclim reads months from the time coordinate: the same calendar as `weather`.
    time_ = pd.date_range("2001-01-01", periods=w["temp"].shape[0], freq="D")

    def da(values: npt.NDArray[np.float64], units: str) -> xr.DataArray:
        return xr.DataArray(
            values.T, dims=("station", "time"), coords={"time": time_}, attrs={"units": units}
        )

    lat = xr.DataArray(w["lat"], dims=("station",), attrs={"units": "degrees_north"})
    result = cffwis_indices(
        tas=da(w["temp"], "degC"),
        pr=da(w["rain"], "mm/d"),
        sfcWind=da(w["wind"], "km/h"),
        hurs=da(w["rh"], "%"),
        lat=lat,
        season_method=None,
        overwintering=False,
        dry_start=None,
    )
    out = {code: np.asarray(getattr(result, code.upper()).values).T for code in CODES[:-1]}
    out["dsr"] = 0.0272 * out["fwi"] ** 1.77
    return out


def timed(fn: Callable[[Weather], Codes], weather: Weather) -> tuple[float, float, Codes]:
    """Wall and CPU (user + system) seconds of one call, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(weather)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-xclim", action="store_true", help="time riskcast only")
    args = parser.parse_args()

    w = weather(args.stations, args.days, args.seed)
    station_days = args.stations * args.days
    print(
        f"FWI System, {args.stations} stations x {args.days} days = {station_days:,} station-days"
    )

    times: dict[str, list[tuple[float, float]]] = {"riskcast": [], "xclim": []}
    ours: Codes = {}
    theirs: Codes = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xclim's import and unit handling are chatty
        if not args.no_xclim:
            compile_time, _, _ = timed(run_xclim, weather(4, args.days, args.seed))
            print(f"xclim     first call on 4 stations (numba JIT compile): {compile_time:.3f} s")
        # Interleaved, so that both see the same load on the shared VM; results are dropped
        # before the next call so that neither keeps the other's memory.
        for _ in range(args.repeat):
            ours = {}
            wall, cpu, ours = timed(run_ours, w)
            times["riskcast"].append((wall, cpu))
            if not args.no_xclim:
                theirs = {}
                wall, cpu, theirs = timed(run_xclim, w)
                times["xclim"].append((wall, cpu))
    best = {}
    for name, runs in times.items():
        if not runs:
            continue
        walls = [wall for wall, _ in runs]
        best[name] = (min(walls), min(cpu for _, cpu in runs))
        print(
            f"{name:9s} wall best {best[name][0]:.3f} s, median {statistics.median(walls):.3f} s; "
            f"CPU best {best[name][1]:.3f} s; {station_days / best[name][0] / 1e6:.2f} M "
            "station-days/s"
        )
    if args.no_xclim:
        return
    print(
        f"ratio     xclim / riskcast: wall {best['xclim'][0] / best['riskcast'][0]:.2f}x, "
        f"CPU {best['xclim'][1] / best['riskcast'][1]:.2f}x (best of {args.repeat} each)"
    )
    diffs = "  ".join(f"{c.upper()} {np.max(np.abs(ours[c] - theirs[c])):.1e}" for c in CODES)
    print(f"max |riskcast - xclim|: {diffs}")


if __name__ == "__main__":
    main()
