"""``riskcast fwi WEATHER.csv``: the FWI System's codes for a file of daily noon weather."""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from riskcast.exceptions import ValidationError

#: Accepted column names for each input, first match wins (case-insensitive).
ALIASES = {
    "temp": ("temp", "temp_c", "temperature", "t"),
    "rh": ("rh", "rh_pct", "humidity"),
    "wind": ("wind", "wind_kmh", "ws", "ws_kmh", "ws_km/h"),
    "rain": ("rain", "rain_mm", "prec", "precip", "precipitation"),
}
CODES = ("ffmc", "dmc", "dc", "isi", "bui", "fwi", "dsr")


def _find(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    return next((lowered[n] for n in names if n in lowered), None)


def _months(rows: list[dict[str, str]], header: list[str]) -> list[int]:
    month = _find(header, ("month", "mon", "mm"))
    if month is not None:
        return [int(float(r[month])) for r in rows]
    when = _find(header, ("date", "day", "time"))
    if when is None:
        raise ValidationError("no month column: give 'month' or 'date' (YYYY-MM-DD)",
                              field="month")
    try:
        return [date.fromisoformat(r[when].strip()[:10]).month for r in rows]
    except ValueError as err:
        raise ValidationError(f"column {when!r}: {err}", field=when) from err


def fwi(
    weather: Annotated[Path, typer.Argument(help="CSV of consecutive days: temp, rh, wind, rain "
                                             "and month or date; optional station column")],
    lat: Annotated[float, typer.Option(help="Latitude (day-length tables)")] = 46.0,
    variant: Annotated[str, typer.Option(help="vanwagner1987 or cffdrs")] = "vanwagner1987",
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output",
                                             show_default=False)] = None,
    ffmc0: Annotated[float, typer.Option(help="Start-up FFMC")] = 85.0,
    dmc0: Annotated[float, typer.Option(help="Start-up DMC")] = 6.0,
    dc0: Annotated[float, typer.Option(help="Start-up DC")] = 15.0,
) -> None:
    """Compute FFMC, DMC, DC, ISI, BUI, FWI and DSR (Van Wagner 1987) day by day; rows of each
    station are taken in file order. Writes the input columns plus the codes as CSV."""
    from riskcast.packs.wildfire.fwi import daily

    if not weather.exists():
        typer.secho(f"error: no such file: {weather}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    with weather.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    try:
        columns = {}
        for key, names in ALIASES.items():
            found = _find(header, names)
            if found is None:
                raise ValidationError(f"no {key} column (accepted names: {', '.join(names)})",
                                      field=key)
            columns[key] = found
        station_col = _find(header, ("station", "site", "id"))
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(row[station_col] if station_col else "", []).append(i)
        months = _months(rows, header)
        results: list[dict[str, float]] = [{} for _ in rows]
        for indexes in groups.values():
            values = {k: [float(rows[i][c]) for i in indexes] for k, c in columns.items()}
            result = daily(values["temp"], values["rh"], values["wind"], values["rain"],
                           [months[i] for i in indexes], lat=lat, ffmc0=ffmc0, dmc0=dmc0,
                           dc0=dc0, variant=variant)
            for n, i in enumerate(indexes):
                results[i] = {code: float(getattr(result, code)[n]) for code in CODES}
    except (ValidationError, ValueError) as err:
        typer.secho(f"error: {weather.name}: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from err
    handle = out.open("w", newline="") if out else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow([*header, *CODES])
        for row, codes in zip(rows, results, strict=True):
            writer.writerow([row[h] for h in header] +
                            [repr(round(codes[c], 6)) for c in CODES])
    finally:
        if out:
            handle.close()
