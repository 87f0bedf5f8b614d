"""The key store in PostgreSQL, beside PostgreSQL storage: every process sees the same keys.

Tables ``api_keys``, ``auth_settings`` and ``audit_log`` live in the storage's schema
(``riskcast`` by default), created at :meth:`PostgresKeyStore.open` by versioned
migrations in one transaction under an advisory lock (their own version table,
``auth_schema_version``), so processes starting together apply each one once.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from riskcast.exceptions import MissingExtraError
from riskcast.security.keys import KeyRecord, Role
from riskcast.security.store import AuditQuery, AuditRecord, KeyStore
from riskcast.storage.pgpool import PostgresPool
from riskcast.types import Micros

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("psycopg", "postgres") from err

__all__ = ["PostgresKeyStore"]

_MIGRATION_LOCK = 0x52434B53  # "RCKS"
_MIGRATIONS: list[tuple[int, str]] = [(1, """
CREATE TABLE api_keys (
    id text PRIMARY KEY, hash text NOT NULL, name text NOT NULL, role text NOT NULL,
    packs jsonb NOT NULL, sites jsonb NOT NULL, created_us bigint NOT NULL,
    revoked_us bigint);
CREATE TABLE auth_settings (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY, time_us bigint NOT NULL, actor_id text NOT NULL,
    actor_name text NOT NULL, action text NOT NULL, target text NOT NULL,
    result text NOT NULL, detail jsonb NOT NULL);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_time ON audit_log (time_us);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
""")]
_KEY_COLUMNS = "id, hash, name, role, packs, sites, created_us, revoked_us"


class PostgresKeyStore(KeyStore):
    """Keys, settings and the audit log in PostgreSQL at ``url``, tables in ``schema``."""

    def __init__(self, url: str, *, schema: str = "riskcast", pool_size: int = 2,
                 connect_timeout: float = 10.0) -> None:
        self.url = url
        self.schema = schema
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._pool = PostgresPool(url, schema=schema, size=pool_size,
                                  connect_timeout=connect_timeout, what="key store: postgres")

    def _conn(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        return self._pool.connection()

    async def open(self) -> None:
        if self._pool.is_open:
            return
        await self._pool.open()
        try:
            await self._pool.migrate(lock=_MIGRATION_LOCK, table="auth_schema_version",
                                     migrations=_MIGRATIONS)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def put_key(self, record: KeyRecord) -> None:
        async with self._conn() as conn:
            await conn.execute(
                f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, name = excluded.name, "
                "role = excluded.role, packs = excluded.packs, sites = excluded.sites, "
                "created_us = excluded.created_us, revoked_us = excluded.revoked_us",
                (record.id, record.hash, record.name, record.role.name,
                 Jsonb(list(record.packs)), Jsonb(list(record.sites)), record.created_us,
                 record.revoked_us))

    async def get_key(self, key_id: str) -> KeyRecord | None:
        async with self._conn() as conn:
            cur = await conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = %s",
                                     (key_id,))
            row = await cur.fetchone()
        return None if row is None else _record(row)

    async def list_keys(self) -> list[KeyRecord]:
        async with self._conn() as conn:
            cur = await conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_us, id")
            rows = await cur.fetchall()
        return [_record(r) for r in rows]

    async def revoke_key(self, key_id: str, at_us: Micros) -> bool:
        async with self._conn() as conn:
            cur = await conn.execute(
                "UPDATE api_keys SET revoked_us = %s WHERE id = %s AND revoked_us IS NULL",
                (at_us, key_id))
            return cur.rowcount > 0

    async def setting(self, name: str, candidate: str) -> str:
        async with self._conn() as conn:
            await conn.execute("INSERT INTO auth_settings (name, value) VALUES (%s, %s) "
                               "ON CONFLICT (name) DO NOTHING", (name, candidate))
            cur = await conn.execute("SELECT value FROM auth_settings WHERE name = %s",
                                     (name,))
            row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        rows = [(r.time_us, r.actor_id, r.actor_name, r.action, r.target, r.result,
                 Jsonb(r.detail)) for r in records]
        async with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO audit_log (time_us, actor_id, actor_name, action, target, "
                "result, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)

    async def audit(self, query: AuditQuery) -> list[AuditRecord]:
        text, params = query.sql("%s")
        async with self._conn() as conn:
            cur = await conn.execute(text, params)
            rows = await cur.fetchall()
        return [AuditRecord(id=r[0], time_us=r[1], actor_id=r[2], actor_name=r[3],
                            action=r[4], target=r[5], result=r[6], detail=dict(r[7]))
                for r in rows]


def _record(row: Sequence[Any]) -> KeyRecord:
    return KeyRecord(id=row[0], hash=row[1], name=row[2], role=Role[row[3]],
                     packs=tuple(row[4]), sites=tuple(row[5]), created_us=row[6],
                     revoked_us=row[7])
