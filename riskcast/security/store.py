"""The key store contract: API keys, shared settings and the audit log, in one place
every riskcast process of a deployment reads.

Implementations: :class:`~riskcast.security.memory.MemoryKeyStore` (tests),
:class:`~riskcast.security.sqlite.SqliteKeyStore` (the embedded default, in the data dir),
:class:`~riskcast.security.postgres.PostgresKeyStore` (beside PostgreSQL storage).
``open_key_store(settings)`` picks one the way storage is picked.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from riskcast.security.keys import KeyRecord
from riskcast.settings import Settings
from riskcast.types import Micros

__all__ = ["AuditQuery", "AuditRecord", "KeyStore", "open_key_store"]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One action: who (key id and name), when, what, on what, and how it ended."""

    time_us: Micros
    actor_id: str
    actor_name: str
    action: str
    target: str = ""
    #: ``ok``, ``forbidden``, ``failed``, or ``error <status>``.
    result: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)
    #: Assigned by the store, increasing in the order records were appended.
    id: int = 0


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of :meth:`KeyStore.audit`; newest first, ``before`` is an id cursor."""

    actor: str | None = None
    #: An exact action (``alert.ack``) or a family ending in a dot (``alert.``).
    action: str | None = None
    since_us: Micros | None = None
    before: int | None = None
    limit: int = 100

    def sql(self, mark: str) -> tuple[str, list[Any]]:
        """The ``SELECT`` of these filters on ``audit_log``, with ``mark`` as the parameter
        placeholder (``?`` for SQLite, ``%s`` for PostgreSQL), and its parameters."""
        where: list[str] = []
        params: list[Any] = []
        if self.before is not None:
            where.append(f"id < {mark}")
            params.append(self.before)
        if self.actor is not None:
            where.append(f"actor_id = {mark}")
            params.append(self.actor)
        if self.action is not None:
            if self.action.endswith("."):  # a family: substr() means the same in both
                where.append(f"substr(action, 1, {mark}) = {mark}")
                params.extend([len(self.action), self.action])
            else:
                where.append(f"action = {mark}")
                params.append(self.action)
        if self.since_us is not None:
            where.append(f"time_us >= {mark}")
            params.append(self.since_us)
        text = ("SELECT id, time_us, actor_id, actor_name, action, target, result, detail "
                "FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
                + f" ORDER BY id DESC LIMIT {mark}")
        params.append(self.limit)
        return text, params


class KeyStore(ABC):
    """Keys, settings and audit records shared by every process of a deployment."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and create or upgrade the tables; safe from several processes at once."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections; idempotent."""

    @abstractmethod
    async def put_key(self, record: KeyRecord) -> None:
        """Insert or replace the key with ``record.id``; durable when this returns."""

    @abstractmethod
    async def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, revoked or not; ``None`` when there is none."""

    @abstractmethod
    async def list_keys(self) -> list[KeyRecord]:
        """Every key, revoked ones included, oldest first."""

    @abstractmethod
    async def revoke_key(self, key_id: str, at_us: Micros) -> bool:
        """Mark the key revoked at ``at_us``; ``False`` when absent or revoked already."""

    @abstractmethod
    async def setting(self, name: str, candidate: str) -> str:
        """The stored value of ``name``; stores ``candidate`` first if there is none.

        Atomic across processes: the first writer wins and everyone gets its value.
        """

    @abstractmethod
    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        """Append records in order, in one transaction. The log is append-only: nothing
        updates or deletes a record (the SQL backends refuse it with a trigger)."""

    @abstractmethod
    async def audit(self, query: AuditQuery) -> list[AuditRecord]:
        """Records matching ``query``, newest first, at most ``query.limit``."""


def open_key_store(settings: Settings) -> KeyStore:
    """The key store beside the configured storage: PostgreSQL tables for a
    ``postgresql://`` storage URL, memory for ``memory``, else SQLite at
    ``<data_dir>/auth.db``."""
    url = settings.storage
    if url.startswith(("postgres://", "postgresql://")):
        from riskcast.security.postgres import PostgresKeyStore

        return PostgresKeyStore(url)
    if url in ("memory", "memory://"):
        from riskcast.security.memory import MemoryKeyStore

        return MemoryKeyStore()
    from riskcast.security.sqlite import SqliteKeyStore

    return SqliteKeyStore(settings.data_dir / "auth.db")
