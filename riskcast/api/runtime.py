"""The running platform: storage, bus, packs, pipeline, hub and background jobs.

One :class:`Runtime` per app, kept on ``app.state.runtime`` (never in a module global).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

import msgspec

from riskcast.alerts.service import AlertService, shared_state
from riskcast.alerts.settings import AlertSettings
from riskcast.api.hub import Hub
from riskcast.api.metrics import RuntimeMetrics
from riskcast.backup.lock import DataDirLock
from riskcast.backup.schedule import BackupJob
from riskcast.bus import open_bus
from riskcast.bus.base import Bus
from riskcast.cluster.jobs import LeasedJobs, lease_for
from riskcast.core.sites import Site
from riskcast.ingest.coordinator import PollCoordinator
from riskcast.ingest.mqtt import MqttSource
from riskcast.ingest.pollers import JsonPoller
from riskcast.ingest.simulator import Simulator
from riskcast.packs.registry import PackSet
from riskcast.pipeline import Pipeline
from riskcast.pipeline.retention import RetentionJob
from riskcast.security.service import Security
from riskcast.settings import Settings
from riskcast.storage import open_storage
from riskcast.storage.base import Storage

if TYPE_CHECKING:
    from riskcast.models.service import ModelService

log = logging.getLogger(__name__)


class Runtime:
    """Everything one server process runs, started and stopped in order."""

    def __init__(self, settings: Settings, *, storage: Storage | None = None,
                 bus: Bus | None = None, packs: PackSet | None = None) -> None:
        self.settings = settings
        self.storage = storage or open_storage(
            settings.storage_url, sqlite_synchronous=settings.sqlite_synchronous,
            source_priority=settings.source_priority or None)
        self.bus = bus or open_bus(settings.bus, history_size=settings.history_size)
        self.packs = packs or PackSet.load(settings.packs)
        self.pipeline = Pipeline(self.storage, self.bus, self.packs, settings)
        #: Keys, tokens, rate limits and the audit log (docs/security.md).
        self.security = Security(settings)
        self.models: ModelService | None = None
        try:
            from riskcast.models.service import ModelService
            from riskcast.models.store import open_model_store

            # Beside PostgreSQL storage the registry is shared too (docs/models.md).
            self.models = ModelService(settings.data_dir, self.bus, store=open_model_store(
                settings, schema=str(getattr(self.storage, "schema", "riskcast"))))
        except ImportError:  # the ml extra is not installed: no model registry
            log.info("model registry off: pip install 'riskcast[ml]'")
        self.alerts = AlertService(
            bus=self.bus, sites=self._sites, packs=self.packs.packs.values(),
            drift=self.pipeline.predictions.drift_measure,
            data_dir=None if settings.storage == "memory" else settings.data_dir,
            settings=AlertSettings(sqlite_synchronous=settings.sqlite_synchronous),
            **shared_state(self.storage, settings.us("lease_interval") / 1e6))
        if self.models is not None:  # served models predict live
            self.pipeline.predictions.attach(self.models)
        self.hub = Hub(self.bus, buffer_bytes=settings.subscriber_buffer_bytes,
                       keepalive=settings.us("keepalive") / 1e6)
        self.retention = RetentionJob(self.storage, settings)
        self.simulator: Simulator | None = None
        self.mqtt: MqttSource | None = None
        self.pollers: PollCoordinator | None = None
        if settings.pollers:
            self.pollers = PollCoordinator(
                [JsonPoller.from_config(c) for c in settings.pollers], self.pipeline.ingest)
        if settings.mqtt:
            self.mqtt = MqttSource(settings.mqtt, self.pipeline.ingest,
                                   prefix=settings.mqtt_prefix,
                                   client_id=settings.mqtt_client_id)
        self.draining = False
        self.started_at = time.time()
        self._tasks: list[asyncio.Task[Any]] = []
        #: Held while serving, so ``riskcast restore`` refuses to pull the data dir away.
        self.data_lock = DataDirLock(settings.data_dir)
        self.backups: BackupJob | None = None
        if settings.backup_interval != "0":
            self.backups = BackupJob(settings, schema=getattr(self.storage, "schema", "riskcast"))
        #: Periodic jobs that write shared state run in one process: the ``jobs`` lease's
        #: holder (riskcast/cluster/jobs.py; alone, this process).
        self.jobs = LeasedJobs(lease_for(self.storage, "jobs",
                                         settings.us("lease_interval") / 1e6))
        self.jobs.add("retention", self.retention.run)
        if self.backups is not None:
            self.jobs.add("backups", self.backups.run)
        #: Pollers too: processes with the same poller configuration poll once between them
        #: (a lease named after the configuration), those with others each poll their own.
        self.poll_jobs: LeasedJobs | None = None
        if self.pollers is not None:
            digest = hashlib.sha256(msgspec.json.encode(settings.pollers)).hexdigest()[:16]
            self.poll_jobs = LeasedJobs(lease_for(self.storage, f"pollers.{digest}",
                                                  settings.us("lease_interval") / 1e6))
            self.poll_jobs.add("pollers", self.pollers.run)
        self.metrics = RuntimeMetrics(self)

    async def start(self) -> None:
        self.data_lock.share()
        await self.security.start()
        await self.storage.open()
        await self.bus.start()
        if self.models is not None:
            await self.models.start()
        await self.pipeline.start()
        await self.alerts.start()  # after the pipeline: it needs the sites
        await self.hub.start()
        await self.jobs.start()
        if self.poll_jobs is not None:
            await self.poll_jobs.start()
        if self.mqtt is not None:
            self._tasks.append(asyncio.create_task(self.mqtt.run(), name="mqtt"))
        if self.settings.simulate:
            self.simulator = await self._start_simulator()
            self._tasks.append(asyncio.create_task(self.simulator.run(), name="simulator"))
            if self.settings.simulate_models and self.models is not None:
                from riskcast.models.demo import deploy_missing

                self._tasks.append(asyncio.create_task(
                    deploy_missing(self.models, self.packs.packs.values()), name="demo-models"))

    def _sites(self) -> dict[str, Site]:
        return self.pipeline.sites

    async def _start_simulator(self) -> Simulator:
        sites = []
        count = self.settings.simulate_sites
        for pack in self.packs.packs.values():
            if pack.simulator is None:
                continue
            for index in range(count):
                sim = pack.simulator(index, 42)
                if sim.site.id not in self.pipeline.sites:
                    await self.pipeline.put_site(sim.site)
                sites.append(sim)
        log.info("simulating %d sites", len(sites))
        return Simulator(sites, self._ingest_items,
                         interval=self.settings.us("simulate_interval") / 1e6)

    async def _ingest_items(self, items: list[Any], source: str) -> object:
        return await self.pipeline.ingest(items, source)

    async def aclose(self) -> None:
        """Stop sources first, commit what was accepted, then close streams and storage."""
        self.draining = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.jobs.aclose()
        if self.poll_jobs is not None:
            await self.poll_jobs.aclose()
        await self.pipeline.aclose()
        await self.alerts.aclose()
        await self.hub.aclose()
        if self.models is not None:
            await self.models.aclose()
        await self.bus.aclose()
        await self.storage.aclose()
        await self.security.aclose()  # last: the audit log flushes what is queued
        self.data_lock.release()

    def stats(self) -> dict[str, Any]:
        c = self.pipeline.committer
        return {
            # Which process answered (each worker of ``serve --workers N`` is one).
            "process": {"pid": os.getpid()},
            "uptime_s": round(time.time() - self.started_at, 1),
            "sites": len(self.pipeline.sites),
            "ingest": {"accepted": self.pipeline.accepted_total,
                       "rejected": self.pipeline.rejected_total,
                       "pending": c.pending_rows, "commits": c.commits,
                       "committed": c.committed_rows,
                       "publish_failures": self.pipeline.publish_failures},
            "publishing": self.pipeline.publishing.stats(),
            "streams": self.hub.stats(),
            "retention": {"runs": self.retention.runs, "deleted": self.retention.deleted},
            "jobs": {**self.jobs.stats(), "backups": None if self.backups is None else {
                "runs": self.backups.runs, "failures": self.backups.failures}},
            "derive": {"runs": self.pipeline.derive.runs,
                       "failures": self.pipeline.derive.failures},
            "predictions": self.pipeline.predictions.stats(),
            "alerts": self.alerts.stats(),
            "mqtt": self.mqtt.stats() if self.mqtt else None,
            "pollers": self.pollers.stats() if self.pollers else None,
        }
