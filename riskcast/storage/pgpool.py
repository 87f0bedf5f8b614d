"""One PostgreSQL connection pool per store, and versioned migrations under an advisory lock.

Every PostgreSQL-backed store (readings, alert state, keys and audit, the model registry)
needs the same plumbing: a psycopg pool whose connections use the store's schema, psycopg
errors turned into :class:`StorageError` naming the store, and migrations applied once when
several processes start together. It lives here once so the stores hold only their SQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from riskcast.core.clock import now_us
from riskcast.exceptions import MissingExtraError, StorageError

try:
    import psycopg
    from psycopg import sql
    from psycopg_pool import AsyncConnectionPool
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("psycopg", "postgres") from err

__all__ = ["PostgresPool"]


class PostgresPool:
    """Connections to ``url`` with ``search_path`` set to ``schema``, ``size`` at most.

    ``what`` names the store in errors (``postgres (alerts): ...``). :meth:`open` gives up
    after ``connect_timeout`` seconds without a connection, and so does :meth:`connection`
    while PostgreSQL is away; connections broken by a restart are checked and replaced.
    Connections are in autocommit mode: a transaction is ``conn.transaction()``.
    """

    def __init__(self, url: str, *, schema: str = "riskcast", size: int = 2,
                 connect_timeout: float = 10.0, what: str = "postgres") -> None:
        self.url = url
        self.schema = schema
        self.size = size
        self.connect_timeout = connect_timeout
        self.what = what
        self._pool: AsyncConnectionPool[Any] | None = None

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))

    async def open(self) -> None:
        """Connect (idempotent); :class:`StorageError` when no connection comes in time."""
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self.url, min_size=1, max_size=self.size, open=False,
            kwargs={"autocommit": True}, configure=self._configure,
            check=AsyncConnectionPool.check_connection,
            name=f"riskcast-{self.what}-{self.schema}", timeout=self.connect_timeout)
        try:
            await pool.open(wait=True, timeout=self.connect_timeout)
        except psycopg.Error as err:
            await pool.close()
            raise StorageError(f"{self.what}: cannot connect: {err}") from err
        self._pool = pool

    @asynccontextmanager
    async def connection(self, wait: float | None = None
                         ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection for the block; waits ``wait`` s (default: connect_timeout)."""
        if self._pool is None:
            raise StorageError(f"{self.what}: not open")
        try:
            async with self._pool.connection(timeout=wait) as conn:
                yield conn
        except psycopg.Error as err:
            raise StorageError(f"{self.what}: {err}") from err

    async def migrate(self, *, lock: int, table: str,
                      migrations: Sequence[tuple[int, str]]) -> int:
        """Apply the ``(number, sql)`` migrations newer than those recorded in ``table``.

        All in one transaction under the advisory lock ``(lock, hash of the schema)``, so
        processes starting together apply each migration once; returns the schema version.
        """
        schema = sql.Identifier(self.schema)
        async with self.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                               (lock, self.schema))
            await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            await conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (version integer PRIMARY KEY, "
                "applied_us bigint NOT NULL)").format(schema, sql.Identifier(table)))
            cur = await conn.execute(sql.SQL("SELECT coalesce(max(version), 0) FROM {}.{}")
                                     .format(schema, sql.Identifier(table)))
            row = await cur.fetchone()
            version = int(row[0]) if row else 0
            for number, text in sorted(migrations):
                if number > version:
                    await conn.execute(sql.SQL(text))
                    await conn.execute(sql.SQL("INSERT INTO {}.{} (version, applied_us) "
                                               "VALUES (%s, %s)")
                                       .format(schema, sql.Identifier(table)),
                                       (number, now_us()))
                    version = number
            return version

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
