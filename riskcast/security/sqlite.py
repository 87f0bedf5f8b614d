"""The key store in a SQLite file (``<data_dir>/auth.db``): the embedded default.

Several processes on one machine (a server, ``riskcast keys``) share the file: WAL mode,
a busy timeout, and each write in its own transaction. Calls run on a worker thread so
the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from riskcast.exceptions import StorageError
from riskcast.security.keys import KeyRecord, Role
from riskcast.security.store import AuditQuery, AuditRecord, KeyStore
from riskcast.types import Micros

__all__ = ["SqliteKeyStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,
    packs TEXT NOT NULL, sites TEXT NOT NULL, created_us INTEGER NOT NULL,
    revoked_us INTEGER);
CREATE TABLE IF NOT EXISTS auth_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_us INTEGER NOT NULL, actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
    result TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time_us);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
_KEY_COLUMNS = "id, hash, name, role, packs, sites, created_us, revoked_us"


class SqliteKeyStore(KeyStore):
    """Keys, settings and the audit log in the SQLite file at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=10)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.executescript(_SCHEMA)
            return conn

        if self._conn is None:
            self._conn = await self._call(connect, need_conn=False)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.to_thread(conn.close)

    async def _call(self, fn: Callable[[], T], *, need_conn: bool = True) -> T:
        if need_conn and self._conn is None:
            raise StorageError("key store is not open")

        def locked() -> T:
            with self._lock:
                try:
                    return fn()
                except sqlite3.Error as err:
                    raise StorageError(f"key store {self.path}: {err}") from err

        return await asyncio.to_thread(locked)

    @property
    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    async def put_key(self, record: KeyRecord) -> None:
        row = (record.id, record.hash, record.name, record.role.name,
               json.dumps(list(record.packs)), json.dumps(list(record.sites)),
               record.created_us, record.revoked_us)
        await self._call(lambda: self._db.execute(
            f"INSERT OR REPLACE INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row))

    async def get_key(self, key_id: str) -> KeyRecord | None:
        row = await self._call(lambda: self._db.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)).fetchone())
        return None if row is None else _record(row)

    async def list_keys(self) -> list[KeyRecord]:
        rows = await self._call(lambda: self._db.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_us, id").fetchall())
        return [_record(r) for r in rows]

    async def revoke_key(self, key_id: str, at_us: Micros) -> bool:
        cur = await self._call(lambda: self._db.execute(
            "UPDATE api_keys SET revoked_us = ? WHERE id = ? AND revoked_us IS NULL",
            (at_us, key_id)))
        return cur.rowcount > 0

    async def setting(self, name: str, candidate: str) -> str:
        def run() -> str:
            self._db.execute("INSERT OR IGNORE INTO auth_settings (name, value) VALUES (?, ?)",
                             (name, candidate))
            row = self._db.execute("SELECT value FROM auth_settings WHERE name = ?",
                                   (name,)).fetchone()
            return str(row[0])

        return await self._call(run)

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        rows = [(r.time_us, r.actor_id, r.actor_name, r.action, r.target, r.result,
                 json.dumps(r.detail, default=str)) for r in records]

        def run() -> None:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO audit_log (time_us, actor_id, actor_name, action, target, "
                    "result, detail) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        if rows:
            await self._call(run)

    async def audit(self, query: AuditQuery) -> list[AuditRecord]:
        sql, params = query.sql("?")
        rows = await self._call(lambda: self._db.execute(sql, params).fetchall())
        return [AuditRecord(id=r[0], time_us=r[1], actor_id=r[2], actor_name=r[3],
                            action=r[4], target=r[5], result=r[6], detail=json.loads(r[7]))
                for r in rows]


def _record(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(id=row[0], hash=row[1], name=row[2], role=Role[row[3]],
                     packs=tuple(json.loads(row[4])), sites=tuple(json.loads(row[5])),
                     created_us=row[6], revoked_us=row[7])
