"""PostgreSQL readings: the partitioned table (7-day partitions, migration 0002) against the
old single table (migration 0001 only), in one run, on the same server.

    .venv/bin/python bench/pg_partitions.py [--url postgresql://postgres@127.0.0.1:5432/test]
        [--batches 60] [--batch 5000] [--rounds 3]

Each layout gets a fresh schema; ``--batches`` batches of ``--batch`` new readings (50 sites x
4 variables, one reading an hour per series, so the run spans several weeks) go through
``PostgresStorage.write_readings`` (COPY, then INSERT ... ON CONFLICT), then the same number
again as replacements of stored rows. The layouts alternate, ``--rounds`` times; the best
round of each is printed. Then retention deletes the oldest half of the readings once per
layout (DELETE vs DROP TABLE of whole partitions plus a DELETE in the straddling one).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskcast.storage.postgres import PostgresStorage, _migrations  # noqa: E402
from riskcast.types import ReadingRow  # noqa: E402

T0 = 1_782_907_200_000_000
HOUR = 3_600_000_000


class SingleTable(PostgresStorage):
    """The layout before migration 0002: one ``readings`` table, no partitions."""

    async def migrate(self) -> int:
        return await self._pool.migrate(lock=1, table="schema_version",
                                        migrations=[m for m in _migrations() if m[0] == 1])

    async def _ensure_partitions(self, indexes: Counter[int]) -> None:
        return None


def batches(count: int, size: int) -> list[list[ReadingRow]]:
    series = [(f"site{i}", f"var{j}") for i in range(50) for j in range(4)]
    out, n = [], 0
    for _ in range(count):
        rows: list[ReadingRow] = []
        for _ in range(size):
            site, var = series[n % len(series)]
            rows.append((site, var, T0 + (n // len(series)) * HOUR, float(n), 0, None))
            n += 1
        out.append(rows)
    return out


async def run(cls: type[PostgresStorage], url: str, data: list[list[ReadingRow]]
              ) -> tuple[float, float, float, int, int]:
    schema = f"rc_bench_{uuid.uuid4().hex[:8]}"
    storage = cls(url, schema=schema)
    await storage.open()
    try:
        total = sum(len(b) for b in data)
        start = time.perf_counter()
        for rows in data:
            await storage.write_readings(rows)
        new = total / (time.perf_counter() - start)
        start = time.perf_counter()
        for rows in data:
            await storage.write_readings(rows)
        replace = total / (time.perf_counter() - start)
        last = data[-1][-1][2]
        cutoff = T0 + (last - T0) // 2
        start = time.perf_counter()
        deleted = await storage.delete_readings_before(cutoff, variables=None)
        retention = time.perf_counter() - start
        left = len(await storage.read_series("site0", "var0", 0, last + 1, limit=10**7))
        return new, replace, retention, deleted, left
    finally:
        await storage.aclose()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(
                psycopg.sql.Identifier(schema)))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = batches(args.batches, args.batch)
    span_days = (data[-1][-1][2] - T0) / 86_400e6
    print(f"{args.batches} x {args.batch} readings spanning {span_days:.1f} days")
    best: dict[str, tuple[float, float, float, int, int]] = {}
    for _ in range(args.rounds):
        for name, cls in (("single table", SingleTable), ("partitioned", PostgresStorage)):
            got = await run(cls, args.url, data)
            if name not in best or got[0] > best[name][0]:
                best[name] = got
    for name, (new, replace, retention, deleted, left) in best.items():
        print(f"{name:13s} new {new:9,.0f} readings/s  replace {replace:9,.0f} readings/s  "
              f"retention {retention:6.3f} s ({deleted:,} deleted, site0/var0 keeps {left})")


if __name__ == "__main__":
    asyncio.run(main())
