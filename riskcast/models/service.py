"""The model service the API and CLI use: registry, trainers, jobs and predictors in one place.

One :class:`ModelService` per runtime (``request.app.state.runtime.models``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from riskcast.bus.base import Bus
from riskcast.core.clock import format_us, now_us
from riskcast.exceptions import NotFoundError, ValidationError
from riskcast.models.drift import feature_drift
from riskcast.models.jobs import TrainingJob, TrainingJobs
from riskcast.models.performance import score_outcomes, summarize
from riskcast.models.predict import MAX_BATCH_ROWS, MAX_ROWS, Predictor, to_matrix
from riskcast.models.records import AliasMove, ModelVersion
from riskcast.models.registry import ModelRegistry
from riskcast.models.shadow import ShadowTally
from riskcast.models.store import ModelStore, check_name
from riskcast.models.trainers import Trainer, builtin_trainers
from riskcast.models.training import Progress, fit_version
from riskcast.types import Micros

if TYPE_CHECKING:
    from riskcast.models.forecasters import ForecasterSet
    from riskcast.models.online import RiverOnlineClassifier
    from riskcast.pipeline.pipeline import Pipeline
    from riskcast.pipeline.predictions import OnlinePredictions


log = logging.getLogger(__name__)
#: How often the service looks for versions added or aliases moved by another process.
RECHECK_SECONDS = 1.0
#: Longest wait for a compiled library another thread is building.
COMPILE_TIMEOUT = 300.0


class ModelService:
    """Models under ``data_dir`` (``models.db`` and ``models/``); events on ``bus``.

    ``source_dir`` is where trainers read their data files (default: the project's
    ``shared/data``); ``trainers`` adds to or replaces the built-in ones; ``store`` replaces
    the SQLite store under ``data_dir`` (:func:`~riskcast.models.store.open_model_store`:
    PostgreSQL beside PostgreSQL storage).
    """

    def __init__(self, data_dir: Path, bus: Bus | None = None, clock: Callable[[], Micros] = now_us,
                 *, source_dir: Path | None = None,
                 trainers: Mapping[str, Trainer] | None = None,
                 store: ModelStore | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.bus = bus
        self.clock = clock
        self.source_dir = source_dir
        self.trainers: dict[str, Trainer] = {**builtin_trainers(), **(trainers or {})}
        self.registry = ModelRegistry(self.data_dir, bus, clock, store=store)
        self.jobs = TrainingJobs(bus, clock)
        self._predictors: dict[tuple[str, int], Predictor | ForecasterSet] = {}
        self._resolved: dict[tuple[str, str | int | None], Predictor | ForecasterSet] = {}
        self._compiling: dict[tuple[str, int], threading.Event] = {}
        self._compile_failed: set[tuple[str, int]] = set()
        #: Production beside staging on the live rows (filled by the pipeline).
        self.shadow = ShadowTally()
        self._generation = -1
        self._stamp: tuple[int, int] = (-1, -1)
        self._checked = 0.0
        self._watch: asyncio.Task[None] | None = None
        self._noted = asyncio.Condition()
        self._online: dict[str, RiverOnlineClassifier] = {}
        #: Called after each answered prediction with the model and its seconds (metrics).
        self.on_predict: Callable[[str, float], None] | None = None

    async def start(self) -> None:
        """Watch the store for changes made by other processes (the store opened with the
        service)."""
        self._stamp = await asyncio.to_thread(self.registry.store.stamp)
        self._watch = asyncio.create_task(self._watch_store(), name="models-watch")

    async def aclose(self) -> None:
        """Wait for running training jobs, then close the store."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        await self.jobs.aclose()
        self.registry.close()

    # -- reading -----------------------------------------------------------------------------

    def list(self) -> list[dict[str, Any]]:
        """Every model: its name, versions, latest version and aliases; trainable names too."""
        names = sorted(set(self.registry.names()) | set(self.trainers))
        out = []
        for name in names:
            latest = self.registry.store.latest(name)
            out.append({"name": name, "versions": latest.version if latest else 0,
                        "latest": latest.version if latest else None,
                        "aliases": self.registry.aliases(name) if latest else {},
                        "trainable": name in self.trainers})
        return out

    def show(self, name: str) -> dict[str, Any]:
        """One model: every version, its aliases and its alias moves."""
        versions = self.registry.versions(name)
        return {"name": name, "aliases": self.registry.aliases(name),
                "versions": [v.to_dict() for v in versions],
                "moves": [m.to_dict() for m in self.registry.moves(name)],
                "trainable": name in self.trainers}

    def version(self, name: str, ref: str | int | None = None) -> ModelVersion:
        """The version ``ref`` names (number, alias, ``latest``; default production/latest)."""
        return self.registry.resolve(name, ref)

    def metrics(self, name: str, ref: str | int | None = None) -> dict[str, Any]:
        """The stored cross-validated metrics of a version, beside its baseline's."""
        meta = self.registry.resolve(name, ref)
        return {"name": name, "version": meta.version, **meta.metrics}

    # -- training ----------------------------------------------------------------------------

    def train_sync(self, name: str, options: Mapping[str, Any] | None = None, *, by: str = "",
                   progress: Progress | None = None) -> ModelVersion:
        """Train ``name`` with its trainer here and now (the CLI's path); blocking."""
        trainer = self._trainer(name)
        plan = trainer(options or {}, self.source_dir)
        return fit_version(self.registry, name, plan, by=by, progress=progress)

    async def train(self, name: str, options: Mapping[str, Any] | None = None, *,
                    by: str = "") -> TrainingJob:
        """Start training ``name`` as a background job and return the job.

        The trainer checks its options and loads its data first (in a thread), so bad options
        or missing data raise here, before any job exists.
        """
        trainer = self._trainer(name)
        plan = await asyncio.to_thread(trainer, dict(options or {}), self.source_dir)
        return self.jobs.start(
            name, lambda progress: fit_version(self.registry, name, plan, by=by,
                                               progress=progress), by)

    def job(self, job_id: str) -> TrainingJob:
        """A training job by id."""
        return self.jobs.get(job_id)

    def _trainer(self, name: str) -> Trainer:
        trainer = self.trainers.get(check_name(name))
        if trainer is None:
            raise NotFoundError(f"no trainer for model {name!r}; known: "
                                f"{', '.join(sorted(self.trainers))}")
        return trainer

    def ensemble(self, name: str, members: Sequence[tuple[str, int, float]], *,
                 by: str = "") -> ModelVersion:
        """Register a weighted vote of registered versions ``(model, version, weight)`` as the
        next version of ``name``."""
        from riskcast.models.ensembles import Member, build

        loaded = []
        for model, version, weight in members:
            meta = self.registry.resolve(model, version)
            loaded.append(Member(meta, self.registry.load(meta), float(weight)))
        meta, estimator = build(check_name(name), loaded, by)
        return self.registry.register(meta, estimator)

    # -- aliases -----------------------------------------------------------------------------

    async def deploy(self, name: str, version: int, alias: str = "production",
                     by: str = "") -> AliasMove:
        """Point ``alias`` at ``version`` (recorded and published)."""
        return await self.registry.deploy(name, version, alias, by)

    async def rollback(self, name: str, alias: str = "production", by: str = "") -> AliasMove:
        """Move ``alias`` back to its previous version (recorded and published)."""
        return await self.registry.rollback(name, alias, by)

    # -- predicting --------------------------------------------------------------------------

    def servable(self, name: str, ref: str | int | None = None) -> Predictor | ForecasterSet:
        """The loaded version ``ref`` names, ready to serve (loaded once, then cached): a
        :class:`Predictor` for an estimator, a :class:`ForecasterSet` for a forecaster.

        Which version a name and ref resolve to is cached until the registry changes: at once
        for changes made through this process, within :data:`RECHECK_SECONDS` for changes made
        by another (``riskcast model deploy`` while the server runs).
        """
        if self._watch is None:  # not started (the CLI, tests): check here
            now = time.monotonic()
            if now - self._checked > RECHECK_SECONDS:
                self._checked = now
                self._note_stamp(self.registry.store.stamp())
        found = self._cached(name, ref)
        if found is not None:
            return found
        meta = self.registry.resolve(name, ref)
        key = (meta.name, meta.version)
        servable = self._predictors.get(key)
        if servable is None:
            servable = self._predictors[key] = self._load(meta)
        self._resolved[(name, ref)] = servable
        return servable

    def loaded(self, name: str, version: int) -> Predictor | ForecasterSet | None:
        """Version ``version`` of ``name`` if this process has loaded it (never blocks: the
        drift measures ask for the versions whose rows they hold)."""
        return self._predictors.get((name, version))

    async def aservable(self, name: str, ref: str | int | None = None,
                        ) -> Predictor | ForecasterSet:
        """:meth:`servable` for the event loop: a cached resolution at once, else resolved
        and loaded (SQLite, the artifact file) in a worker thread."""
        found = self._cached(name, ref)
        if found is not None:
            return found
        return await asyncio.to_thread(self.servable, name, ref)

    def _cached(self, name: str, ref: str | int | None) -> Predictor | ForecasterSet | None:
        if self._generation != self.registry.generation:
            self._resolved.clear()
            self._generation = self.registry.generation
        return self._resolved.get((name, ref))

    def _note_stamp(self, stamp: tuple[int, int]) -> bool:
        if stamp != self._stamp:
            self._stamp = stamp
            self._resolved.clear()
            return True
        return False

    async def _watch_store(self) -> None:
        """Notice versions added and aliases moved by other processes (a worker thread reads
        the store's stamp every :data:`RECHECK_SECONDS`)."""
        while True:
            try:
                if self._note_stamp(await asyncio.to_thread(self.registry.store.stamp)):
                    async with self._noted:
                        self._noted.notify_all()
            except Exception:  # a store hiccup: try again next time
                log.warning("model registry: could not read its stamp", exc_info=True)
            await asyncio.sleep(RECHECK_SECONDS)

    async def noticed(self, stamp: tuple[int, int]) -> None:
        """Return once this (started) service has noticed the store at ``stamp`` or later
        (another process's versions and alias moves up to then are served)."""
        async with self._noted:
            await self._noted.wait_for(lambda: self._stamp >= stamp)

    def _load(self, meta: ModelVersion) -> Predictor | ForecasterSet:
        artifact = self.registry.load(meta)
        if hasattr(artifact, "predict"):
            return Predictor(meta, artifact)
        from riskcast.models.forecasters import ForecasterSet, is_forecaster_artifact

        if is_forecaster_artifact(artifact):
            return ForecasterSet(meta, artifact)
        raise ValidationError(
            f"model {meta.name} version {meta.version} holds no estimator to predict "
            "with (its artifact is stored state or metrics only)", field="name")

    def predictor(self, name: str, ref: str | int | None = None) -> Predictor:
        """The estimator version ``ref`` names; :class:`ValidationError` for a forecaster
        (served per station: see :meth:`predict` with ``site``)."""
        servable = self.servable(name, ref)
        if not isinstance(servable, Predictor):
            raise ValidationError(
                f"{name} version {servable.meta.version} is a per-station forecaster: it has "
                "no batch or outcome scoring; its live forecasts are stored per site",
                field="name")
        return servable

    def predict(self, name: str, rows: Sequence[Any], ref: str | int | None = None, *,
                level: float | None = None, site: str | None = None) -> dict[str, Any]:
        """Predict a few rows (at most :data:`MAX_ROWS`) with the version ``ref`` names.

        Regressors with stored conformal half-widths answer an ``interval`` at ``level``
        (default 0.9); a forecaster needs the station (``site``) whose learnt weights to use.
        """
        servable = self.servable(name, ref)
        X = to_matrix(servable.meta.features, rows=rows, limit=MAX_ROWS)
        if isinstance(servable, Predictor):
            return servable.predict(X, level)
        return servable.predict(X, site)

    def predict_batch(self, name: str, *, rows: Sequence[Any] | None = None,
                      columns: Mapping[str, Sequence[float]] | None = None,
                      ref: str | int | None = None) -> dict[str, Any]:
        """Predict up to :data:`MAX_BATCH_ROWS` rows, given as rows or as columns.

        LightGBM versions go through their compiled library once it is built
        (:mod:`riskcast.models.compiled`; the first batch starts the build in a thread).
        """
        predictor = self.predictor(name, ref)
        X = to_matrix(predictor.meta.features, rows=rows, columns=columns, limit=MAX_BATCH_ROWS)
        self.compile(predictor, wait=False)
        return predictor.predict(X)

    def predict_range(self, pipeline: Pipeline, name: str, *, start: int, end: int,
                      sites: Sequence[str] | None = None, pack: str | None = None,
                      ref: str | int | None = None, by: str = "",
                      progress: Callable[[int, int], None] | None = None) -> TrainingJob:
        """Start a job predicting the stored range ``start <= t <= end`` of ``sites`` (or of
        every site of ``pack``) with the version ``ref`` names, storing the results as the
        model's derived series (:mod:`riskcast.models.backfill`); answers the job at once.
        ``progress`` is called on the loop with (spans done, spans) besides the job's events.

        Unknown sites or pack and a reversed range are a :class:`ValidationError` naming the
        field, before any job exists. A forecaster forecasts at each reading in the range.
        """
        from riskcast.models.backfill import predict_range

        if end < start:
            raise ValidationError("'to' is before 'from'", field="to")
        if (sites is None) == (pack is None):
            raise ValidationError("give either sites or pack", field="sites")
        if sites is not None:
            if not sites:
                raise ValidationError("give at least one site", field="sites")
            for i, site_id in enumerate(sites):
                if site_id not in pipeline.sites:
                    raise ValidationError(f"unknown site {site_id!r}", field=f"sites[{i}]")
            site_ids = list(dict.fromkeys(sites))
        else:
            site_ids = sorted(s.id for s in pipeline.sites.values() if s.pack == pack)
            if not site_ids:
                raise ValidationError(f"no sites in pack {pack!r}", field="pack")
        servable = self.servable(name, ref)
        if isinstance(servable, Predictor):
            self.compile(servable, wait=False)
        window = pipeline.predictions.window_us

        def work(report: Callable[[int, int], None]) -> Awaitable[dict[str, Any]]:
            def both(done: int, total: int) -> None:
                report(done, total)
                if progress is not None:
                    progress(done, total)

            return predict_range(pipeline, servable, site_ids, start, end, both,
                                 window_us=window)

        return self.jobs.start_async(name, work, by, version=servable.meta.version)

    def compile(self, predictor: Predictor, *, wait: bool = True) -> bool:
        """Build (or load from the cache) the compiled library of a LightGBM predictor.

        ``wait=False`` starts the build in a thread and returns at once. Answers whether the
        predictor now uses a compiled library. Blocking when ``wait``.
        """
        from riskcast.models import compiled

        key = (predictor.meta.name, predictor.meta.version)
        if (predictor.compiled is not None or predictor.booster is None
                or key in self._compile_failed or not compiled.available()):
            return predictor.compiled is not None
        building = self._compiling.get(key)
        if building is not None:  # another thread is building it
            if wait:
                building.wait(COMPILE_TIMEOUT)
            return predictor.compiled is not None
        done = self._compiling[key] = threading.Event()
        cache = self.data_dir / "compiled"

        def build() -> None:
            try:
                meta = predictor.meta
                sample = (np.column_stack([np.asarray(meta.reference[f], dtype=float)
                                           for f in meta.features])
                          if all(f in meta.reference for f in meta.features) else None)
                predictor.compiled = compiled.compile_booster(predictor.booster, cache,
                                                              meta.sha256, sample)
            except Exception:  # a failed build leaves the booster serving (not retried)
                self._compile_failed.add(key)
                log.exception("compiling %s v%s failed", *key)
            finally:
                done.set()
                self._compiling.pop(key, None)

        if wait:
            build()
        else:
            threading.Thread(target=build, name=f"compile-{key[0]}", daemon=True).start()
        return predictor.compiled is not None

    def shadow_report(self, name: str) -> dict[str, Any]:
        """Production beside staging: live comparisons, and each version's live metrics."""
        aliases = self.registry.aliases(name)
        versions = {v.version: v for v in self.registry.versions(name)}
        task = versions[max(versions)].task
        perf = {entry["version"]: entry["all"] for entry in self.performance(name)["versions"]}
        live = {alias: {"version": v, **perf.get(v, {"n": 0})}
                for alias, v in aliases.items()}
        return {"name": name, "production": aliases.get("production"),
                "staging": aliases.get("staging"), "live": live,
                "comparisons": self.shadow.report(name, task)}

    def status(self, name: str, live: OnlinePredictions | None = None) -> dict[str, Any]:
        """Where ``name`` stands: its production and staging versions and when each was
        deployed, and, from ``live`` (the pipeline's predictions, when this process serves),
        its prediction counters, the shadow comparison and the latest drift figures; each
        aliased version's live metrics from labels and feedback."""
        versions = self.registry.versions(name)
        aliases = self.registry.aliases(name)
        moves = self.registry.moves(name)
        perf = {e["version"]: e["all"] for e in self.performance(name)["versions"]}
        deployed: dict[str, Any] = {}
        for alias in ("production", "staging"):
            version = aliases.get(alias)
            last = next((m for m in reversed(moves) if m.alias == alias), None)
            deployed[alias] = None if version is None else {
                "version": version, "deployed_at": last.at if last else None,
                "deployed_by": last.by if last else None,
                "kind": last.kind if last else None,
                "live": perf.get(version, {"n": 0})}
        task = versions[-1].task
        return {"name": name, "latest": versions[-1].version, "versions": len(versions),
                **deployed,
                "predictions": None if live is None else live.model_stats(name),
                "shadow": {"comparisons": self.shadow.report(name, task)},
                "drift": None if live is None else live.drift_summary(name)}

    async def astatus(self, name: str, live: OnlinePredictions | None = None,
                      ) -> dict[str, Any]:
        """:meth:`status` for the event loop: the registry part in a worker thread, the live
        counters and drift (in memory, the loop's) here."""
        out = await asyncio.to_thread(self.status, name)
        if live is not None:
            out["predictions"] = live.model_stats(name)
            out["drift"] = live.drift_summary(name)
        return out

    # -- watching ----------------------------------------------------------------------------

    def drift(self, name: str, columns: Mapping[str, Sequence[float]],
              ref: str | int | None = None) -> dict[str, Any]:
        """PSI and KS per feature of ``columns`` (recent rows) against the version's training
        reference."""
        meta = self.registry.resolve(name, ref)
        if not meta.reference:
            raise ValidationError(f"{name} version {meta.version} has no training reference",
                                  field="version")
        return {"name": name, "version": meta.version,
                "features": msgspec.to_builtins(feature_drift(meta.reference, columns))}

    def record_outcomes(self, name: str, rows: Sequence[Any], labels: Sequence[Any],
                        ref: str | int | None = None) -> dict[str, Any]:
        """Score the version's predictions for ``rows`` against their true ``labels`` (or
        values) and add them to today's (UTC) tally of that version."""
        if len(rows) != len(labels):
            raise ValidationError("give as many labels as rows", field="labels")
        predictor = self.predictor(name, ref)
        answer = predictor.predict(to_matrix(predictor.meta.features, rows=rows,
                                             limit=MAX_BATCH_ROWS))
        tally = score_outcomes(answer, labels)
        day = format_us(self.clock())[:10]
        self.registry.store.add_outcomes(name, predictor.meta.version, day, tally)
        return {"name": name, "version": predictor.meta.version, "day": day,
                **summarize(predictor.meta.task, tally)}

    async def feedback(self, pipeline: Pipeline, name: str, *, site: str, time: int,
                       label: Any = None, value: Any = None, verdict: str | None = None,
                       by: str = "") -> dict[str, Any]:
        """Score an operator's truth about the prediction of ``name`` stored at ``site`` and
        ``time`` (:mod:`riskcast.feedback.predictions`) and add it to that version's live
        metrics for today (UTC). 404 when no prediction of ``name`` is stored there, 409 when
        it has feedback already."""
        from riskcast.feedback.predictions import PredictionFeedback, stored_answer, truth
        from riskcast.feedback.predictions import version_of as source_version
        from riskcast.models.backfill import served_variable

        check_name(name)
        if site not in pipeline.sites:
            raise NotFoundError(f"no site {site!r}")
        if verdict not in (None, "correct", "incorrect"):
            raise ValidationError("verdict is correct or incorrect", field="verdict")
        variable = served_variable(pipeline, name, site)
        points = await pipeline.storage.read_series(site, variable, time, time + 1, limit=1)
        number = source_version(points[0].source, name) if points else None
        if number is None:
            raise NotFoundError(f"no prediction of {name} stored at {site} {format_us(time)}")
        meta = await asyncio.to_thread(self.registry.store.get, name, number)
        predicted = points[0].value
        true = truth(meta.task, meta.classes, predicted, label=label, value=value,
                     verdict=verdict)  # type: ignore[arg-type]
        tally = score_outcomes(stored_answer(meta.task, meta.classes, predicted), [true])
        at = format_us(self.clock())
        record = PredictionFeedback(name=name, version=number, site=site, time=format_us(time),
                                    predicted=predicted, truth=true,
                                    verdict=verdict, by=by, at=at)  # type: ignore[arg-type]
        await asyncio.to_thread(self.registry.store.add_feedback, record, at[:10], tally)
        live = await asyncio.to_thread(self.performance, name)
        total = next((e["all"] for e in live["versions"] if e["version"] == number), {"n": 0})
        return {**record.to_dict(), **summarize(meta.task, tally), "live": total}

    def feedback_list(self, name: str, limit: int = 100) -> dict[str, Any]:
        """The latest feedback on ``name``'s stored predictions, newest first."""
        return {"name": name, "feedback": [f.to_dict() for f in
                                           self.registry.store.feedback(check_name(name), limit)]}

    def performance(self, name: str) -> dict[str, Any]:
        """Live metrics per version: all days together and day by day."""
        tasks = {v.version: v.task for v in self.registry.versions(name)}
        days = self.registry.store.outcomes(name)
        out: dict[int, dict[str, Any]] = {}
        for row in days:
            entry = out.setdefault(row["version"], {"version": row["version"], "days": [],
                                                    "_total": dict.fromkeys(row, 0)})
            entry["days"].append({"day": row["day"], **summarize(tasks[row["version"]], row)})
            for key in ("n", "correct", "brier_sum", "abs_error_sum", "sq_error_sum"):
                entry["_total"][key] += row[key]
        versions = []
        for version, entry in out.items():
            entry["all"] = summarize(tasks[version], entry.pop("_total"))
            versions.append(entry)
        return {"name": name, "versions": versions}

    # -- online learning ---------------------------------------------------------------------

    def _learner(self, name: str, first: Mapping[str, Any] | None) -> RiverOnlineClassifier:
        learner = self._online.get(check_name(name))
        if learner is None:
            from riskcast.models.online import RiverOnlineClassifier  # river is optional

            stored = self.registry.store.get_online(name)
            if stored is not None:
                learner = RiverOnlineClassifier.from_state(stored[0], stored[1])
            elif first is None:
                raise NotFoundError(f"no online learner {name!r}; send labelled rows first")
            else:
                latest = self.registry.store.latest(name)
                learner = RiverOnlineClassifier(
                    latest.features if latest is not None else sorted(first))
            self._online[name] = learner
        return learner

    def learn(self, name: str, rows: Sequence[Mapping[str, Any]],
              labels: Sequence[bool | int]) -> dict[str, Any]:
        """Teach the online learner ``name`` each labelled row, in order; store its state.

        A new learner takes the features of the registered model of that name, else the first
        row's keys, sorted.
        """
        if len(rows) != len(labels) or not rows:
            raise ValidationError("give as many labels as rows, at least one", field="labels")
        if len(rows) > MAX_ROWS:
            raise ValidationError(f"{len(rows)} rows; at most {MAX_ROWS}", field="rows")
        learner = self._learner(name, rows[0])
        for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
            learner.learn_one(row, bool(label), where=f"rows[{i}]")
        self.registry.store.put_online(name, learner.features, learner.state(),
                                       format_us(self.clock()))
        return {"name": name, "learned": len(rows), "seen": learner.seen,
                "features": list(learner.features)}

    def predict_online(self, name: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """P(true) per row from the online learner ``name``."""
        learner = self._learner(name, None)
        return {"name": name, "seen": learner.seen,
                "probabilities": [learner.predict_proba_one(row, where=f"rows[{i}]")
                                  for i, row in enumerate(rows)]}
