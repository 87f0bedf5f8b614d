"""The key store in process memory: for tests and throw-away runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from riskcast.security.keys import KeyRecord
from riskcast.security.store import AuditQuery, AuditRecord, KeyStore
from riskcast.types import Micros

__all__ = ["MemoryKeyStore"]


class MemoryKeyStore(KeyStore):
    """Everything in dicts and a list; gone when the process ends."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        self._settings: dict[str, str] = {}
        self._audit: list[AuditRecord] = []

    async def open(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    async def put_key(self, record: KeyRecord) -> None:
        self._keys[record.id] = record

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    async def list_keys(self) -> list[KeyRecord]:
        return sorted(self._keys.values(), key=lambda r: (r.created_us, r.id))

    async def revoke_key(self, key_id: str, at_us: Micros) -> bool:
        record = self._keys.get(key_id)
        if record is None or not record.active:
            return False
        self._keys[key_id] = dataclasses.replace(record, revoked_us=at_us)
        return True

    async def setting(self, name: str, candidate: str) -> str:
        return self._settings.setdefault(name, candidate)

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        for record in records:
            self._audit.append(dataclasses.replace(record, id=len(self._audit) + 1))

    async def audit(self, query: AuditQuery) -> list[AuditRecord]:
        out = []
        for record in reversed(self._audit):
            if query.before is not None and record.id >= query.before:
                continue
            if query.actor is not None and record.actor_id != query.actor:
                continue
            if query.action is not None and not _action_matches(record.action, query.action):
                continue
            if query.since_us is not None and record.time_us < query.since_us:
                continue
            out.append(record)
            if len(out) >= query.limit:
                break
        return out


def _action_matches(action: str, wanted: str) -> bool:
    return action.startswith(wanted) if wanted.endswith(".") else action == wanted
