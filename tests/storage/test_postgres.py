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

from riskcast.storage.postgres import PostgresStorage, _migrations  # noqa: E402


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
