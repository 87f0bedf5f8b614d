"""Where versions live: the :class:`ModelStore` contract, and its embedded default,
SQLite at ``<data_dir>/models.db`` with artifacts beside it (PostgreSQL:
:mod:`riskcast.models.postgres`; :func:`open_model_store` picks by the storage setting).

An artifact is ``<data_dir>/models/<name>/<version>.skops``; its sha256 is recorded with the
version and checked on every load. Alias moves are an append-only log; where an alias points is
replayed from it (:func:`alias_stack`), so the log is the only truth.
"""

from __future__ import annotations

import abc
import re
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from riskcast.exceptions import ConflictError, NotFoundError, ValidationError
from riskcast.feedback.predictions import PredictionFeedback
from riskcast.models import serialization
from riskcast.models.records import AliasMove, ModelVersion
from riskcast.settings import Settings

NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, meta BLOB NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS moves (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, alias TEXT NOT NULL,
    from_version INTEGER, to_version INTEGER NOT NULL, kind TEXT NOT NULL,
    by TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS moves_by_alias ON moves (name, alias, id);
CREATE TABLE IF NOT EXISTS performance (
    name TEXT NOT NULL, version INTEGER NOT NULL, day TEXT NOT NULL, n INTEGER NOT NULL,
    correct INTEGER NOT NULL, brier_sum REAL NOT NULL, abs_error_sum REAL NOT NULL,
    sq_error_sum REAL NOT NULL, PRIMARY KEY (name, version, day));
CREATE TABLE IF NOT EXISTS feedback (
    name TEXT NOT NULL, site TEXT NOT NULL, time TEXT NOT NULL, version INTEGER NOT NULL,
    record BLOB NOT NULL, PRIMARY KEY (name, site, time));
CREATE TABLE IF NOT EXISTS online (
    name TEXT PRIMARY KEY, features BLOB NOT NULL, state BLOB NOT NULL, updated_at TEXT NOT NULL);
"""


def check_name(name: str) -> str:
    """``name`` if it is a valid model name (letters, digits, ``_ . -``; 1-64), else raise.

    >>> check_name("wildfire-occurrence")
    'wildfire-occurrence'
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValidationError(f"not a valid model name: {name!r}", field="name")
    return name


def alias_stack(moves: Sequence[AliasMove]) -> list[int]:
    """The versions an alias went through, oldest first, after replaying its moves.

    A deploy pushes its version, a rollback pops one; the last entry is where the alias points.

    >>> def m(to, kind="deploy"):
    ...     return AliasMove(name="m", alias="production", from_version=None, to_version=to,
    ...                      kind=kind, by="", at="")
    >>> alias_stack([m(1), m(2), m(3), m(2, "rollback")])
    [1, 2]
    """
    stack: list[int] = []
    for move in moves:
        if move.kind == "rollback" and stack:
            stack.pop()
        else:
            stack.append(move.to_version)
    return stack


class ModelStore(abc.ABC):
    """Where the registry keeps versions, artifacts, alias moves, live tallies, feedback and
    online learners. Every method is blocking, atomic and thread-safe (callers on the event
    loop use a worker thread); what one process writes, every process sharing the store
    reads next."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store. Safe to call twice."""

    @abc.abstractmethod
    def add(self, meta: ModelVersion, artifact: bytes) -> ModelVersion:
        """Store ``artifact`` as the next version of ``meta.name`` (numbered one past the
        latest, never the same number twice, also across processes) with its sha256 and
        size; answer the stored version."""

    @abc.abstractmethod
    def stamp(self) -> tuple[int, int]:
        """Changes whenever any process adds a version or moves an alias."""

    @abc.abstractmethod
    def names(self) -> list[str]:
        """Every model name, sorted."""

    @abc.abstractmethod
    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first (empty when there is none)."""

    @abc.abstractmethod
    def latest(self, name: str) -> ModelVersion | None:
        """The newest version of ``name``, ``None`` when it has none."""

    @abc.abstractmethod
    def get(self, name: str, version: int) -> ModelVersion:
        """One version; :class:`NotFoundError` when it does not exist."""

    @abc.abstractmethod
    def read_artifact(self, meta: ModelVersion) -> bytes:
        """The artifact of ``meta``; :class:`ValidationError` (``field="artifact"``) when it
        does not match the recorded sha256, :class:`NotFoundError` when it is gone."""

    @abc.abstractmethod
    def add_move(self, move: AliasMove) -> None:
        """Append an alias move to the log (the log is never rewritten)."""

    @abc.abstractmethod
    def moves(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """The alias moves of ``name`` (of one alias when given), oldest first."""

    @abc.abstractmethod
    def put_online(self, name: str, features: Sequence[str], state: Any, at: str) -> None:
        """Store (replace) the JSON state of the online learner ``name``."""

    @abc.abstractmethod
    def get_online(self, name: str) -> tuple[list[str], Any] | None:
        """The features and state of the online learner ``name``, ``None`` if there is none."""

    @abc.abstractmethod
    def add_outcomes(self, name: str, version: int, day: str, tally: Mapping[str, Any]) -> None:
        """Add a tally of scored predictions to the day's row of ``name`` ``version``."""

    @abc.abstractmethod
    def outcomes(self, name: str) -> list[dict[str, Any]]:
        """The daily tallies of ``name``, by version then day."""

    @abc.abstractmethod
    def add_feedback(self, feedback: PredictionFeedback, day: str,
                     tally: Mapping[str, Any]) -> None:
        """Record feedback on one prediction and add its tally to the day's row, in one
        transaction; :class:`ConflictError` when that prediction has feedback already."""

    @abc.abstractmethod
    def feedback(self, name: str, limit: int = 100) -> list[PredictionFeedback]:
        """The latest feedback records of ``name``, newest first."""


class SqliteModelStore(ModelStore):
    """Versions and alias moves in SQLite; every method is atomic and thread-safe."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.data_dir / "models.db", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database. Safe to call twice."""
        with self._lock:
            self._db.close()

    def artifact_path(self, name: str, version: int) -> Path:
        """Where the artifact of ``name`` ``version`` is kept."""
        return self.data_dir / "models" / check_name(name) / f"{version}{serialization.SUFFIX}"

    def add(self, meta: ModelVersion, artifact: bytes) -> ModelVersion:
        """Store a new version of ``meta.name`` numbered one past the latest; return it.

        The artifact is written (and renamed into place) before the row is committed, so a
        version row always has its file.
        """
        check_name(meta.name)
        with self._lock:
            # BEGIN IMMEDIATE takes the write lock first: two processes cannot pick the same
            # number and overwrite each other's artifact.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT MAX(version) FROM versions WHERE name = ?",
                                       (meta.name,)).fetchone()
                version = (row[0] or 0) + 1
                path = self.artifact_path(meta.name, version)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(artifact)
                tmp.replace(path)
                stored = msgspec.structs.replace(meta, version=version,
                                                 sha256=serialization.sha256(artifact),
                                                 size=len(artifact))
                self._db.execute("INSERT INTO versions (name, version, meta) VALUES (?, ?, ?)",
                                 (meta.name, version, msgspec.json.encode(stored)))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return stored

    def stamp(self) -> tuple[int, int]:
        """Changes whenever any process adds a version or moves an alias."""
        with self._lock:
            row = self._db.execute("SELECT (SELECT COALESCE(MAX(rowid), 0) FROM versions), "
                                   "(SELECT COALESCE(MAX(id), 0) FROM moves)").fetchone()
        return int(row[0]), int(row[1])

    def names(self) -> list[str]:
        """Every model name, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT name FROM versions ORDER BY name").fetchall()
        return [r[0] for r in rows]

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first (empty when there is none)."""
        with self._lock:
            rows = self._db.execute("SELECT meta FROM versions WHERE name = ? ORDER BY version",
                                    (name,)).fetchall()
        return [msgspec.json.decode(r[0], type=ModelVersion) for r in rows]

    def latest(self, name: str) -> ModelVersion | None:
        """The newest version of ``name``, ``None`` when it has none."""
        with self._lock:
            row = self._db.execute("SELECT meta FROM versions WHERE name = ? "
                                   "ORDER BY version DESC LIMIT 1", (name,)).fetchone()
        return None if row is None else msgspec.json.decode(row[0], type=ModelVersion)

    def get(self, name: str, version: int) -> ModelVersion:
        """One version; :class:`NotFoundError` when it does not exist."""
        with self._lock:
            row = self._db.execute("SELECT meta FROM versions WHERE name = ? AND version = ?",
                                   (name, version)).fetchone()
        if row is None:
            raise NotFoundError(f"model {name!r} has no version {version}")
        return msgspec.json.decode(row[0], type=ModelVersion)

    def read_artifact(self, meta: ModelVersion) -> bytes:
        """The artifact bytes of ``meta``, checked against the recorded sha256."""
        path = self.artifact_path(meta.name, meta.version)
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            raise NotFoundError(f"model file {path} is missing") from err
        if serialization.sha256(data) != meta.sha256:
            raise ValidationError(f"model file {path} does not match its recorded sha256",
                                  field="artifact")
        return data

    def add_move(self, move: AliasMove) -> None:
        """Append an alias move to the log."""
        with self._lock:
            self._db.execute(
                "INSERT INTO moves (name, alias, from_version, to_version, kind, by, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (move.name, move.alias, move.from_version, move.to_version, move.kind, move.by,
                 move.at))

    def moves(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """The alias moves of ``name`` (of one alias when given), oldest first."""
        sql = "SELECT name, alias, from_version, to_version, kind, by, at FROM moves WHERE name = ?"
        args: list[Any] = [name]
        if alias is not None:
            sql += " AND alias = ?"
            args.append(alias)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        return [AliasMove(name=r[0], alias=r[1], from_version=r[2], to_version=r[3], kind=r[4],
                          by=r[5], at=r[6]) for r in rows]

    def put_online(self, name: str, features: Sequence[str], state: Any, at: str) -> None:
        """Store (replace) the JSON state of the online learner ``name``."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO online (name, features, state, updated_at) "
                "VALUES (?, ?, ?, ?)", (check_name(name), msgspec.json.encode(list(features)),
                                        msgspec.json.encode(state), at))

    def get_online(self, name: str) -> tuple[list[str], Any] | None:
        """The features and state of the online learner ``name``, ``None`` if there is none."""
        with self._lock:
            row = self._db.execute("SELECT features, state FROM online WHERE name = ?",
                                   (name,)).fetchone()
        if row is None:
            return None
        return msgspec.json.decode(row[0]), msgspec.json.decode(row[1])

    def add_feedback(self, feedback: PredictionFeedback, day: str,
                     tally: Mapping[str, Any]) -> None:
        """Record feedback on one prediction and add its tally to the day's row, in one
        transaction; :class:`ConflictError` when that prediction has feedback already."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO feedback (name, site, time, version, record) "
                    "VALUES (?, ?, ?, ?, ?)", (feedback.name, feedback.site, feedback.time,
                                               feedback.version, msgspec.json.encode(feedback)))
                self._add_outcomes(feedback.name, feedback.version, day, tally)
            except sqlite3.IntegrityError as err:
                self._db.execute("ROLLBACK")
                raise ConflictError(f"the prediction of {feedback.name} at {feedback.site} "
                                    f"{feedback.time} has feedback already") from err
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def feedback(self, name: str, limit: int = 100) -> list[PredictionFeedback]:
        """The latest feedback records of ``name``, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT record FROM feedback WHERE name = ? "
                                    "ORDER BY rowid DESC LIMIT ?", (name, limit)).fetchall()
        return [msgspec.json.decode(r[0], type=PredictionFeedback) for r in rows]

    def add_outcomes(self, name: str, version: int, day: str, tally: Mapping[str, Any]) -> None:
        """Add a tally of scored predictions to the day's row of ``name`` ``version``."""
        with self._lock:
            self._add_outcomes(name, version, day, tally)

    def _add_outcomes(self, name: str, version: int, day: str,
                      tally: Mapping[str, Any]) -> None:
        keys = ("n", "correct", "brier_sum", "abs_error_sum", "sq_error_sum")
        self._db.execute(
            "INSERT INTO performance (name, version, day, n, correct, brier_sum, "
            "abs_error_sum, sq_error_sum) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (name, version, day) DO UPDATE SET n = n + excluded.n, "
            "correct = correct + excluded.correct, "
            "brier_sum = brier_sum + excluded.brier_sum, "
            "abs_error_sum = abs_error_sum + excluded.abs_error_sum, "
            "sq_error_sum = sq_error_sum + excluded.sq_error_sum",
            (name, version, day, *(tally[k] for k in keys)))

    def outcomes(self, name: str) -> list[dict[str, Any]]:
        """The daily tallies of ``name``, by version then day."""
        with self._lock:
            rows = self._db.execute(
                "SELECT version, day, n, correct, brier_sum, abs_error_sum, sq_error_sum "
                "FROM performance WHERE name = ? ORDER BY version, day", (name,)).fetchall()
        keys = ("version", "day", "n", "correct", "brier_sum", "abs_error_sum", "sq_error_sum")
        return [dict(zip(keys, row, strict=True)) for row in rows]


def open_model_store(settings: Settings, *, schema: str = "riskcast") -> ModelStore:
    """The registry's store for ``settings``: PostgreSQL when storage is (tables in the
    storage's ``schema``), so every process shares one registry; SQLite in the data dir
    otherwise."""
    url = settings.storage_url
    if url.startswith(("postgres://", "postgresql://")):
        from riskcast.models.postgres import PostgresModelStore

        return PostgresModelStore(url, schema=schema)
    return SqliteModelStore(settings.data_dir)
