"""Background jobs: training (an asyncio task running the fit in a worker thread) and
batch prediction over a stored range (a coroutine on the loop that awaits storage).

Progress, start, success and failure are published on the ``models`` channel as
``{"type": "job", "job": {...}}``; :attr:`TrainingJob.finished` is set when the job ends, so
callers wait on it (never sleep).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from riskcast.bus.base import Bus
from riskcast.core.clock import format_us, now_us
from riskcast.exceptions import NotFoundError, OverloadedError, RiskcastError
from riskcast.models.records import ModelVersion
from riskcast.models.registry import CHANNEL
from riskcast.types import Micros

log = logging.getLogger(__name__)
State = Literal["queued", "running", "succeeded", "failed"]
Kind = Literal["train", "predict"]
#: The blocking work of a job: given a progress callback, train and return the version.
Work = Callable[[Callable[[int, int], None]], ModelVersion]
#: The async work of a job: given a progress callback, return its result (a JSON object).
AsyncWork = Callable[[Callable[[int, int], None]], Awaitable[dict[str, Any]]]


@dataclass
class TrainingJob:
    """One job (a training run or a batch prediction) and where it stands."""

    id: str
    name: str
    by: str
    created_at: str
    state: State = "queued"
    done: int = 0
    total: int = 0
    version: int | None = None
    error: str | None = None
    kind: Kind = "train"
    #: What a finished prediction job did (rows written per site, ...).
    result: dict[str, Any] | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": self.id, "kind": self.kind, "name": self.name, "by": self.by,
                "created_at": self.created_at, "state": self.state, "done": self.done,
                "total": self.total, "version": self.version, "error": self.error,
                "result": self.result}


class TrainingJobs:
    """Runs jobs, at most ``max_running`` at a time; keeps the last ``keep`` finished ones."""

    def __init__(self, bus: Bus | None = None, clock: Callable[[], Micros] = now_us,
                 max_running: int = 2, keep: int = 100) -> None:
        self.bus = bus
        self.clock = clock
        self.max_running = max_running
        self.keep = keep
        self._jobs: dict[str, TrainingJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, job_id: str) -> TrainingJob:
        """The job ``job_id``; :class:`NotFoundError` when unknown (or long forgotten)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}")
        return job

    def list(self) -> list[TrainingJob]:
        """Every remembered job, oldest first."""
        return list(self._jobs.values())

    def start(self, name: str, work: Work, by: str = "") -> TrainingJob:
        """Queue ``work`` as a job and return it at once; :class:`OverloadedError` when
        ``max_running`` jobs are running already."""
        job = self._new(name, by, "train")
        return self._launch(job, self._run(job, work))

    def start_async(self, name: str, work: AsyncWork, by: str = "", *,
                    version: int | None = None) -> TrainingJob:
        """Queue the coroutine ``work`` as a prediction job (of ``version``) and return it at
        once; :class:`OverloadedError` as :meth:`start`."""
        job = self._new(name, by, "predict")
        job.version = version
        return self._launch(job, self._run_async(job, work))

    def _new(self, name: str, by: str, kind: Kind) -> TrainingJob:
        if len(self._tasks) >= self.max_running:
            raise OverloadedError(f"{len(self._tasks)} model jobs running; try later",
                                  retry_after=10)
        return TrainingJob(id=uuid.uuid4().hex, name=name, by=by,
                           created_at=format_us(self.clock()), kind=kind)

    def _launch(self, job: TrainingJob, run: Coroutine[Any, Any, None]) -> TrainingJob:
        self._jobs[job.id] = job
        finished = [j for j in self._jobs.values() if j.finished.is_set()]
        for old in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[old.id]
        task = asyncio.create_task(run, name=f"{job.kind}-{job.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _publish(self, job: TrainingJob, snapshot: dict[str, Any] | None = None) -> None:
        if self.bus is not None:
            try:
                await self.bus.publish(CHANNEL, {"type": "job",
                                                 "job": snapshot or job.to_dict()})
            except RiskcastError as err:
                log.warning("training job %s: could not publish progress: %s", job.id, err)

    async def _run(self, job: TrainingJob, work: Work) -> None:
        loop = asyncio.get_running_loop()
        pending: list[concurrent.futures.Future[None]] = []

        def progress(done: int, total: int) -> None:  # runs in the worker thread
            job.done, job.total = done, total
            pending.append(asyncio.run_coroutine_threadsafe(
                self._publish(job, job.to_dict()), loop))

        job.state = "running"
        await self._publish(job)
        try:
            version = await asyncio.to_thread(work, progress)
        except Exception as err:  # a failed fit must not take the server down
            log.warning("training job %s (%s) failed: %s", job.id, job.name, err)
            job.state, job.error = "failed", f"{type(err).__name__}: {err}"
        else:
            job.state, job.version = "succeeded", version.version
        await asyncio.gather(*(asyncio.wrap_future(f) for f in pending))
        await self._publish(job)
        job.finished.set()

    async def _run_async(self, job: TrainingJob, work: AsyncWork) -> None:
        last: list[asyncio.Task[None]] = []

        def progress(done: int, total: int) -> None:  # runs on the loop
            job.done, job.total = done, total
            last.append(asyncio.create_task(self._publish(job, job.to_dict())))

        job.state = "running"
        await self._publish(job)
        try:
            job.result = await work(progress)
        except Exception as err:  # a failed job must not take the server down
            log.warning("%s job %s (%s) failed: %s", job.kind, job.id, job.name, err)
            job.state, job.error = "failed", f"{type(err).__name__}: {err}"
        else:
            job.state = "succeeded"
        await asyncio.gather(*last)
        await self._publish(job)
        job.finished.set()

    async def aclose(self) -> None:
        """Wait for running jobs to end (a thread cannot be interrupted mid-fit)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
