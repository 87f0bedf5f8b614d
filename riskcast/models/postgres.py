"""The model registry in PostgreSQL, beside PostgreSQL storage: every process sees the same
versions, aliases and live tallies, so a deploy made through one process is served by all.

Tables ``model_versions`` (metadata as JSON, the artifact as ``bytea`` with its sha256,
checked on every load), ``model_moves`` (the append-only alias log), ``model_performance``,
``model_feedback`` and ``model_online`` live in the storage's schema (``riskcast`` by default),
created on first connection by versioned migrations in one transaction under an advisory
lock (their own version table, ``models_schema_version``), so processes starting together
apply each one once. Versions are numbered under a per-name transaction-scoped advisory lock.

The store is blocking (psycopg 3, one connection behind a lock, reconnecting after a broken
one): the registry calls it from worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import msgspec

from riskcast.exceptions import (
    ConflictError,
    MissingExtraError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from riskcast.feedback.predictions import PredictionFeedback
from riskcast.models import serialization
from riskcast.models.records import AliasMove, ModelVersion
from riskcast.models.store import ModelStore, check_name

try:
    import psycopg
    from psycopg import sql
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("psycopg", "postgres") from err

__all__ = ["PostgresModelStore"]

_MIGRATION_LOCK: Final = 0x52434D52  # "RCMR"
_NUMBER_LOCK: Final = 0x52434D4E  # "RCMN"
_MIGRATIONS: Final[list[tuple[int, str]]] = [(1, """
CREATE TABLE model_versions (
    seq bigserial UNIQUE, name text NOT NULL, version integer NOT NULL, meta jsonb NOT NULL,
    artifact bytea NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE model_moves (
    id bigserial PRIMARY KEY, name text NOT NULL, alias text NOT NULL,
    from_version integer, to_version integer NOT NULL, kind text NOT NULL, by text NOT NULL,
    at text NOT NULL);
CREATE INDEX model_moves_by_alias ON model_moves (name, alias, id);
CREATE TABLE model_performance (
    name text NOT NULL, version integer NOT NULL, day text NOT NULL, n bigint NOT NULL,
    correct bigint NOT NULL, brier_sum double precision NOT NULL,
    abs_error_sum double precision NOT NULL, sq_error_sum double precision NOT NULL,
    PRIMARY KEY (name, version, day));
CREATE TABLE model_feedback (
    id bigserial UNIQUE, name text NOT NULL, site text NOT NULL, time text NOT NULL,
    version integer NOT NULL, record jsonb NOT NULL, PRIMARY KEY (name, site, time));
CREATE TABLE model_online (
    name text PRIMARY KEY, features jsonb NOT NULL, state jsonb NOT NULL,
    updated_at text NOT NULL);
""")]
_ADD_OUTCOMES: Final = (
    "INSERT INTO model_performance (name, version, day, n, correct, brier_sum, "
    "abs_error_sum, sq_error_sum) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (name, version, day) DO UPDATE SET "
    "n = model_performance.n + excluded.n, "
    "correct = model_performance.correct + excluded.correct, "
    "brier_sum = model_performance.brier_sum + excluded.brier_sum, "
    "abs_error_sum = model_performance.abs_error_sum + excluded.abs_error_sum, "
    "sq_error_sum = model_performance.sq_error_sum + excluded.sq_error_sum")
_TALLY: Final = ("n", "correct", "brier_sum", "abs_error_sum", "sq_error_sum")


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _meta(raw: Any) -> ModelVersion:
    return msgspec.convert(raw, type=ModelVersion)


class PostgresModelStore(ModelStore):
    """The registry in PostgreSQL at ``url``, tables in ``schema``."""

    def __init__(self, url: str, *, schema: str = "riskcast",
                 connect_timeout: float = 10.0) -> None:
        self.url = url
        self.schema = schema
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        with self._tx():  # connect and migrate now: a wrong URL fails at start
            pass

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.url, connect_timeout=max(1, int(self.connect_timeout)))
        except psycopg.Error as err:
            raise StorageError(f"model registry: postgres: {err}") from err
        schema = sql.Identifier(self.schema)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                         (_MIGRATION_LOCK, self.schema))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            conn.execute(sql.SQL("SET search_path TO {}").format(schema))
            conn.execute("CREATE TABLE IF NOT EXISTS models_schema_version ("
                         "version integer PRIMARY KEY, applied_at timestamptz NOT NULL "
                         "DEFAULT now())")
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM models_schema_version"
                               ).fetchone()
            applied = int(row[0]) if row else 0
            for number, script in _MIGRATIONS:
                if number > applied:
                    conn.execute(script)
                    conn.execute("INSERT INTO models_schema_version (version) VALUES (%s)",
                                 (number,))
        conn.execute(sql.SQL("SET search_path TO {}").format(schema))
        conn.commit()
        return conn

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection inside one transaction, under the lock; reconnects once when the
        connection is found broken."""
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = self._connect()
            conn = self._conn
            try:
                with conn.transaction():
                    yield conn
            except (psycopg.OperationalError, psycopg.InterfaceError) as err:
                if conn.broken or conn.closed:
                    self._conn = None
                raise StorageError(f"model registry: postgres: {err}") from err

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def add(self, meta: ModelVersion, artifact: bytes) -> ModelVersion:
        check_name(meta.name)
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                         (_NUMBER_LOCK, f"{self.schema}.{meta.name}"))
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM model_versions "
                               "WHERE name = %s", (meta.name,)).fetchone()
            version = (int(row[0]) if row else 0) + 1
            stored = msgspec.structs.replace(meta, version=version,
                                             sha256=serialization.sha256(artifact),
                                             size=len(artifact))
            conn.execute("INSERT INTO model_versions (name, version, meta, artifact) "
                         "VALUES (%s, %s, %s::jsonb, %s)",
                         (meta.name, version, _json(stored), artifact))
        return stored

    def stamp(self) -> tuple[int, int]:
        with self._tx() as conn:
            row = conn.execute("SELECT (SELECT COALESCE(MAX(seq), 0) FROM model_versions), "
                               "(SELECT COALESCE(MAX(id), 0) FROM model_moves)").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def names(self) -> list[str]:
        with self._tx() as conn:
            rows = conn.execute("SELECT DISTINCT name FROM model_versions ORDER BY name"
                                ).fetchall()
        return [r[0] for r in rows]

    def versions(self, name: str) -> list[ModelVersion]:
        with self._tx() as conn:
            rows = conn.execute("SELECT meta FROM model_versions WHERE name = %s "
                                "ORDER BY version", (name,)).fetchall()
        return [_meta(r[0]) for r in rows]

    def latest(self, name: str) -> ModelVersion | None:
        with self._tx() as conn:
            row = conn.execute("SELECT meta FROM model_versions WHERE name = %s "
                               "ORDER BY version DESC LIMIT 1", (name,)).fetchone()
        return None if row is None else _meta(row[0])

    def get(self, name: str, version: int) -> ModelVersion:
        with self._tx() as conn:
            row = conn.execute("SELECT meta FROM model_versions WHERE name = %s "
                               "AND version = %s", (name, version)).fetchone()
        if row is None:
            raise NotFoundError(f"model {name!r} has no version {version}")
        return _meta(row[0])

    def read_artifact(self, meta: ModelVersion) -> bytes:
        with self._tx() as conn:
            row = conn.execute("SELECT artifact FROM model_versions WHERE name = %s "
                               "AND version = %s", (meta.name, meta.version)).fetchone()
        if row is None:
            raise NotFoundError(f"model {meta.name} version {meta.version} has no artifact")
        data = bytes(row[0])
        if serialization.sha256(data) != meta.sha256:
            raise ValidationError(f"the artifact of {meta.name} version {meta.version} does "
                                  "not match its recorded sha256", field="artifact")
        return data

    def add_move(self, move: AliasMove) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO model_moves (name, alias, from_version, to_version, "
                         "kind, by, at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (move.name, move.alias, move.from_version, move.to_version,
                          move.kind, move.by, move.at))

    def moves(self, name: str, alias: str | None = None) -> list[AliasMove]:
        query = ("SELECT name, alias, from_version, to_version, kind, by, at FROM model_moves "
                 "WHERE name = %s")
        args: list[Any] = [name]
        if alias is not None:
            query += " AND alias = %s"
            args.append(alias)
        with self._tx() as conn:
            rows = conn.execute(query + " ORDER BY id", args).fetchall()
        return [AliasMove(name=r[0], alias=r[1], from_version=r[2], to_version=r[3],
                          kind=r[4], by=r[5], at=r[6]) for r in rows]

    def put_online(self, name: str, features: Sequence[str], state: Any, at: str) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO model_online (name, features, state, updated_at) "
                         "VALUES (%s, %s::jsonb, %s::jsonb, %s) ON CONFLICT (name) DO UPDATE "
                         "SET features = excluded.features, state = excluded.state, "
                         "updated_at = excluded.updated_at",
                         (check_name(name), _json(list(features)), _json(state), at))

    def get_online(self, name: str) -> tuple[list[str], Any] | None:
        with self._tx() as conn:
            row = conn.execute("SELECT features, state FROM model_online WHERE name = %s",
                               (name,)).fetchone()
        return None if row is None else (list(row[0]), row[1])

    def add_outcomes(self, name: str, version: int, day: str, tally: Mapping[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute(_ADD_OUTCOMES, (name, version, day, *(tally[k] for k in _TALLY)))

    def outcomes(self, name: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT version, day, n, correct, brier_sum, abs_error_sum, sq_error_sum "
                "FROM model_performance WHERE name = %s ORDER BY version, day",
                (name,)).fetchall()
        keys = ("version", "day", *_TALLY)
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def add_feedback(self, feedback: PredictionFeedback, day: str,
                     tally: Mapping[str, Any]) -> None:
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO model_feedback (name, site, time, version, record) "
                             "VALUES (%s, %s, %s, %s, %s::jsonb)",
                             (feedback.name, feedback.site, feedback.time, feedback.version,
                              _json(feedback)))
                conn.execute(_ADD_OUTCOMES, (feedback.name, feedback.version, day,
                                             *(tally[k] for k in _TALLY)))
        except psycopg.errors.UniqueViolation as err:
            raise ConflictError(f"the prediction of {feedback.name} at {feedback.site} "
                                f"{feedback.time} has feedback already") from err

    def feedback(self, name: str, limit: int = 100) -> list[PredictionFeedback]:
        with self._tx() as conn:
            rows = conn.execute("SELECT record FROM model_feedback WHERE name = %s "
                                "ORDER BY id DESC LIMIT %s", (name, limit)).fetchall()
        return [msgspec.convert(r[0], type=PredictionFeedback) for r in rows]
