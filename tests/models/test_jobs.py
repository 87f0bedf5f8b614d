"""Training jobs: run in a thread, publish progress, end succeeded or failed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from riskcast.bus.memory import MemoryBus
from riskcast.exceptions import NotFoundError, OverloadedError
from riskcast.models.jobs import TrainingJobs
from riskcast.models.records import ModelVersion
from tests.models.conftest import meta


def work(steps: int) -> Callable[[Callable[[int, int], None]], ModelVersion]:
    def run(progress: Callable[[int, int], None]) -> ModelVersion:
        for done in range(1, steps + 1):
            progress(done, steps)
        return meta()

    return run


@pytest.mark.anyio
async def test_job_publishes_each_step_then_its_end() -> None:
    bus = MemoryBus()
    jobs = TrainingJobs(bus)
    job = jobs.start("m", work(3), by="ann")
    assert job.state == "queued"
    await asyncio.wait_for(job.finished.wait(), 10)
    assert (job.state, job.version, job.done, job.total) == ("succeeded", 0, 3, 3)
    events = [e.data["job"] for e in await bus.history("models", 0)]
    assert [(e["state"], e["done"]) for e in events] == [
        ("running", 0), ("running", 1), ("running", 2), ("running", 3), ("succeeded", 3)]
    assert jobs.get(job.id) is job


@pytest.mark.anyio
async def test_failed_fit_is_reported_not_raised() -> None:
    def broken(progress: Callable[[int, int], None]) -> ModelVersion:
        raise ValueError("bad data")

    jobs = TrainingJobs()
    job = jobs.start("m", broken)
    await asyncio.wait_for(job.finished.wait(), 10)
    assert job.state == "failed" and job.error == "ValueError: bad data"


@pytest.mark.anyio
async def test_too_many_running_jobs_are_refused() -> None:
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    release = __import__("threading").Event()

    def blocked(progress: Callable[[int, int], None]) -> ModelVersion:
        loop.call_soon_threadsafe(gate.set)
        release.wait(10)
        return meta()

    jobs = TrainingJobs(max_running=1)
    job = jobs.start("m", blocked)
    await asyncio.wait_for(gate.wait(), 10)
    with pytest.raises(OverloadedError):
        jobs.start("m", work(1))
    release.set()
    await asyncio.wait_for(job.finished.wait(), 10)
    await jobs.aclose()
    with pytest.raises(NotFoundError):
        jobs.get("nope")
