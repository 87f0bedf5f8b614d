"""Importer for India's CPCB/NWMP station-year water quality data, 2003-2014 (the widely
copied ``water_dataX.csv``; ``shared/data/india_water_quality_cpcb_2003_2014_raw.csv``,
provenance in shared/data/PROVENANCE.md), and its CPCB class counts.

The file is latin-1 (``µmhos/cm`` in a header), 1,991 rows of station-year means: station
code, location, state, temperature (°C), DO (mg/L), pH, conductivity (µmhos/cm = µS/cm),
BOD (mg/L), nitrate + nitrite N (mg/L), fecal and total coliform (MPN/100 mL), year. What
the importer does about its faults:

- ``NAN``, empty and blank cells are missing values.
- 90 rows of 2003-2004 (the block after the 2005 rows, state missing) are shifted: the
  ``D.O.`` column holds pH, ``PH`` holds conductivity and ``CONDUCTIVITY`` holds DO, and the
  fecal-coliform column repeats the nitrate column. A row is read as shifted when its pH
  column exceeds 14 while its DO column lies in 0..14 and its conductivity column in 0..25;
  it is remapped and its fecal coliform dropped (``layout == "shifted"``).
- A pH of exactly 0 stands for "not measured" (two 2013 rows where everything else is
  missing too); other values outside a variable's physical range are dropped with a note.

``python -m riskcast.packs.water.india PATH`` prints the class counts (docs/water.md).
"""

from __future__ import annotations

import csv
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from riskcast.exceptions import ValidationError
from riskcast.packs.water.cpcb import CLASSES, cpcb_class

#: Header (upper case, spaces squeezed) → field, for the columns that carry numbers.
COLUMNS = {
    "temp": "temp_c",
    "d.o. (mg/l)": "do_mgl",
    "ph": "ph",
    "conductivity (µmhos/cm)": "conductivity_uscm",
    "b.o.d. (mg/l)": "bod_mgl",
    "nitratenan n+ nitritenann (mg/l)": "nitrate_n_mgl",
    "fecal coliform (mpn/100ml)": "fecal_coliform_mpn100ml",
    "total coliform (mpn/100ml)mean": "total_coliform_mpn100ml",
}
TEXT_COLUMNS = {"station code": "station_code", "locations": "location", "state": "state",
                "year": "year"}
#: Physically possible ranges; a value outside is dropped (it cannot be a station mean).
PHYSICAL = {"temp_c": (-2.0, 60.0), "do_mgl": (0.0, 50.0), "ph": (0.0, 14.0),
            "conductivity_uscm": (0.0, 200_000.0), "bod_mgl": (0.0, 10_000.0),
            "nitrate_n_mgl": (0.0, 1_000.0), "fecal_coliform_mpn100ml": (0.0, 1e10),
            "total_coliform_mpn100ml": (0.0, 1e10)}
MISSING = frozenset({"", "NAN", "NA", "N/A"})


@dataclass(slots=True)
class IndiaSample:
    """One station-year row, values in riskcast units (None when missing)."""

    row: int
    station_code: str | None
    location: str | None
    state: str | None
    year: int
    temp_c: float | None = None
    do_mgl: float | None = None
    ph: float | None = None
    conductivity_uscm: float | None = None
    bod_mgl: float | None = None
    nitrate_n_mgl: float | None = None
    fecal_coliform_mpn100ml: float | None = None
    total_coliform_mpn100ml: float | None = None
    layout: str = "standard"
    notes: list[str] = field(default_factory=list)

    def cpcb_inputs(self) -> dict[str, float | None]:
        """The values the CPCB classes use, by riskcast variable name."""
        return {"do_mgl": self.do_mgl, "ph": self.ph, "bod_mgl": self.bod_mgl,
                "total_coliform_mpn100ml": self.total_coliform_mpn100ml,
                "conductivity_uscm": self.conductivity_uscm}

    @property
    def cpcb_class(self) -> str | None:
        return cpcb_class(self.cpcb_inputs())


def _number(text: str) -> float | None:
    text = text.strip()
    if text.upper() in MISSING:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _key(header: str) -> str:
    return " ".join(header.split()).lower()


def parse(rows: Iterable[Sequence[str]]) -> list[IndiaSample]:
    """Samples from CSV rows (header first)."""
    iterator = iter(rows)
    try:
        header = [_key(h) for h in next(iterator)]
    except StopIteration:
        raise ValidationError("the file is empty", field="header") from None
    wanted = {**COLUMNS, **TEXT_COLUMNS}
    missing = [h for h in wanted if h not in header]
    if missing:
        raise ValidationError(f"column {missing[0]!r} not found (have {header})",
                              field=missing[0])
    index = {wanted[h]: header.index(h) for h in wanted}
    samples = []
    for number, cells in enumerate(iterator, start=1):
        if not any(c.strip() for c in cells):
            continue
        text = {name: cells[i].strip() for name, i in index.items() if name in
                TEXT_COLUMNS.values()}
        year = _number(text["year"])
        code = _number(text["station_code"])
        sample = IndiaSample(
            row=number, station_code=None if code is None else str(int(code)),
            location=None if text["location"].upper() in MISSING else text["location"],
            state=None if text["state"].upper() in MISSING else text["state"],
            year=0 if year is None else int(year))
        values = {name: _number(cells[index[name]]) for name in COLUMNS.values()}
        _repair(sample, values)
        samples.append(sample)
    return samples


def _repair(sample: IndiaSample, values: dict[str, float | None]) -> None:
    """Undo the shifted layout, drop missing markers and impossible values; fill ``sample``."""
    ph, do, ec = values["ph"], values["do_mgl"], values["conductivity_uscm"]
    if (ph is not None and ph > 14 and do is not None and 0 <= do <= 14
            and ec is not None and 0 <= ec <= 25):
        values["ph"], values["conductivity_uscm"], values["do_mgl"] = do, ph, ec
        values["fecal_coliform_mpn100ml"] = None
        sample.layout = "shifted"
        sample.notes.append("shifted columns remapped; fecal coliform (a copy of nitrate) "
                            "dropped")
    if values["ph"] == 0.0:
        values["ph"] = None
        sample.notes.append("pH 0 read as missing")
    for name, value in values.items():
        low, high = PHYSICAL[name]
        if value is not None and not low <= value <= high:
            sample.notes.append(f"{name}={value} outside {low}..{high}, dropped")
            value = None
        setattr(sample, name, value)


def load(path: str | Path) -> list[IndiaSample]:
    """Read the data set (latin-1) into samples."""
    with Path(path).open(encoding="latin-1", newline="") as handle:
        return parse(csv.reader(handle))


def class_counts(samples: Iterable[IndiaSample]) -> dict[str, int]:
    """How many samples fall in each CPCB class, and how many are ``undetermined`` (a
    missing DO, pH, BOD, coliform or conductivity value leaves more than one class open)."""
    counts = Counter(s.cpcb_class or "undetermined" for s in samples)
    return {name: counts.get(name, 0) for name in (*CLASSES, "undetermined")}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m riskcast.packs.water.india PATH", file=sys.stderr)
        return 2
    samples = load(args[0])
    counts = class_counts(samples)
    shifted = sum(s.layout == "shifted" for s in samples)
    usable = len(samples) - counts["undetermined"]
    print(f"{len(samples)} rows ({shifted} with shifted columns remapped), "
          f"{usable} with a determined class")
    for name, count in counts.items():
        print(f"{name:>12} {count:5d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
