"""The India CPCB/NWMP data set: parsing its faults, and stable class counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskcast.exceptions import ValidationError
from riskcast.packs.water import india
from riskcast.packs.water.india import class_counts, load, parse

#: The counts reported in docs/water.md (python -m riskcast.packs.water.india ...).
COUNTS = {"A": 129, "B": 452, "C": 588, "D": 586, "E": 88, "below-E": 55,
          "undetermined": 93}


@pytest.fixture(scope="module")
def samples(india_csv: Path) -> list[india.IndiaSample]:
    return load(india_csv)


def test_all_rows_read(samples: list[india.IndiaSample]) -> None:
    assert len(samples) == 1991
    assert {s.year for s in samples} == set(range(2003, 2015))


def test_class_counts_are_stable_and_sum_to_the_usable_rows(
        samples: list[india.IndiaSample]) -> None:
    counts = class_counts(samples)
    assert counts == COUNTS
    usable = [s for s in samples if s.cpcb_class is not None]
    assert sum(v for k, v in counts.items() if k != "undetermined") == len(usable) == 1898


def test_shifted_rows_are_remapped(samples: list[india.IndiaSample]) -> None:
    shifted = [s for s in samples if s.layout == "shifted"]
    assert len(shifted) == 89 and {s.year for s in shifted} == {2003, 2004}
    amlakhadi = next(s for s in shifted if s.location and s.location.startswith("AMLAKHADI"))
    assert (amlakhadi.ph, amlakhadi.conductivity_uscm, amlakhadi.do_mgl,
            amlakhadi.bod_mgl) == (4.0, 9948.0, 0.4, 513.5)
    assert amlakhadi.fecal_coliform_mpn100ml is None
    assert all(s.ph is None or 0 < s.ph <= 14 for s in samples)


def test_missing_markers_and_placeholders_become_none(
        samples: list[india.IndiaSample]) -> None:
    first = samples[0]  # DAMANGANGA AT D/S OF MADHUBAN, DAMAN, 2014: BOD "NAN"
    assert first.station_code == "1393" and first.state == "DAMAN & DIU"
    assert first.bod_mgl is None and first.do_mgl == 6.7
    assert sum("pH 0 read as missing" in s.notes for s in samples) == 2


def test_parse_reads_a_latin1_header_and_refuses_a_foreign_file() -> None:
    header = ["STATION CODE", "LOCATIONS", "STATE", "Temp", "D.O. (mg/l)", "PH",
              "CONDUCTIVITY (µmhos/cm)", "B.O.D. (mg/l)", "NITRATENAN N+ NITRITENANN (mg/l)",
              "FECAL COLIFORM (MPN/100ml)", "TOTAL COLIFORM (MPN/100ml)Mean", "year"]
    row = ["17", "PERIYAR AT ALWAYE", "KERALA", "28", "7.0", "7.5", "150", "1.5", "0.2",
           "10", "30", "2012"]
    [s] = parse([header, row, [""] * 12])
    assert s.cpcb_class == "A" and s.conductivity_uscm == 150.0
    with pytest.raises(ValidationError, match="not found"):
        parse([["a", "b"], ["1", "2"]])
    with pytest.raises(ValidationError):
        parse([])


def test_main_prints_the_counts(india_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert india.main([str(india_csv)]) == 0
    out = capsys.readouterr().out
    assert "1991 rows (89 with shifted columns remapped), 1898 with a determined class" in out
    assert india.main([]) == 2
