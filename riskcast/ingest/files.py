"""Readings from CSV and Parquet files, in chunks, with the API's validation.

Long format (default): one reading per row, columns ``site``, ``variable``, ``time``,
``value`` (rename with a mapping such as ``site=station,time=date``). Wide format: one row per
site and time, every other numeric column a variable (``wide=True``). Times without a
timezone are taken as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from riskcast.core.clock import from_us, parse_time
from riskcast.core.readings import ReadingIn, Rejection
from riskcast.exceptions import NotFoundError, ValidationError

LONG_COLUMNS = ("site", "variable", "time", "value")


@dataclass
class FileMapping:
    """How file columns map to readings."""

    columns: dict[str, str] = field(default_factory=dict)
    wide: bool = False
    site: str | None = None
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None, *, wide: bool = False, site: str | None = None) -> FileMapping:
        """Parse ``role=column,...``; in wide format ``column=variable`` renames variables."""
        mapping = cls(wide=wide, site=site)
        for part in (text or "").split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ValidationError(f"mapping: {part!r} is not name=column", field="mapping")
            key, value = (s.strip() for s in part.split("=", 1))
            if key in LONG_COLUMNS:
                mapping.columns[key] = value
            elif wide:
                mapping.variables[key] = value
            else:
                raise ValidationError(
                    f"mapping: unknown role {key!r} (use {', '.join(LONG_COLUMNS)})",
                    field="mapping")
        return mapping

    def column(self, role: str) -> str:
        return self.columns.get(role, role)


def read_table(path: Path) -> pa.Table:
    """A CSV or Parquet file as an Arrow table."""
    if not path.exists():
        raise NotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if suffix in (".csv", ".txt"):
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    raise ValidationError(f"{path.name}: use a .csv or .parquet file", field="file")


def _times(column: pa.ChunkedArray) -> list[Any]:
    """Times as aware datetimes (naive taken as UTC), text left for per-row parsing."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            column = pc.assume_timezone(column, "UTC")
        times: list[Any] = column.cast(pa.timestamp("us", tz="UTC")).to_pylist()
        return times
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return [None if v is None else float(v) for v in column.to_pylist()]
    return [None if v is None else str(v) for v in column.to_pylist()]


class Chunk(NamedTuple):
    """Items read from some rows; ``rows[i]`` is the 0-based file row of ``items[i]``, and
    rejections index ``items``."""

    items: list[ReadingIn | None]
    rows: list[int]
    rejected: list[Rejection]


def iter_chunks(table: pa.Table, mapping: FileMapping, *, chunk_rows: int = 10_000
                ) -> Iterator[Chunk]:
    """The table's readings in chunks of at most ``chunk_rows`` file rows."""
    names = set(table.column_names)
    time_col = mapping.column("time")
    if time_col not in names:
        raise ValidationError(f"no column {time_col!r} for the time (columns: "
                              f"{', '.join(table.column_names)})", field="time")
    if mapping.wide:
        site_col = mapping.column("site")
        if mapping.site is None and site_col not in names:
            raise ValidationError(f"wide format needs a {site_col!r} column or a fixed site",
                                  field="site")
        keys = {time_col, site_col}
        value_cols = [c for c in table.column_names if c not in keys and (
            pa.types.is_integer(table[c].type) or pa.types.is_floating(table[c].type))]
        if not value_cols:
            raise ValidationError("wide format: no numeric columns to read", field="file")
    else:
        for role in ("site", "variable", "value"):
            if mapping.column(role) not in names:
                raise ValidationError(
                    f"no column {mapping.column(role)!r} for the {role} (columns: "
                    f"{', '.join(table.column_names)}); map it with --map {role}=COLUMN",
                    field=role)
    for offset in range(0, table.num_rows, chunk_rows):
        part = table.slice(offset, chunk_rows)
        times = _times(part[time_col])
        items: list[ReadingIn | None] = []
        rows: list[int] = []
        rejected: list[Rejection] = []
        if mapping.wide:
            sites = ([mapping.site] * part.num_rows if mapping.site is not None
                     else [None if s is None else str(s) for s in part[site_col].to_pylist()])
            columns = {c: part[c].to_pylist() for c in value_cols}
            for row in range(part.num_rows):
                for col in value_cols:
                    if columns[col][row] is None:
                        continue  # an empty cell in wide format is no reading, not a bad one
                    rows.append(offset + row)
                    _add(items, rejected, sites[row], mapping.variables.get(col, col),
                         times[row], columns[col][row])
        else:
            sites = part[mapping.column("site")].to_pylist()
            variables = part[mapping.column("variable")].to_pylist()
            values = part[mapping.column("value")].to_pylist()
            for row in range(part.num_rows):
                rows.append(offset + row)
                _add(items, rejected, sites[row], variables[row], times[row], values[row])
        yield Chunk(items, rows, rejected)


def _add(items: list[ReadingIn | None], rejected: list[Rejection], site: Any, variable: Any,
         stamp: Any, value: Any) -> None:
    """Append an item, or ``None`` plus a rejection naming the field at fault."""
    local = len(items)
    problem: tuple[str, str] | None = None
    if site is None:
        problem = ("site is empty", "site")
    elif variable is None:
        problem = ("variable is empty", "variable")
    elif value is None:
        problem = ("value is empty", "value")
    elif stamp is None:
        problem = ("time is empty", "time")
    else:
        try:
            value = float(value)
        except (TypeError, ValueError):
            problem = (f"value {value!r} is not a number", "value")
    if problem is None and isinstance(stamp, str):
        try:
            stamp = from_us(parse_time(stamp))
        except ValidationError as err:
            problem = (str(err), "time")
    if problem is not None:
        items.append(None)
        rejected.append(Rejection(local, problem[0], problem[1]))
        return
    items.append(ReadingIn(site=str(site), variable=str(variable), value=value, time=stamp))
