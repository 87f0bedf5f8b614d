"""SQLite storage (WAL): the embedded default.

One connection writes, on its own thread, so commits never block the event loop; reads use
one connection per reader thread (WAL lets them run beside the writer).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from riskcast.core.clock import now_us
from riskcast.core.sites import Site
from riskcast.core.sources import SourcePriority
from riskcast.exceptions import ConfigError, StorageError
from riskcast.storage.base import Bucket, Latest, Point, Storage
from riskcast.types import ReadingRow

T = TypeVar("T")
log = logging.getLogger(__name__)

_UPSERT = (
    "INSERT INTO readings (series, time, value, quality, source, priority) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (series, time) DO UPDATE SET value = excluded.value, "
    "quality = excluded.quality, source = excluded.source, priority = excluded.priority "
    "WHERE excluded.priority >= readings.priority"
)
_SYNCHRONOUS = {"off", "normal", "full", "extra"}


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("riskcast.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith("sqlite_") and name.endswith(".sql"):
            found.append((int(name.split("_")[1]), entry.read_text()))
    return sorted(found)


class SqliteStorage(Storage):
    """SQLite at ``path``. ``synchronous`` is SQLite's: ``full`` (default) syncs the WAL at
    every commit, so an acknowledged reading survives power loss; ``normal`` survives a
    process crash only, and is faster."""

    def __init__(self, path: str | Path, *, synchronous: str = "full",
                 readers: int = 2, priority: SourcePriority | None = None) -> None:
        if synchronous not in _SYNCHRONOUS:
            raise ConfigError(f"sqlite synchronous {synchronous!r}: use one of {_SYNCHRONOUS}")
        self.path = Path(path)
        self.priority = priority or SourcePriority()
        self.synchronous = synchronous
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-reader")
        # Checkpoints copy the WAL into the database; on their own thread and connection
        # they never hold up a commit (SQLite's automatic ones run inside the commit).
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpointing: asyncio.Future[None] | None = None
        self._rows_since_checkpoint = 0
        self._local = threading.local()
        self._wconn: sqlite3.Connection | None = None
        self._series: dict[tuple[str, str], int] = {}
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30.0)
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = OFF")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
        return conn

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StorageError("storage is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._writer, fn, *args)
        except sqlite3.Error as err:
            raise StorageError(f"sqlite: {err}") from err

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StorageError("storage is closed")
        loop = asyncio.get_running_loop()

        def run() -> T:
            return fn(self._reader(), *args)

        try:
            return await loop.run_in_executor(self._readers, run)
        except sqlite3.Error as err:
            raise StorageError(f"sqlite: {err}") from err

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        await self._write(self._open_sync)

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._wconn = self._connect()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StorageError(f"sqlite: could not switch {self.path} to WAL (got {mode})")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, sql in _migrations():
            if number > version:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split(sql):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        for sid, site, variable in conn.execute("SELECT id, site, variable FROM series"):
            self._series[(site, variable)] = sid

    async def aclose(self) -> None:
        if self._closed:
            return
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self._close_writer)
        self._closed = True
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self._checkpointer.submit(self._close_checkpointer).result()
        self._checkpointer.shutdown(wait=True)

    def _close_checkpointer(self) -> None:
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
            self._checkpoint_conn = None

    def _maybe_checkpoint(self, rows: int) -> None:
        """Start a passive checkpoint in the background every ~20,000 rows written."""
        self._rows_since_checkpoint += rows
        if self._rows_since_checkpoint < 20_000 or self._checkpointing is not None:
            return
        self._rows_since_checkpoint = 0
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._checkpointer, self._checkpoint_sync)
        self._checkpointing = future
        future.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, future: asyncio.Future[None]) -> None:
        self._checkpointing = None
        if not future.cancelled() and future.exception() is not None:
            log.warning("sqlite checkpoint failed: %s", future.exception())

    def _checkpoint_sync(self) -> None:
        if self._checkpoint_conn is None:
            self._checkpoint_conn = self._connect()
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def _close_writer(self) -> None:
        if self._wconn is not None:
            try:
                self._wconn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._wconn.close()
                self._wconn = None

    async def ping(self) -> None:
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())

    # -- sites ------------------------------------------------------------------------

    async def put_site(self, site: Site) -> bool:
        def run() -> bool:
            conn = self._conn()
            new = conn.execute("SELECT 1 FROM sites WHERE id = ?", (site.id,)).fetchone() is None
            conn.execute(
                "INSERT INTO sites (id, name, pack, lat, lon, tags, created_us) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " pack = excluded.pack, lat = excluded.lat, lon = excluded.lon,"
                " tags = excluded.tags",
                (site.id, site.name, site.pack, site.lat, site.lon,
                 msgspec.json.encode(site.tags).decode(), now_us()))
            return new

        return await self._write(run)

    async def get_sites(self, ids: Sequence[str] | None = None) -> list[Site]:
        def run(conn: sqlite3.Connection) -> list[Site]:
            sql = "SELECT id, name, pack, lat, lon, tags FROM sites"
            params: list[str] = []
            if ids is not None:
                if not ids:
                    return []
                sql += f" WHERE id IN ({','.join('?' * len(ids))})"
                params = list(ids)
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
            return [Site(id=r[0], name=r[1], pack=r[2], lat=r[3], lon=r[4],
                         tags=msgspec.json.decode(r[5])) for r in rows]

        return await self._read(run)

    async def delete_site(self, site_id: str, *, purge: bool = False) -> bool:
        def run() -> bool:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute("DELETE FROM sites WHERE id = ?", (site_id,)).rowcount > 0
                if purge:
                    ids = [r[0] for r in conn.execute(
                        "SELECT id FROM series WHERE site = ?", (site_id,))]
                    for sid in ids:
                        conn.execute("DELETE FROM readings WHERE series = ?", (sid,))
                    conn.execute("DELETE FROM series WHERE site = ?", (site_id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if purge:
                for key in [k for k in self._series if k[0] == site_id]:
                    del self._series[key]
            return found

        return await self._write(run)

    # -- readings ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._wconn is None:
            raise StorageError("storage is not open")
        return self._wconn

    async def write_readings(self, rows: Sequence[ReadingRow]) -> None:
        if rows:
            await self._write(self._write_sync, rows)
            self._maybe_checkpoint(len(rows))

    def _write_sync(self, rows: Sequence[ReadingRow]) -> None:
        conn = self._conn()
        series = self._series
        created: list[tuple[str, str]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            bound: list[tuple[int, int, float, int, str | None, int]] = []
            append = bound.append
            priority = self.priority
            for site, variable, t, value, quality, source in rows:
                sid = series.get((site, variable))
                if sid is None:
                    sid = conn.execute(
                        "INSERT INTO series (site, variable) VALUES (?, ?) "
                        "ON CONFLICT (site, variable) DO UPDATE SET site = site RETURNING id",
                        (site, variable)).fetchone()[0]
                    series[(site, variable)] = sid
                    created.append((site, variable))
                append((sid, t, value, quality, source, priority(source)))
            conn.executemany(_UPSERT, bound)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            for key in created:
                series.pop(key, None)
            raise

    async def read_series(self, site: str, variable: str, start: int, end: int, *,
                          limit: int, descending: bool = False) -> list[Point]:
        order = "DESC" if descending else "ASC"

        def run(conn: sqlite3.Connection) -> list[Point]:
            rows = conn.execute(
                "SELECT r.time, r.value, r.quality, r.source FROM readings r "
                "JOIN series s ON s.id = r.series WHERE s.site = ? AND s.variable = ? "
                f"AND r.time >= ? AND r.time < ? ORDER BY r.time {order} LIMIT ?",
                (site, variable, start, end, limit)).fetchall()
            return [Point(*r) for r in rows]

        return await self._read(run)

    async def rollup(self, site: str, variable: str, start: int, end: int,
                     every: int) -> list[Bucket]:
        def run(conn: sqlite3.Connection) -> list[Bucket]:
            # Floor division that also holds for times before 1970.
            rows = conn.execute(
                "SELECT (CASE WHEN r.time >= 0 THEN r.time / :e ELSE (r.time - :e + 1) / :e END)"
                " * :e AS b, avg(r.value), min(r.value), max(r.value), count(*) "
                "FROM readings r JOIN series s ON s.id = r.series "
                "WHERE s.site = :site AND s.variable = :var AND r.time >= :start "
                "AND r.time < :end AND r.quality < 2 GROUP BY b ORDER BY b",
                {"e": every, "site": site, "var": variable, "start": start, "end": end},
            ).fetchall()
            return [Bucket(*r) for r in rows]

        return await self._read(run)

    async def latest(self, site: str) -> list[Latest]:
        def run(conn: sqlite3.Connection) -> list[Latest]:
            rows = conn.execute(
                "SELECT s.variable, r.time, r.value, r.quality FROM series s "
                "JOIN readings r ON r.series = s.id AND r.time = "
                "(SELECT max(time) FROM readings WHERE series = s.id) "
                "WHERE s.site = ? ORDER BY s.variable", (site,)).fetchall()
            return [Latest(*r) for r in rows]

        return await self._read(run)

    async def delete_readings_before(self, cutoff: int, *, variables: Sequence[str] | None,
                                     exclude: Sequence[str] = ()) -> int:
        def select(conn: sqlite3.Connection) -> list[int]:
            rows = conn.execute("SELECT id, variable FROM series").fetchall()
            return [sid for sid, var in rows
                    if (variables is None or var in variables) and var not in exclude]

        ids = await self._read(select)
        deleted = 0
        for sid in ids:
            # One series per transaction keeps each pause of the writer short.
            deleted += await self._write(self._delete_sync, sid, cutoff)
        return deleted

    def _delete_sync(self, sid: int, cutoff: int) -> int:
        conn = self._conn()
        return conn.execute("DELETE FROM readings WHERE series = ? AND time < ?",
                            (sid, cutoff)).rowcount


def _split(sql: str) -> list[str]:
    """Statements of a migration file (no semicolons inside statements)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
