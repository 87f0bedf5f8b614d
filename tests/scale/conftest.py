"""Fixtures of the scale-out tests: private services and a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scale.services import Daemon, fresh_database, private_nats, private_redis


@pytest.fixture
def database() -> Iterator[str]:
    """The URL of a new database on the shared PostgreSQL (dropped afterwards)."""
    with fresh_database() as url:
        yield url


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Daemon]:
    with private_redis(tmp_path) as daemon:
        yield daemon


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[Daemon]:
    with private_nats(tmp_path) as daemon:
        yield daemon


@pytest.fixture(params=["redis", "nats"])
def bus_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Daemon]]:
    """A private Redis or NATS, and the bus URL for it."""
    if request.param == "redis":
        with private_redis(tmp_path) as daemon:
            yield f"redis://127.0.0.1:{daemon.port}/0", daemon
    else:
        with private_nats(tmp_path) as daemon:
            yield f"nats://127.0.0.1:{daemon.port}", daemon
