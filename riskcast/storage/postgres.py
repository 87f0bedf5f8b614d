"""PostgreSQL storage (psycopg 3, async): the scale-out backend.

Several riskcast processes share one database. Everything lives in one schema (``riskcast``
by default), brought up to date at :meth:`PostgresStorage.open` by the versioned
migrations ``migrations/postgres_NNNN_*.sql``: in one transaction, under an advisory lock,
so processes starting together apply each migration once.

``readings`` is partitioned by RANGE on ``time``: one partition per :data:`PARTITION_SPAN_US`
(7 days, aligned to the epoch), named ``readings_w<N>`` (``readings_wm<N>`` before 1970),
plus ``readings_default``. Before a batch is inserted, the partitions it needs are created
(each process remembers which exist), in their own transaction under an advisory lock, so
processes creating the same partition wait for each other and the second finds it made.
A batch creates at most :data:`MAX_NEW_PARTITIONS` (the weeks holding most of its rows).
The DEFAULT partition is therefore normally empty; rows that reach it anyway (weeks past
that limit, rows written after another process's retention dropped their cached partition,
or by an older riskcast) are moved into their partition when it is created, and deleted by
retention like any other row.

Writes go through ``COPY`` into a temporary staging table, then one
``INSERT ... SELECT ... ON CONFLICT`` into ``readings``, in one transaction. Within a batch
rows apply in order, as SQLite's ``executemany`` does: per key the last row among those of
the highest priority wins, and it replaces a stored row only when its priority is at least
the stored one's. Retention drops the partitions that lie entirely before the cutoff
(``DROP TABLE``) when it applies to every variable, and ``DELETE``s the rest: the partition
straddling the cutoff, the DEFAULT partition, and per-variable retention. TimescaleDB
hypertables are not used.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from riskcast.core.clock import now_us
from riskcast.core.sites import Site
from riskcast.core.sources import SourcePriority
from riskcast.exceptions import MissingExtraError, StorageError
from riskcast.storage.base import Bucket, Latest, Point, Storage
from riskcast.storage.pgpool import PostgresPool
from riskcast.types import ReadingRow

try:
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("psycopg", "postgres") from err

#: First key of the advisory lock taken while migrating (the second is the schema's hash).
_MIGRATION_LOCK = 0x52434D47  # "RCMG"
#: First key of the advisory lock taken while creating partitions of ``readings``.
_PARTITION_LOCK = 0x52435054  # "RCPT"

#: The time span of one partition of ``readings``: 7 days in microseconds. Must equal the
#: span in ``postgres_0002_partitioned_readings.sql``.
PARTITION_SPAN_US = 7 * 86_400 * 1_000_000
#: At most this many partitions are created for one batch (those holding most of its rows);
#: rows of further weeks go to the DEFAULT partition until a later batch creates theirs. A
#: batch with scattered times must not create thousands of partitions (each slows planning
#: and takes locks; too many in one transaction exhaust the lock table and fail the batch).
MAX_NEW_PARTITIONS = 16
_INT8_MIN, _INT8_MAX = -(2**63), 2**63 - 1
_PARTITION_NAME = re.compile(r"^readings_w(m?)(\d+)$")

_STAGING = (
    "CREATE TEMPORARY TABLE riskcast_staging (ord bigint NOT NULL, site text NOT NULL, "
    "variable text NOT NULL, time bigint NOT NULL, value double precision NOT NULL, "
    "quality smallint NOT NULL, source text, priority smallint NOT NULL) ON COMMIT DROP"
)
_COPY = ("COPY riskcast_staging (ord, site, variable, time, value, quality, source, priority)"
         " FROM STDIN (FORMAT BINARY)")
_COPY_TYPES = ["int8", "text", "text", "int8", "float8", "int2", "text", "int2"]
_NEW_SERIES = (
    "INSERT INTO series (site, variable) SELECT DISTINCT site, variable FROM riskcast_staging "
    "ORDER BY site, variable ON CONFLICT (site, variable) DO NOTHING"
)
# Per key, the row SQLite's in-order upserts would leave: highest priority, then the latest.
_UPSERT = (
    "INSERT INTO readings (series, time, value, quality, source, priority) "
    "SELECT DISTINCT ON (s.id, g.time) s.id, g.time, g.value, g.quality, g.source, g.priority "
    "FROM riskcast_staging g JOIN series s ON s.site = g.site AND s.variable = g.variable "
    "ORDER BY s.id, g.time, g.priority DESC, g.ord DESC "
    "ON CONFLICT (series, time) DO UPDATE SET value = excluded.value, "
    "quality = excluded.quality, source = excluded.source, priority = excluded.priority "
    "WHERE excluded.priority >= readings.priority"
)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("riskcast.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith("postgres_") and name.endswith(".sql"):
            found.append((int(name.split("_")[1]), entry.read_text()))
    return sorted(found)


def partition_index(time: int) -> int:
    """The number of the partition of ``readings`` holding ``time`` (floored, so < 0 before
    1970)."""
    return time // PARTITION_SPAN_US


def partition_name(index: int) -> str:
    """``readings_w<index>``, with ``m`` for the minus sign."""
    return f"readings_w{index}".replace("-", "m")


def _bound(value: int) -> str:
    if value < _INT8_MIN:
        return "MINVALUE"
    if value > _INT8_MAX:
        return "MAXVALUE"
    return str(value)


class PostgresStorage(Storage):
    """PostgreSQL at ``url`` (``postgresql://user@host:5432/db``), tables in ``schema``.

    ``pool_size`` connections at most; :meth:`open` gives up after ``connect_timeout``
    seconds without a connection, and so does every call while PostgreSQL is away
    (``StorageError``: ingest answers 503 with Retry-After; :meth:`ping` gives up after
    2 s, so readiness answers promptly). Connections broken by a PostgreSQL restart are
    checked out of the pool before use and replaced. A commit returns only once PostgreSQL
    has it durable (``synchronous_commit`` as the server is configured).
    """

    def __init__(self, url: str, *, priority: SourcePriority | None = None,
                 schema: str = "riskcast", pool_size: int = 4,
                 connect_timeout: float = 10.0) -> None:
        self.url = url
        self.schema = schema
        self.priority = priority or SourcePriority()
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._pool = PostgresPool(url, schema=schema, size=pool_size,
                                  connect_timeout=connect_timeout, what="postgres")
        self._closed = False
        self._partitions: set[int] = set()  # indexes of partitions known to exist

    # -- plumbing ---------------------------------------------------------------------

    @asynccontextmanager
    async def _conn(self, wait: float | None = None
                    ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._closed:
            raise StorageError("storage is closed")
        async with self._pool.connection(wait) as conn:
            yield conn

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        await self._pool.open()
        try:
            await self.migrate()
        except BaseException:
            await self.aclose()
            raise

    async def migrate(self) -> int:
        """Apply the migrations not yet applied; returns the schema version."""
        return await self._pool.migrate(lock=_MIGRATION_LOCK, table="schema_version",
                                        migrations=_migrations())

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._pool.aclose()

    async def ping(self) -> None:
        async with self._conn(wait=2.0) as conn:
            await conn.execute("SELECT 1")

    # -- sites ------------------------------------------------------------------------

    async def put_site(self, site: Site) -> bool:
        async with self._conn() as conn:
            cur = await conn.execute(
                "INSERT INTO sites (id, name, pack, lat, lon, tags, created_us) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "name = excluded.name, pack = excluded.pack, lat = excluded.lat, "
                "lon = excluded.lon, tags = excluded.tags RETURNING (xmax = 0)",
                (site.id, site.name, site.pack, site.lat, site.lon, Jsonb(site.tags),
                 now_us()))
            row = await cur.fetchone()
        return bool(row and row[0])

    async def get_sites(self, ids: Sequence[str] | None = None) -> list[Site]:
        if ids is not None and not ids:
            return []
        query = "SELECT id, name, pack, lat, lon, tags FROM sites"
        params: tuple[Any, ...] = ()
        if ids is not None:
            query += " WHERE id = ANY(%s)"
            params = (list(ids),)
        async with self._conn() as conn:
            cur = await conn.execute(query + " ORDER BY id", params)
            rows = await cur.fetchall()
        return [Site(id=r[0], name=r[1], pack=r[2], lat=r[3], lon=r[4], tags=dict(r[5]))
                for r in rows]

    async def delete_site(self, site_id: str, *, purge: bool = False) -> bool:
        async with self._conn() as conn, conn.transaction():
            cur = await conn.execute("DELETE FROM sites WHERE id = %s", (site_id,))
            found = cur.rowcount > 0
            if purge:
                await conn.execute(
                    "DELETE FROM readings WHERE series IN "
                    "(SELECT id FROM series WHERE site = %s)", (site_id,))
                await conn.execute("DELETE FROM series WHERE site = %s", (site_id,))
        return found

    # -- readings ---------------------------------------------------------------------

    async def write_readings(self, rows: Sequence[ReadingRow]) -> None:
        if not rows:
            return
        priority = self.priority
        await self._ensure_partitions(Counter(partition_index(row[2]) for row in rows))
        async with self._conn() as conn, conn.transaction():
            await conn.execute(_STAGING)
            async with conn.cursor() as cur:
                async with cur.copy(_COPY) as copy:
                    copy.set_types(_COPY_TYPES)
                    for ord_, (site, variable, t, value, quality, source) in enumerate(rows):
                        await copy.write_row((ord_, site, variable, t, value, quality, source,
                                              priority(source)))
                await cur.execute(_NEW_SERIES)
                await cur.execute(_UPSERT)

    async def _ensure_partitions(self, indexes: Counter[int]) -> None:
        """Create the partitions of ``readings`` with these indexes (counting the batch's rows
        in each) that do not exist yet, at most :data:`MAX_NEW_PARTITIONS`, most rows first.

        In a transaction of its own (no lock on ``readings`` is held meanwhile) under an
        advisory lock, so concurrent creators of the same partition serialize and the later
        one finds it. Rows of the range already in the DEFAULT partition are moved into the
        new partition (PostgreSQL refuses to create it while the DEFAULT holds such rows).
        """
        missing = sorted(sorted((i for i in indexes if i not in self._partitions),
                                key=lambda i: -indexes[i])[:MAX_NEW_PARTITIONS])
        if not missing:
            return
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                               (_PARTITION_LOCK, self.schema))
            for index in missing:
                name = partition_name(index)
                cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
                row = await cur.fetchone()
                if row and row[0]:
                    continue
                lo, hi = index * PARTITION_SPAN_US, (index + 1) * PARTITION_SPAN_US
                cur = await conn.execute(
                    "SELECT EXISTS (SELECT 1 FROM readings_default WHERE time >= %s "
                    "AND time < %s)", (lo, hi))
                row = await cur.fetchone()
                stray = bool(row and row[0])
                if stray:
                    await conn.execute("CREATE TEMPORARY TABLE riskcast_moving "
                                       "(LIKE readings) ON COMMIT DROP")
                    await conn.execute(
                        "WITH m AS (DELETE FROM readings_default WHERE time >= %s "
                        "AND time < %s RETURNING *) INSERT INTO riskcast_moving "
                        "SELECT * FROM m", (lo, hi))
                await conn.execute(sql.SQL(
                    "CREATE TABLE {} PARTITION OF readings FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(name), sql.SQL(_bound(lo)), sql.SQL(_bound(hi))))
                if stray:
                    await conn.execute("INSERT INTO readings SELECT * FROM riskcast_moving")
                    await conn.execute("DROP TABLE riskcast_moving")
        self._partitions.update(missing)

    async def partitions(self) -> list[tuple[int, str]]:
        """The time partitions of ``readings`` as ``(index, name)``, oldest first (the
        DEFAULT partition is not listed)."""
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'readings'::regclass")
            names = [str(r[0]) for r in await cur.fetchall()]
        found = []
        for name in names:
            match = _PARTITION_NAME.match(name)
            if match:
                index = int(match.group(2))
                found.append((-index if match.group(1) else index, name))
        return sorted(found)

    async def read_series(self, site: str, variable: str, start: int, end: int, *,
                          limit: int, descending: bool = False) -> list[Point]:
        order = "DESC" if descending else "ASC"
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT r.time, r.value, r.quality, r.source FROM readings r "
                "JOIN series s ON s.id = r.series WHERE s.site = %s AND s.variable = %s "
                f"AND r.time >= %s AND r.time < %s ORDER BY r.time {order} LIMIT %s",
                (site, variable, start, end, limit))
            rows = await cur.fetchall()
        return [Point(*r) for r in rows]

    async def rollup(self, site: str, variable: str, start: int, end: int,
                     every: int) -> list[Bucket]:
        async with self._conn() as conn:
            # time - mod(time, every) with a non-negative mod: floor buckets before 1970 too.
            cur = await conn.execute(
                "SELECT r.time - ((r.time %% %(e)s) + %(e)s) %% %(e)s AS b, avg(r.value), "
                "min(r.value), max(r.value), count(*) FROM readings r "
                "JOIN series s ON s.id = r.series WHERE s.site = %(site)s "
                "AND s.variable = %(var)s AND r.time >= %(start)s AND r.time < %(end)s "
                "AND r.quality < 2 GROUP BY b ORDER BY b",
                {"e": every, "site": site, "var": variable, "start": start, "end": end})
            rows = await cur.fetchall()
        return [Bucket(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]

    async def latest(self, site: str) -> list[Latest]:
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT s.variable, r.time, r.value, r.quality FROM series s "
                "CROSS JOIN LATERAL (SELECT time, value, quality FROM readings "
                "WHERE series = s.id ORDER BY time DESC LIMIT 1) r "
                "WHERE s.site = %s ORDER BY s.variable", (site,))
            rows = await cur.fetchall()
        return [Latest(*r) for r in rows]

    async def delete_readings_before(self, cutoff: int, *, variables: Sequence[str] | None,
                                     exclude: Sequence[str] = ()) -> int:
        deleted = 0
        if variables is None:
            deleted += await self._drop_partitions_before(cutoff, exclude)
        async with self._conn() as conn:
            cur = await conn.execute(
                "DELETE FROM readings r USING series s WHERE r.series = s.id "
                "AND r.time < %s AND (%s::text[] IS NULL OR s.variable = ANY(%s::text[])) "
                "AND NOT (s.variable = ANY(%s::text[]))",
                (cutoff, None if variables is None else list(variables),
                 None if variables is None else list(variables), list(exclude)))
            return deleted + cur.rowcount

    async def _drop_partitions_before(self, cutoff: int, exclude: Sequence[str]) -> int:
        """Drop the partitions entirely before ``cutoff`` that hold no reading of an
        ``exclude``d variable; returns how many readings they held."""
        dropped = 0
        for index, name in await self.partitions():
            if (index + 1) * PARTITION_SPAN_US > cutoff:
                break
            table = sql.Identifier(name)
            async with self._conn() as conn, conn.transaction():
                # Writers wait (readers do not) while the partition is checked and counted.
                await conn.execute("LOCK TABLE readings IN SHARE ROW EXCLUSIVE MODE")
                if exclude:
                    cur = await conn.execute(sql.SQL(
                        "SELECT EXISTS (SELECT 1 FROM {} r JOIN series s ON s.id = r.series "
                        "WHERE s.variable = ANY(%s::text[]))").format(table), (list(exclude),))
                    row = await cur.fetchone()
                    if row and row[0]:
                        continue
                cur = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
                row = await cur.fetchone()
                dropped += int(row[0]) if row else 0
                await conn.execute(sql.SQL("DROP TABLE {}").format(table))
            self._partitions.discard(index)
        return dropped
