"""The SQLite alert store (WAL) at ``<data_dir>/alerts.db``: the default.

One connection, on its own thread: every call runs there, so the event loop never waits on
SQLite and writes are serialized. A :class:`Change` is one transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from riskcast.alerts.records import (
    Alert,
    AlertQuery,
    Change,
    Feedback,
    NamedRoute,
    OutboxItem,
    Silence,
    StoredRule,
    Transition,
)
from riskcast.alerts.store import AlertStore
from riskcast.exceptions import ConfigError, StorageError

__all__ = ["SCHEMA_VERSION", "SqliteAlertStore"]

T = TypeVar("T")
SCHEMA_VERSION = 1
#: The outbox's mutable columns; the body keeps the row as inserted.
_OUTBOX_STATE = "status, due_at, message, attempts, last_error, sent_at"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rules (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS routes (name TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, site TEXT NOT NULL, state TEXT NOT NULL,
    body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, id);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule, id);
CREATE INDEX IF NOT EXISTS alerts_site ON alerts (site, id);
CREATE TABLE IF NOT EXISTS transitions (
    alert TEXT NOT NULL, seq INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (alert, seq));
CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY, grp TEXT NOT NULL, created_at INTEGER NOT NULL, body BLOB NOT NULL,
    status TEXT NOT NULL, due_at INTEGER NOT NULL, message TEXT, attempts INTEGER NOT NULL,
    last_error TEXT, sent_at INTEGER);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, due_at, created_at, id);
CREATE INDEX IF NOT EXISTS outbox_group ON outbox (status, grp);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, alert TEXT NOT NULL, at INTEGER NOT NULL,
    body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_rule ON feedback (rule, at, id);
CREATE INDEX IF NOT EXISTS feedback_alert ON feedback (alert, at, id);
"""
_encode = msgspec.json.encode


class SqliteAlertStore(AlertStore):
    """Alert state in one SQLite file. ``synchronous`` is SQLite's: ``normal`` (default)
    survives a process crash, ``full`` also a power loss."""

    def __init__(self, path: str | Path, *, synchronous: str = "normal") -> None:
        if synchronous not in ("normal", "full", "extra"):
            raise ConfigError(f"sqlite synchronous {synchronous!r}: use normal, full or extra")
        self.path = Path(path)
        self.synchronous = synchronous
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StorageError("alert store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as err:
            raise StorageError(f"sqlite (alerts): {err}") from err

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError("alert store is closed")
        return self._conn

    async def open(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="alerts-sqlite")
        await self._run(self._open_sync)

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30.0)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise StorageError(f"{self.path}: could not switch to WAL (got {mode})")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA busy_timeout = 30000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StorageError(f"{self.path}: schema {version} is newer than this riskcast's "
                               f"({SCHEMA_VERSION})")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._conn = conn

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        executor.shutdown(wait=True)

    # -- writes ---------------------------------------------------------------------------

    async def write(self, change: Change) -> None:
        if change:
            await self._run(self._write_sync, change)

    def _write_sync(self, c: Change) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            if c.delete_rules:
                db.executemany("DELETE FROM rules WHERE id = ?", [(r,) for r in c.delete_rules])
            db.executemany("INSERT OR REPLACE INTO rules VALUES (?, ?)",
                           [(r.rule.id, _encode(r)) for r in c.rules])
            db.executemany("INSERT OR REPLACE INTO routes VALUES (?, ?)",
                           [(r.name, _encode(r)) for r in c.routes])
            db.executemany("INSERT OR REPLACE INTO alerts VALUES (?, ?, ?, ?, ?)",
                           [(a.id, a.rule, a.site, a.state, _encode(a)) for a in c.alerts])
            db.executemany("INSERT OR REPLACE INTO transitions VALUES (?, ?, ?)",
                           [(t.alert, t.seq, _encode(t)) for t in c.transitions])
            db.executemany("INSERT OR REPLACE INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(o.id, o.group, o.created_at, _encode(o), o.status, o.due_at,
                             o.message, o.attempts, o.last_error, o.sent_at) for o in c.outbox])
            db.executemany(
                "UPDATE outbox SET status = ?, due_at = ?, message = ?, attempts = ?, "
                "last_error = ?, sent_at = ? WHERE id = ?",
                [(u.status, u.due_at, u.message, u.attempts, u.last_error, u.sent_at, u.id)
                 for u in c.outbox_updates])
            if c.delete_silences:
                db.executemany("DELETE FROM silences WHERE id = ?",
                               [(s,) for s in c.delete_silences])
            db.executemany("INSERT OR REPLACE INTO silences VALUES (?, ?)",
                           [(s.id, _encode(s)) for s in c.silences])
            db.executemany("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?)",
                           [(f.id, f.rule, f.alert, f.at, _encode(f)) for f in c.feedback])
            if c.prune_sent_before is not None:
                db.execute("DELETE FROM outbox WHERE status = 'sent' AND sent_at < ?",
                           (c.prune_sent_before,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- reads ----------------------------------------------------------------------------

    def _select(self, kind: type[T], sql: str, args: tuple[Any, ...] = ()) -> list[T]:
        decoder = msgspec.json.Decoder(kind)
        return [decoder.decode(row[0]) for row in self._db().execute(sql, args)]

    async def rules(self) -> tuple[list[StoredRule], list[NamedRoute]]:
        def run() -> tuple[list[StoredRule], list[NamedRoute]]:
            return (self._select(StoredRule, "SELECT body FROM rules ORDER BY id"),
                    self._select(NamedRoute, "SELECT body FROM routes ORDER BY name"))
        return await self._run(run)

    async def alerts(self, query: AlertQuery | None = None) -> list[Alert]:
        text, args = (query or AlertQuery()).sql("alerts", "?")
        return await self._run(self._select, Alert, text, tuple(args))

    async def transitions(self, alert: str) -> list[Transition]:
        return await self._run(self._select, Transition,
                               "SELECT body FROM transitions WHERE alert = ? ORDER BY seq",
                               (alert,))

    async def silences(self) -> list[Silence]:
        return await self._run(self._select, Silence, "SELECT body FROM silences ORDER BY id")

    async def outbox(self, statuses: Collection[str], *, due_before: int | None = None,
                     groups: Collection[str] | None = None,
                     limit: int | None = None) -> list[OutboxItem]:
        wanted = sorted(set(statuses))
        if not wanted or (groups is not None and not groups):
            return []
        sql = (f"SELECT body, {_OUTBOX_STATE} FROM outbox "
               f"WHERE status IN ({', '.join('?' * len(wanted))})")
        args: list[Any] = list(wanted)
        if due_before is not None:
            sql += " AND due_at <= ?"
            args.append(due_before)
        if groups is not None:
            names = sorted(set(groups))
            sql += f" AND grp IN ({', '.join('?' * len(names))})"
            args += names
        sql += " ORDER BY due_at, created_at, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return await self._run(self._select_outbox, sql, tuple(args))

    def _select_outbox(self, sql: str, args: tuple[Any, ...]) -> list[OutboxItem]:
        decoder = msgspec.json.Decoder(OutboxItem)
        out = []
        for body, status, due_at, message, attempts, last_error, sent_at in \
                self._db().execute(sql, args):
            item = decoder.decode(body)
            item.status, item.due_at, item.message = status, due_at, message
            item.attempts, item.last_error, item.sent_at = attempts, last_error, sent_at
            out.append(item)
        return out

    async def feedback(self, *, rule: str | None = None,
                       alert: str | None = None) -> list[Feedback]:
        sql, args = "SELECT body FROM feedback", []
        where = []
        if rule is not None:
            where.append("rule = ?")
            args.append(rule)
        if alert is not None:
            where.append("alert = ?")
            args.append(alert)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return await self._run(self._select, Feedback, sql + " ORDER BY at, id", tuple(args))
