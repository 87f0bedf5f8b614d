"""Periodic jobs that write shared state (retention, scheduled backups, pollers) run in one
process of several sharing PostgreSQL: the holder of the ``jobs`` lease (pollers: of a
lease named after their configuration); when it dies, another."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from tests.scale.clients import until
from tests.scale.servers import ServeProcess
from tests.scale.services import Daemon


def jobs(server: ServeProcess) -> dict[str, Any]:
    stats = httpx.get(f"{server.url}/api/v1/system").json()
    return {**stats["jobs"], "retention": stats["retention"]}


def archives(tmp_path: Path, name: str) -> list[Path]:
    return sorted((tmp_path / f"data-{name}" / "backups").glob("*"))


def test_retention_and_backups_run_in_the_lease_holder_only(
        tmp_path: Path, database: str, redis_server: Daemon) -> None:
    bus = f"redis://127.0.0.1:{redis_server.port}/0"
    env = {"RISKCAST_RETENTION": "30d", "RISKCAST_RETENTION_INTERVAL": "0.2s",
           "RISKCAST_BACKUP_INTERVAL": "1s", "RISKCAST_BACKUP_KEEP": "100",
           # Nothing answers there: each poll fails, and is counted.
           "RISKCAST_POLLERS": json.dumps([{"name": "agency", "url": "http://127.0.0.1:9/iv",
                                            "interval": "0.1s", "timeout": "1s",
                                            "preset": "usgs-iv"}])}
    a = ServeProcess(tmp_path, storage=database, bus=bus, env=env, name="a").start()
    b = ServeProcess(tmp_path, storage=database, bus=bus, env=env, name="b").start()
    try:
        httpx.post(f"{a.url}/api/v1/sites", json={"id": "old"}).raise_for_status()
        old = {"readings": [{"site": "old", "variable": "wind_kmh", "time": 1_700_000_000,
                             "value": 1.0}]}  # 2023: past the retention period
        assert httpx.post(f"{b.url}/api/v1/readings", json=old).json()["accepted"] == 1

        async def holder_works() -> tuple[ServeProcess, ServeProcess]:
            await until(lambda: any(jobs(s)["held"] for s in (a, b)), what="a jobs holder")
            holder, other = (a, b) if jobs(a)["held"] else (b, a)
            await until(lambda: jobs(holder)["retention"]["runs"] >= 5
                        and jobs(holder)["retention"]["deleted"] == 1
                        and jobs(holder)["backups"]["runs"] >= 2,
                        what="retention runs and backups in the holder")
            return holder, other

        holder, other = asyncio.run(holder_works())
        seen = jobs(other)
        assert not seen["held"] and seen["running"] == []
        assert seen["retention"]["runs"] == 0 and seen["backups"]["runs"] == 0
        assert archives(tmp_path, "b" if holder is a else "a") == []
        assert len(archives(tmp_path, "a" if holder is a else "b")) >= 2
        assert sorted(jobs(holder)["running"]) == ["backups", "retention"]

        def polls(server: ServeProcess) -> int:
            stats = httpx.get(f"{server.url}/api/v1/system").json()["pollers"]
            return int(stats["agency"]["polls"])

        asyncio.run(until(lambda: polls(a) + polls(b) >= 3, what="polls"))
        assert min(polls(a), polls(b)) == 0  # the same source, polled by one process

        holder.kill()  # SIGKILL: PostgreSQL frees its lock, the other takes over
        asyncio.run(until(lambda: jobs(other)["held"] and jobs(other)["retention"]["runs"] >= 1
                          and jobs(other)["backups"]["runs"] >= 1,
                          what="the other process runs the jobs"))
    finally:
        a.stop()
        b.stop()
