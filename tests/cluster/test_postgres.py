"""The PostgreSQL lease: one holder at a time, handed over when the holder closes or its
session dies. Needs PostgreSQL (``RISKCAST_TEST_POSTGRES``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from tests.conftest import IN_CI
from tests.storage.test_postgres import URL, _require_postgres

if not IN_CI:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
import psycopg

from riskcast.cluster.lease import SoleLease
from riskcast.cluster.postgres import PostgresLease

pytestmark = pytest.mark.anyio


async def until(condition: Callable[[], bool], within: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


class Recorder:
    """Every win and loss a lease reports, and an event per change."""

    def __init__(self) -> None:
        self.changes: list[bool] = []
        self.changed = asyncio.Event()

    async def __call__(self, held: bool) -> None:
        self.changes.append(held)
        self.changed.set()

    async def next(self, within: float = 15.0) -> bool:
        async with asyncio.timeout(within):
            await self.changed.wait()
        self.changed.clear()
        return self.changes[-1]


async def test_one_holder_then_the_other_when_it_closes() -> None:
    _require_postgres()
    name = f"test.{uuid.uuid4().hex}"
    first, second = (PostgresLease(URL, name, interval=0.05) for _ in range(2))
    one, two = Recorder(), Recorder()
    await first.start(one)
    assert await one.next() is True
    await second.start(two)
    try:
        # The second keeps trying while the first holds, and does not win.
        await until(lambda: second.attempts >= 3)
        assert two.changes == [] and not second.held and second.wins == 0
        await first.aclose()
        assert one.changes == [True, False]
        assert await two.next() is True and second.held
    finally:
        await first.aclose()
        await second.aclose()
    assert two.changes == [True, False]


async def test_a_holder_whose_session_dies_loses_the_lease_and_another_wins() -> None:
    _require_postgres()
    name = f"test.{uuid.uuid4().hex}"
    first, second = (PostgresLease(URL, name, interval=0.05) for _ in range(2))
    one, two = Recorder(), Recorder()
    await first.start(one)
    assert await one.next() is True
    await second.start(two)
    try:
        # What PostgreSQL does when the holder's process dies: the session ends.
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = %s", (first.application_name,))
        assert await one.next() is False
        assert await two.next() is True
        # The first competes again and does not win while the second holds.
        assert not first.held
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_failing_takeover_gives_the_lease_up() -> None:
    _require_postgres()
    name = f"test.{uuid.uuid4().hex}"
    lease = PostgresLease(URL, name, interval=0.05)
    calls: list[bool] = []
    won_again = asyncio.Event()

    async def on_change(held: bool) -> None:
        calls.append(held)
        if held and len(calls) == 1:
            raise RuntimeError("store unavailable")
        if len(calls) == 3:
            won_again.set()

    await lease.start(on_change)
    try:
        async with asyncio.timeout(15):
            await won_again.wait()  # it gave the lease up, competed again and won again
        assert calls[:3] == [True, False, True]
    finally:
        await lease.aclose()


async def test_sole_lease_is_held_from_start_to_close() -> None:
    lease, rec = SoleLease(), Recorder()
    await lease.start(rec)
    assert lease.held and rec.changes == [True]
    await lease.aclose()
    await lease.aclose()
    assert rec.changes == [True, False]
