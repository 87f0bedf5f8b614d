"""Every storage backend passes the same contract; a new backend is one more parameter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from riskcast.storage.base import Storage
from riskcast.storage.memory import MemoryStorage
from riskcast.storage.sqlite import SqliteStorage
from riskcast.testing.storage import STORAGE_CHECKS, StorageCheck


def _backends(tmp_path: Path) -> dict[str, Callable[[], Storage]]:
    return {
        "memory": MemoryStorage,
        "sqlite": lambda: SqliteStorage(tmp_path / "contract.db", synchronous="normal"),
    }


@pytest.fixture(params=["memory", "sqlite"])
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Storage]:
    return _backends(tmp_path)[request.param]


@pytest.mark.anyio
@pytest.mark.parametrize("check", STORAGE_CHECKS, ids=lambda c: c.__name__)
async def test_storage_contract(make_storage: Callable[[], Storage],
                                check: StorageCheck) -> None:
    storage = make_storage()
    await storage.open()
    try:
        await check(storage)
    finally:
        await storage.aclose()


@pytest.mark.anyio
async def test_check_storage_runs_every_check(tmp_path: Path) -> None:
    made: list[Storage] = []

    async def make() -> Storage:
        made.append(MemoryStorage())
        return made[-1]

    from riskcast.testing import check_storage

    await check_storage(make)
    assert len(made) == len(STORAGE_CHECKS)


