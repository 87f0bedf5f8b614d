"""Named models with versions and aliases: register, resolve, load, deploy, roll back.

Aliases (:data:`~riskcast.models.records.ALIASES`) point at versions. :meth:`ModelRegistry.deploy`
moves one, :meth:`ModelRegistry.rollback` moves it back to the version it pointed at before the
last deploy; each move is recorded (who, when, from, to) and, when a bus is given, published on
the ``models`` channel as ``{"type": "alias", ...}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from riskcast.bus.base import Bus
from riskcast.core.clock import format_us, now_us
from riskcast.exceptions import ConflictError, NotFoundError, ValidationError
from riskcast.models import serialization
from riskcast.models.records import ALIASES, AliasMove, ModelVersion
from riskcast.models.store import ModelStore, SqliteModelStore, alias_stack, check_name
from riskcast.types import Micros

#: The bus channel of model events.
CHANNEL = "models"


def check_alias(alias: str) -> str:
    """``alias`` if it is one of :data:`ALIASES`, else :class:`ValidationError`."""
    if alias not in ALIASES:
        raise ValidationError(f"unknown alias {alias!r}; use one of {', '.join(ALIASES)}",
                              field="alias")
    return alias


class ModelRegistry:
    """Versions in ``store`` (default: a :class:`SqliteModelStore` under ``data_dir``),
    loaded models cached."""

    def __init__(self, data_dir: Path, bus: Bus | None = None,
                 clock: Callable[[], Micros] = now_us, *,
                 store: ModelStore | None = None) -> None:
        self.store: ModelStore = store if store is not None else SqliteModelStore(data_dir)
        self.bus = bus
        self.clock = clock
        self._loaded: dict[tuple[str, int], Any] = {}
        #: Bumped on every new version and alias move, so callers can cache resolutions.
        self.generation = 0

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def register(self, meta: ModelVersion, model: Any) -> ModelVersion:
        """Store ``model`` as the next version of ``meta.name``; return the stored version.

        ``created_at`` is set from the clock when empty. Refused with :class:`ValidationError`
        when the model holds a type outside the serialization allow-list.
        """
        check_name(meta.name)
        data = serialization.dumps(model)
        if not meta.created_at:
            meta = msgspec.structs.replace(meta, created_at=format_us(self.clock()))
        stored = self.store.add(meta, data)
        self.generation += 1
        self._loaded[(stored.name, stored.version)] = model
        return stored

    def names(self) -> list[str]:
        """Every registered model name."""
        return self.store.names()

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first; :class:`NotFoundError` when there is none."""
        found = self.store.versions(check_name(name))
        if not found:
            raise NotFoundError(f"no model {name!r}")
        return found

    def aliases(self, name: str) -> dict[str, int]:
        """Where each alias of ``name`` points (aliases never deployed are left out)."""
        out = {}
        for alias in ALIASES:
            stack = alias_stack(self.store.moves(name, alias))
            if stack:
                out[alias] = stack[-1]
        return out

    def resolve(self, name: str, ref: str | int | None = None) -> ModelVersion:
        """The version ``ref`` names: a number, an alias, ``latest``, or ``None``.

        ``None`` means ``production`` when it is set, else the latest version.
        """
        latest = self.store.latest(check_name(name))
        if latest is None:
            raise NotFoundError(f"no model {name!r}")
        if ref is None:
            ref = "production" if "production" in self.aliases(name) else "latest"
        if ref == "latest":
            return latest
        if isinstance(ref, str) and ref in ALIASES:
            target = self.aliases(name).get(ref)
            if target is None:
                raise NotFoundError(f"model {name!r} has no {ref} version; deploy one first")
            return self.store.get(name, target)
        try:
            number = int(ref)
        except ValueError as err:
            raise ValidationError(f"not a version, alias or 'latest': {ref!r}",
                                  field="version") from err
        return self.store.get(name, number)

    def load(self, meta: ModelVersion) -> Any:
        """The estimator of ``meta``, loaded once (sha256 and allow-list checked) and cached."""
        key = (meta.name, meta.version)
        model = self._loaded.get(key)
        if model is None:
            model = serialization.loads(self.store.read_artifact(meta))
            self._loaded[key] = model
        return model

    def moves(self, name: str) -> list[AliasMove]:
        """Every alias move of ``name``, oldest first."""
        return self.store.moves(check_name(name))

    async def deploy(self, name: str, version: int, alias: str = "production",
                     by: str = "") -> AliasMove:
        """Point ``alias`` at ``version``; record (in a worker thread) and publish the move.

        :class:`ConflictError` when it points there already.
        """
        return await self._publish(await asyncio.to_thread(self.record_deploy, name, version,
                                                           alias, by))

    async def rollback(self, name: str, alias: str = "production", by: str = "") -> AliasMove:
        """Move ``alias`` back to the version it held before its last deploy (recorded in a
        worker thread, then published).

        :class:`ConflictError` when there is nothing to go back to.
        """
        return await self._publish(await asyncio.to_thread(self.record_rollback, name, alias,
                                                           by))

    def record_deploy(self, name: str, version: int, alias: str = "production",
                      by: str = "") -> AliasMove:
        """:meth:`deploy` without publishing; blocking."""
        check_alias(alias)
        self.store.get(check_name(name), version)
        current = self.aliases(name).get(alias)
        if current == version:
            raise ConflictError(f"{name} {alias} is version {version} already")
        return self._move(name, alias, current, version, "deploy", by)

    def record_rollback(self, name: str, alias: str = "production", by: str = "") -> AliasMove:
        """:meth:`rollback` without publishing; blocking."""
        check_alias(alias)
        self.versions(name)
        stack = alias_stack(self.store.moves(name, alias))
        if len(stack) < 2:
            raise ConflictError(f"{name} {alias} has no earlier version to roll back to")
        return self._move(name, alias, stack[-1], stack[-2], "rollback", by)

    def _move(self, name: str, alias: str, current: int | None, target: int,
              kind: str, by: str) -> AliasMove:
        move = AliasMove(name=name, alias=alias, from_version=current, to_version=target,
                         kind="rollback" if kind == "rollback" else "deploy", by=by,
                         at=format_us(self.clock()))
        self.store.add_move(move)
        self.generation += 1
        return move

    async def _publish(self, move: AliasMove) -> AliasMove:
        if self.bus is not None:
            await self.bus.publish(CHANNEL, {"type": "alias", **move.to_dict()})
        return move
