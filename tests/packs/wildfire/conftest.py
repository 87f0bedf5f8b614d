"""Shared reference data for the wildfire tests.

The published tables live in ``shared/data`` beside the repository (CI clones it there), so a test
reads them as ``../shared/data/<file>`` relative to the repository root; see its PROVENANCE.md.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def shared_data(name: str) -> Path:
    """Path of ``name`` in the shared data directory; fails the test loudly if it is missing."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the shared data must sit beside the repository")
    return path


def read_columns(name: str) -> dict[str, list[str]]:
    """A shared CSV file as columns of strings by header (strings keep the printed digits)."""
    with shared_data(name).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {column: [row[column] for row in rows] for column in rows[0]}


@pytest.fixture(scope="session")
def vanwagner_pickett_1985() -> dict[str, list[str]]:
    """The 49-day test table of Van Wagner & Pickett (1985), For. Tech. Rep. 33, pp. 16-17."""
    return read_columns("fwi_vanwagner_pickett_1985_test_table.csv")


@pytest.fixture(scope="session")
def cffdrs_r_test_fwi() -> dict[str, list[str]]:
    """cffdrs R's ``test_fwi`` weather and its expected ``fwi()`` output (fwi_02.csv, 4 s.f.)."""
    return read_columns("fwi_cffdrs_r_test_fwi_comparison.csv")
