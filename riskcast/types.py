"""Type aliases shared across riskcast."""

from __future__ import annotations

from typing import Any, TypeAlias

#: A point in time as integer microseconds since the Unix epoch, UTC.
#: Used everywhere inside riskcast; converted to RFC 3339 only at the edges.
Micros: TypeAlias = int

#: A JSON-compatible value.
JSON: TypeAlias = Any

#: A row bound for the readings table: (site, variable, time, value, quality, source).
ReadingRow: TypeAlias = tuple[str, str, int, float, int, str | None]
