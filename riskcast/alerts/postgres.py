"""The PostgreSQL alert store: alert state shared by every process of a scale-out setup.

Used when storage is PostgreSQL, so any process answers ``GET /api/v1/alerts`` and the
evaluating process (the lease holder, ``riskcast/cluster/``) writes where all can read.
Tables live in the storage's schema (``riskcast`` by default) with an ``alert_`` prefix,
created at :meth:`PostgresAlertStore.open` under an advisory lock, so processes starting
together create them once. A :class:`Change` is one transaction. Rows are kept as msgspec
JSON (``bytea``) beside the columns queries filter on, as in the SQLite store.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
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
from riskcast.exceptions import MissingExtraError
from riskcast.storage.pgpool import PostgresPool

try:
    import psycopg
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("psycopg", "postgres") from err

__all__ = ["PostgresAlertStore"]

T = TypeVar("T")
#: First key of the advisory lock taken while creating the tables ("RCAL").
_SCHEMA_LOCK = 0x5243414C
_OUTBOX_STATE = "status, due_at, message, attempts, last_error, sent_at"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_rules (id text COLLATE "C" PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE IF NOT EXISTS alert_routes (name text COLLATE "C" PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE IF NOT EXISTS alert_alerts (
    id text COLLATE "C" PRIMARY KEY, rule text NOT NULL, site text NOT NULL,
    state text NOT NULL, body bytea NOT NULL);
CREATE INDEX IF NOT EXISTS alert_alerts_state ON alert_alerts (state, id);
CREATE INDEX IF NOT EXISTS alert_alerts_rule ON alert_alerts (rule, id);
CREATE INDEX IF NOT EXISTS alert_alerts_site ON alert_alerts (site, id);
CREATE TABLE IF NOT EXISTS alert_transitions (
    alert text NOT NULL, seq integer NOT NULL, body bytea NOT NULL,
    PRIMARY KEY (alert, seq));
CREATE TABLE IF NOT EXISTS alert_silences (id text COLLATE "C" PRIMARY KEY,
                                           body bytea NOT NULL);
CREATE TABLE IF NOT EXISTS alert_outbox (
    id text COLLATE "C" PRIMARY KEY, grp text NOT NULL, created_at bigint NOT NULL,
    body bytea NOT NULL, status text NOT NULL, due_at bigint NOT NULL, message text,
    attempts integer NOT NULL, last_error text, sent_at bigint);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (status, due_at, created_at, id);
CREATE INDEX IF NOT EXISTS alert_outbox_group ON alert_outbox (status, grp);
CREATE TABLE IF NOT EXISTS alert_feedback (
    id text COLLATE "C" PRIMARY KEY, rule text NOT NULL, alert text NOT NULL,
    at bigint NOT NULL, body bytea NOT NULL);
CREATE INDEX IF NOT EXISTS alert_feedback_rule ON alert_feedback (rule, at, id);
CREATE INDEX IF NOT EXISTS alert_feedback_alert ON alert_feedback (alert, at, id);
"""
_encode = msgspec.json.encode


class PostgresAlertStore(AlertStore):
    """Alert state in PostgreSQL at ``url``, tables in ``schema`` (created if missing);
    ``pool_size`` connections at most."""

    def __init__(self, url: str, *, schema: str = "riskcast", pool_size: int = 2,
                 connect_timeout: float = 10.0) -> None:
        self.url = url
        self.schema = schema
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._pool = PostgresPool(url, schema=schema, size=pool_size,
                                  connect_timeout=connect_timeout, what="postgres (alerts)")

    def _conn(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        return self._pool.connection()

    async def open(self) -> None:
        await self._pool.open()
        try:
            await self._pool.migrate(lock=_SCHEMA_LOCK, table="alert_schema_version",
                                     migrations=[(1, _SCHEMA)])
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        await self._pool.aclose()

    # -- writes ---------------------------------------------------------------------------

    async def write(self, change: Change) -> None:
        if not change:
            return
        c = change
        async with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            if c.delete_rules:
                await cur.execute("DELETE FROM alert_rules WHERE id = ANY(%s)",
                                  (list(c.delete_rules),))
            await _upsert(cur, "alert_rules", ("id", "body"),
                          [(r.rule.id, _encode(r)) for r in c.rules])
            await _upsert(cur, "alert_routes", ("name", "body"),
                          [(r.name, _encode(r)) for r in c.routes])
            await _upsert(cur, "alert_alerts", ("id", "rule", "site", "state", "body"),
                          [(a.id, a.rule, a.site, a.state, _encode(a)) for a in c.alerts])
            await _upsert(cur, "alert_transitions", ("alert", "seq", "body"),
                          [(t.alert, t.seq, _encode(t)) for t in c.transitions], key=2)
            await _upsert(cur, "alert_outbox",
                          ("id", "grp", "created_at", "body", "status", "due_at", "message",
                           "attempts", "last_error", "sent_at"),
                          [(o.id, o.group, o.created_at, _encode(o), o.status, o.due_at,
                            o.message, o.attempts, o.last_error, o.sent_at) for o in c.outbox])
            if c.outbox_updates:
                await cur.executemany(
                    "UPDATE alert_outbox SET status = %s, due_at = %s, message = %s, "
                    "attempts = %s, last_error = %s, sent_at = %s WHERE id = %s",
                    [(u.status, u.due_at, u.message, u.attempts, u.last_error, u.sent_at, u.id)
                     for u in c.outbox_updates])
            if c.delete_silences:
                await cur.execute("DELETE FROM alert_silences WHERE id = ANY(%s)",
                                  (list(c.delete_silences),))
            await _upsert(cur, "alert_silences", ("id", "body"),
                          [(s.id, _encode(s)) for s in c.silences])
            await _upsert(cur, "alert_feedback", ("id", "rule", "alert", "at", "body"),
                          [(f.id, f.rule, f.alert, f.at, _encode(f)) for f in c.feedback])
            if c.prune_sent_before is not None:
                await cur.execute(
                    "DELETE FROM alert_outbox WHERE status = 'sent' AND sent_at < %s",
                    (c.prune_sent_before,))

    # -- reads ----------------------------------------------------------------------------

    async def _select(self, kind: type[T], query: str, args: tuple[Any, ...] = ()) -> list[T]:
        decoder = msgspec.json.Decoder(kind)
        async with self._conn() as conn:
            cur = await conn.execute(query.encode(), args)
            rows = await cur.fetchall()
        return [decoder.decode(row[0]) for row in rows]

    async def rules(self) -> tuple[list[StoredRule], list[NamedRoute]]:
        return (await self._select(StoredRule, "SELECT body FROM alert_rules ORDER BY id"),
                await self._select(NamedRoute, "SELECT body FROM alert_routes ORDER BY name"))

    async def alerts(self, query: AlertQuery | None = None) -> list[Alert]:
        text, args = (query or AlertQuery()).sql("alert_alerts", "%s")
        return await self._select(Alert, text, tuple(args))

    async def transitions(self, alert: str) -> list[Transition]:
        return await self._select(
            Transition, "SELECT body FROM alert_transitions WHERE alert = %s ORDER BY seq",
            (alert,))

    async def silences(self) -> list[Silence]:
        return await self._select(Silence, "SELECT body FROM alert_silences ORDER BY id")

    async def outbox(self, statuses: Collection[str], *, due_before: int | None = None,
                     groups: Collection[str] | None = None,
                     limit: int | None = None) -> list[OutboxItem]:
        wanted = sorted(set(statuses))
        if not wanted or (groups is not None and not groups):
            return []
        query = f"SELECT body, {_OUTBOX_STATE} FROM alert_outbox WHERE status = ANY(%s)"
        args: list[Any] = [wanted]
        if due_before is not None:
            query += " AND due_at <= %s"
            args.append(due_before)
        if groups is not None:
            query += " AND grp = ANY(%s)"
            args.append(sorted(set(groups)))
        query += " ORDER BY due_at, created_at, id"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        async with self._conn() as conn:
            cur = await conn.execute(query.encode(), tuple(args))
            rows = await cur.fetchall()
        decoder = msgspec.json.Decoder(OutboxItem)
        out = []
        for body, status, due_at, message, attempts, last_error, sent_at in rows:
            item = decoder.decode(body)
            item.status, item.due_at, item.message = status, due_at, message
            item.attempts, item.last_error, item.sent_at = attempts, last_error, sent_at
            out.append(item)
        return out

    async def feedback(self, *, rule: str | None = None,
                       alert: str | None = None) -> list[Feedback]:
        query, args, where = "SELECT body FROM alert_feedback", [], []
        if rule is not None:
            where.append("rule = %s")
            args.append(rule)
        if alert is not None:
            where.append("alert = %s")
            args.append(alert)
        if where:
            query += " WHERE " + " AND ".join(where)
        return await self._select(Feedback, query + " ORDER BY at, id", tuple(args))


async def _upsert(cur: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                  *, key: int = 1) -> None:
    """Insert ``rows``, replacing those whose first ``key`` columns match a stored row."""
    if not rows:
        return
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[key:])
    await cur.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(columns[:key])}) DO UPDATE SET {updates}".encode(), rows)
