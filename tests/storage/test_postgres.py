"""PostgreSQL storage: the storage contract plus what only PostgreSQL has (migrations shared
by several processes, COPY batches). Needs PostgreSQL (``RISKCAST_TEST_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets its own schema, dropped after.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskcast.core.sources import SourcePriority
from riskcast.storage.base import Storage
from riskcast.storage.memory import MemoryStorage
from riskcast.storage.sqlite import SqliteStorage
from riskcast.testing.storage import STORAGE_CHECKS, T0, StorageCheck
from riskcast.types import ReadingRow
from tests.conftest import IN_CI, require_service

URL = os.environ.get("RISKCAST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

if not IN_CI:  # in CI a missing extra is an error, not a skip
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
import psycopg  # noqa: E402

from riskcast.storage.postgres import (  # noqa: E402
    PARTITION_SPAN_US,
    PostgresStorage,
    _migrations,
    partition_name,
)


def _require_postgres() -> None:
    parts = urlsplit(URL)
    require_service("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)


def _drop(schema: str) -> None:
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            psycopg.sql.Identifier(schema)))


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh schema name for this test; the schema is dropped afterwards."""
    _require_postgres()
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    yield name
    _drop(name)


@pytest.fixture
def make_storage(schema: str) -> Callable[[], PostgresStorage]:
    return lambda: PostgresStorage(URL, schema=schema)


@pytest.mark.anyio
@pytest.mark.parametrize("check", STORAGE_CHECKS, ids=lambda c: c.__name__)
async def test_postgres_storage_contract(make_storage: Callable[[], Storage],
                                         check: StorageCheck) -> None:
    storage = make_storage()
    await storage.open()
    try:
        await check(storage)
    finally:
        await storage.aclose()


@pytest.mark.anyio
async def test_migrations_are_idempotent(make_storage: Callable[[], PostgresStorage]) -> None:
    newest = max(number for number, _ in _migrations())
    for _ in range(2):
        storage = make_storage()
        await storage.open()
        try:
            assert await storage.migrate() == newest
            await storage.write_readings([("s", "v", T0, 1.0, 0, None)])
            assert len(await storage.read_series("s", "v", T0, T0 + 1, limit=5)) == 1
        finally:
            await storage.aclose()


@pytest.mark.anyio
async def test_concurrent_opens_migrate_once(make_storage: Callable[[], PostgresStorage],
                                             schema: str) -> None:
    stores = [make_storage() for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        await asyncio.gather(*(s.ping() for s in stores))
    finally:
        await asyncio.gather(*(s.aclose() for s in stores))
    async with await psycopg.AsyncConnection.connect(URL) as conn:
        cur = await conn.execute(psycopg.sql.SQL(
            "SELECT version FROM {}.schema_version ORDER BY version").format(
            psycopg.sql.Identifier(schema)))
        versions = [row[0] for row in await cur.fetchall()]
    assert versions == [number for number, _ in _migrations()]


@pytest.mark.anyio
async def test_closed_storage_refuses_work(make_storage: Callable[[], PostgresStorage]) -> None:
    from riskcast.exceptions import StorageError

    storage = make_storage()
    await storage.open()
    await storage.aclose()
    await storage.aclose()
    with pytest.raises(StorageError):
        await storage.ping()


@pytest.mark.anyio
async def test_unreachable_server_is_a_storage_error() -> None:
    from riskcast.exceptions import StorageError

    storage = PostgresStorage("postgresql://postgres@127.0.0.1:1/none", connect_timeout=0.5)
    with pytest.raises(StorageError):
        await storage.open()


def _batch(rng: random.Random, n: int) -> list[ReadingRow]:
    sources = ["sensor:a", "agency:b", "satellite", "model:m", None, "sensor:c"]
    return [(f"s{rng.randrange(3)}", f"v{rng.randrange(2)}", T0 + rng.randrange(n // 2),
             float(i), rng.randrange(3), rng.choice(sources)) for i in range(n)]


@pytest.mark.anyio
async def test_copy_batch_with_duplicates_matches_sqlite(
        make_storage: Callable[[], PostgresStorage], tmp_path: Path) -> None:
    """50,000 rows with many duplicate keys and mixed priorities: the result equals SQLite's
    in-order upserts, also on top of rows already stored."""
    rng = random.Random(11)
    first, second = _batch(rng, 10_000), _batch(rng, 50_000)
    postgres = make_storage()
    sqlite = SqliteStorage(tmp_path / "ref.db", synchronous="off",
                           priority=SourcePriority())
    await postgres.open()
    await sqlite.open()
    try:
        for storage in (postgres, sqlite):
            await storage.write_readings(first)
            await storage.write_readings(second)
        for site in ("s0", "s1", "s2"):
            for variable in ("v0", "v1"):
                want = await sqlite.read_series(site, variable, 0, T0 * 2, limit=100_000)
                got = await postgres.read_series(site, variable, 0, T0 * 2, limit=100_000)
                assert got == want
                assert want
            assert await postgres.latest(site) == await sqlite.latest(site)
    finally:
        await postgres.aclose()
        await sqlite.aclose()


_readings = st.dictionaries(
    keys=st.integers(min_value=-10**13, max_value=10**13),
    values=st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0, 1, 2])),
    max_size=40,
)


async def _rollup(storage: Storage, site: str, data: dict[int, tuple[float, int]],
                  start: int, end: int, every: int) -> list[tuple[int, float, float, float, int]]:
    await storage.write_readings([(site, "v", t, v, q, None) for t, (v, q) in data.items()])
    got = await storage.rollup(site, "v", start, end, every)
    return [(b.start, b.mean, b.min, b.max, b.count) for b in got]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_readings, start=st.integers(-10**13, 0), span=st.integers(1, 2 * 10**13),
       every=st.integers(1_000_000, 10**12))
def test_rollups_match_memory_storage(schema: str, data: dict[int, tuple[float, int]],
                                      start: int, span: int, every: int) -> None:
    async def run() -> None:
        memory, postgres = MemoryStorage(), PostgresStorage(URL, schema=schema)
        await memory.open()
        await postgres.open()
        try:
            site = uuid.uuid4().hex[:8]
            want = await _rollup(memory, site, data, start, start + span, every)
            got = await _rollup(postgres, site, data, start, start + span, every)
        finally:
            await memory.aclose()
            await postgres.aclose()
        assert [g[0] for g in got] == [w[0] for w in want]
        for g, w in zip(got, want, strict=True):
            assert g[2:] == w[2:]
            assert g[1] == pytest.approx(w[1], rel=1e-9, abs=1e-6)

    asyncio.run(run())


# -- time partitions ----------------------------------------------------------------------

SPAN = PARTITION_SPAN_US
WEEK0 = (T0 // SPAN) * SPAN  # the start of the partition holding T0


async def _placement(schema: str) -> list[tuple[str, int]]:
    """(partition name, time) of every stored reading, by time."""
    async with await psycopg.AsyncConnection.connect(URL) as conn:
        cur = await conn.execute(psycopg.sql.SQL(
            "SELECT tableoid::regclass::text, time FROM {}.readings ORDER BY time").format(
            psycopg.sql.Identifier(schema)))
        return [(str(r[0]).split(".")[-1], int(r[1])) for r in await cur.fetchall()]


async def _sql(schema: str, query: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as conn:
        await conn.execute(psycopg.sql.SQL("SET search_path TO {}").format(
            psycopg.sql.Identifier(schema)))
        cur = await conn.execute(query.encode())
        return list(await cur.fetchall()) if cur.description else []


@pytest.mark.anyio
async def test_rows_land_in_their_time_partition(
        make_storage: Callable[[], PostgresStorage], schema: str) -> None:
    times = [WEEK0 - 1, WEEK0, WEEK0 + SPAN - 1, WEEK0 + SPAN, -1, 0, -SPAN - 1]
    storage = make_storage()
    await storage.open()
    try:
        await storage.write_readings([("s", "v", t, 1.0, 0, None) for t in times])
        placed = await _placement(schema)
        assert placed == [(partition_name(t // SPAN), t) for t in sorted(times)]
        assert {name for name, _ in placed} == {
            "readings_wm2", "readings_wm1", "readings_w0", partition_name(WEEK0 // SPAN - 1),
            partition_name(WEEK0 // SPAN), partition_name(WEEK0 // SPAN + 1)}
        assert [n for _, n in await storage.partitions()] == sorted(
            {name for name, _ in placed}, key=lambda n: int(n[10:].replace("m", "-")))
        # Upserts still meet their row across the partitioned primary key.
        await storage.write_readings([("s", "v", WEEK0, 2.0, 0, None)])
        got = await storage.read_series("s", "v", WEEK0, WEEK0 + 1, limit=5)
        assert [p.value for p in got] == [2.0]
    finally:
        await storage.aclose()


@pytest.mark.anyio
async def test_retention_drops_old_partitions_and_keeps_the_boundary(
        make_storage: Callable[[], PostgresStorage], schema: str) -> None:
    storage = make_storage()
    await storage.open()
    try:
        rows: list[ReadingRow] = []
        for week in range(4):  # 3 readings of "v" per week, plus one of "keep" in week 1
            start = WEEK0 + week * SPAN
            rows += [("s", "v", start + k * (SPAN // 3), float(week), 0, None) for k in range(3)]
        rows.append(("s", "keep", WEEK0 + SPAN + 5, 9.0, 0, None))
        await storage.write_readings(rows)
        cutoff = WEEK0 + 2 * SPAN + SPAN // 3  # inside week 2: its 2nd reading stays
        # "keep" is excluded: week 0 is dropped whole, week 1 (holding "keep") only has its
        # "v" rows deleted, week 2 straddles the cutoff.
        deleted = await storage.delete_readings_before(cutoff, variables=None,
                                                       exclude=["keep"])
        assert deleted == 3 + 3 + 1
        names = [n for _, n in await storage.partitions()]
        assert partition_name(WEEK0 // SPAN) not in names
        assert partition_name(WEEK0 // SPAN + 1) in names
        left = await storage.read_series("s", "v", 0, WEEK0 * 2, limit=100)
        assert [p.time for p in left] == [cutoff, cutoff + SPAN // 3] + [
            WEEK0 + 3 * SPAN + k * (SPAN // 3) for k in range(3)]
        assert len(await storage.read_series("s", "keep", 0, WEEK0 * 2, limit=5)) == 1
        # Without exclusions the partitions entirely before the cutoff go, "keep" with them.
        deleted = await storage.delete_readings_before(WEEK0 + 3 * SPAN, variables=None)
        assert deleted == 1 + 2
        assert [n for _, n in await storage.partitions()] == [partition_name(WEEK0 // SPAN + 3)]
        assert await storage.read_series("s", "keep", 0, WEEK0 * 2, limit=5) == []
        # A late reading for a dropped week lands in the DEFAULT partition (this storage
        # remembered the partition as existing) and is deleted by the next run.
        other = make_storage()
        await other.open()
        try:
            await other.write_readings([("s", "v", WEEK0 + 3 * SPAN, 5.0, 0, None)])
            assert await other.delete_readings_before(WEEK0 + 4 * SPAN, variables=None) == 3
        finally:
            await other.aclose()
        await storage.write_readings([("s", "v", WEEK0 + 3 * SPAN + 1, 6.0, 0, None)])
        assert await _placement(schema) == [("readings_default", WEEK0 + 3 * SPAN + 1)]
        assert await storage.delete_readings_before(WEEK0 + 4 * SPAN, variables=None) == 1
        assert await _placement(schema) == []
    finally:
        await storage.aclose()


@pytest.mark.anyio
async def test_rows_in_the_default_partition_move_into_a_new_partition(
        make_storage: Callable[[], PostgresStorage], schema: str) -> None:
    storage = make_storage()
    await storage.open()
    try:
        await storage.write_readings([("s", "v", 0, 0.0, 0, None)])  # makes series 1
        # As an older riskcast would: straight into readings, no partition for the week.
        await _sql(schema, f"INSERT INTO readings (series, time, value, quality, priority) "
                           f"VALUES (1, {WEEK0 + 7}, 7.0, 0, 0)")
        assert ("readings_default", WEEK0 + 7) in await _placement(schema)
        await storage.write_readings([("s", "v", WEEK0 + 8, 8.0, 0, None)])
        week = partition_name(WEEK0 // SPAN)
        assert await _placement(schema) == [
            ("readings_w0", 0), (week, WEEK0 + 7), (week, WEEK0 + 8)]
    finally:
        await storage.aclose()


@pytest.mark.anyio
async def test_concurrent_writers_create_the_same_partitions(
        make_storage: Callable[[], PostgresStorage], schema: str) -> None:
    stores = [make_storage() for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        for week in range(8):  # each round: all three need the same new partition at once
            t = WEEK0 + week * SPAN
            await asyncio.gather(*(s.write_readings([(f"s{i}", "v", t + i, 1.0, 0, None)])
                                   for i, s in enumerate(stores)))
        placed = await _placement(schema)
        assert len(placed) == 24
        assert all(name == partition_name(t // SPAN) for name, t in placed)
        assert len(await stores[0].partitions()) == 8
    finally:
        await asyncio.gather(*(s.aclose() for s in stores))


@pytest.mark.anyio
async def test_far_past_and_future_readings(
        make_storage: Callable[[], PostgresStorage], schema: str) -> None:
    times = [-(2**63), -10**17, 10**17, 2**63 - 2]
    storage = make_storage()
    await storage.open()
    try:
        await storage.write_readings([("s", "v", t, float(i), 0, None)
                                      for i, t in enumerate(times)])
        got = await storage.read_series("s", "v", -(2**63), 2**63 - 1, limit=10)
        assert [p.time for p in got] == times
        assert all(name != "readings_default" for name, _ in await _placement(schema))
        assert await storage.delete_readings_before(0, variables=None) == 2
        assert [p.time for p in await storage.read_series(
            "s", "v", -(2**63), 2**63 - 1, limit=10)] == times[2:]
    finally:
        await storage.aclose()


@pytest.mark.anyio
async def test_migration_partitions_an_existing_readings_table(schema: str) -> None:
    from riskcast.storage.pgpool import PostgresPool

    old = [m for m in _migrations() if m[0] == 1]
    pool = PostgresPool(URL, schema=schema)
    await pool.open()
    try:
        assert await pool.migrate(lock=1, table="schema_version", migrations=old) == 1
    finally:
        await pool.aclose()
    times = [-SPAN * 3 - 1, 0, WEEK0, WEEK0 + 1, WEEK0 + SPAN, 10**17]
    await _sql(schema, "INSERT INTO series (site, variable) VALUES ('s', 'v'), ('s', 'w')")
    values = ", ".join(f"({series}, {t}, {t % 1000}, 0, 'x', 1)"
                       for series in (1, 2) for t in times)
    await _sql(schema, "INSERT INTO readings (series, time, value, quality, source, priority) "
                       f"VALUES {values}")
    assert await _sql(schema, "SELECT relkind FROM pg_class WHERE oid = 'readings'::regclass"
                      ) == [("r",)]
    storage = PostgresStorage(URL, schema=schema)
    await storage.open()
    try:
        assert await storage.migrate() == max(n for n, _ in _migrations())
        assert await _sql(schema, "SELECT relkind FROM pg_class "
                                  "WHERE oid = 'readings'::regclass") == [("p",)]
        for variable in ("v", "w"):
            got = await storage.read_series("s", variable, -(2**62), 2**62, limit=100)
            assert [(p.time, p.value, p.source) for p in got] == [
                (t, float(t % 1000), "x") for t in times]
        placed = await _placement(schema)
        assert len(placed) == 12
        assert all(name == partition_name(t // SPAN) for name, t in placed)
        assert await _sql(schema, "SELECT to_regclass('readings_unpartitioned')") == [(None,)]
        # The old rows keep their priority and the primary key still drives upserts.
        await storage.write_readings([("s", "v", WEEK0, 5.0, 0, "x")])
        await storage.write_readings([("s", "w", WEEK0 + SPAN * 2, 6.0, 0, None)])
        got = await storage.read_series("s", "v", WEEK0, WEEK0 + 1, limit=5)
        assert [p.value for p in got] == [5.0]
    finally:
        await storage.aclose()


@pytest.mark.anyio
async def test_a_scattered_batch_creates_a_bounded_number_of_partitions(
        make_storage: Callable[[], PostgresStorage], schema: str) -> None:
    """40 weeks in one batch: the 16 with most rows get partitions, the rest wait in the
    DEFAULT partition until a later batch of their week creates it."""
    weeks = range(40)
    rows: list[ReadingRow] = [("s", "v", WEEK0 + w * SPAN + k, 1.0, 0, None)
                              for w in weeks for k in range(1 + (w >= 24))]
    storage = make_storage()
    await storage.open()
    try:
        await storage.write_readings(rows)
        assert len(await storage.read_series("s", "v", 0, WEEK0 * 2, limit=1000)) == len(rows)
        made = [i for i, _ in await storage.partitions()]
        assert made == [WEEK0 // SPAN + w for w in range(24, 40)]
        in_default = [t for name, t in await _placement(schema) if name == "readings_default"]
        assert in_default == [WEEK0 + w * SPAN for w in range(24)]
        await storage.write_readings([("s", "v", WEEK0 + 3 * SPAN + 1, 2.0, 0, None)])
        assert (partition_name(WEEK0 // SPAN + 3), WEEK0 + 3 * SPAN) in await _placement(schema)
        assert len(await storage.read_series("s", "v", 0, WEEK0 * 2, limit=1000)) == 57
    finally:
        await storage.aclose()
