"""The alert service: listens to the bus, evaluates rules, keeps alert state, notifies.

It never sits in the ingest path: it reads ``site.*`` readings events from
:meth:`Bus.listen` in its own task, so ingest only pays for a queue append, and
notifications go out from the outbox worker, so a slow receiver delays nobody.

Tasks once started: *listen* (events into a queue), *evaluate* (queue → engine →
lifecycle → store → ``alerts`` channel), *timers* (``tick`` every second) and the
*outbox* worker.

Several processes: evaluation, the timers' alert work and the outbox run only in the
process holding the ``alerts`` lease (:mod:`riskcast.cluster`; a single process holds it
from the start). On winning it a process reloads rules, silences and alerts from the shared
store and sends what the previous holder left unsent; on losing it, it stops evaluating.
Every process answers reads from the store; an acknowledgement made on a process without the
lease travels on the bus (``alerts.requests`` / ``alerts.replies``) to the holder, which
applies it, so alert state has one writer.

Pack defaults: at start each pack rule is written when no rule of that id is stored, or
when the stored one came from the pack itself (so pack upgrades apply). A rule of the same
id loaded from a file or through the API keeps its edits; deleting a pack default leaves a
tombstone, so it stays deleted across restarts (PUT it to bring it back).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from riskcast.alerts.admin import Admin
from riskcast.alerts.engine import Engine, Signal
from riskcast.alerts.lifecycle import Lifecycle, Step
from riskcast.alerts.memory import MemoryAlertStore
from riskcast.alerts.notifiers import Notifier, default_notifiers
from riskcast.alerts.outbox import Outbox
from riskcast.alerts.records import (
    Alert,
    AlertQuery,
    Change,
    Feedback,
    NamedRoute,
    StoredRule,
    Transition,
)
from riskcast.alerts.rules import Drift, parse_rule
from riskcast.alerts.settings import AlertSettings
from riskcast.alerts.sqlite import SqliteAlertStore
from riskcast.alerts.store import AlertStore
from riskcast.bus.base import Bus
from riskcast.cluster.lease import Lease, SoleLease
from riskcast.core.clock import now_us
from riskcast.core.events import Event
from riskcast.core.sites import Site
from riskcast.exceptions import ConflictError, NotFoundError, OverloadedError, StorageError
from riskcast.packs.base import Pack

__all__ = ["AlertService", "shared_state"]

log = logging.getLogger(__name__)
#: Condition changes turned into transitions between two turns of the event loop.
_SIGNALS_PER_SLICE = 250
#: Channels carrying acknowledgements from processes without the lease to its holder.
REQUESTS, REPLIES = "alerts.requests", "alerts.replies"
#: Seconds a process without the lease waits for the holder to answer a request.
_REQUEST_TIMEOUT = 10.0


def shared_state(storage: object, lease_interval: float = 1.0) -> dict[str, Any]:
    """The ``store`` and ``lease`` of processes sharing ``storage``: when it is PostgreSQL,
    the alert store in its database and schema and a lease on an advisory lock there;
    otherwise nothing (the defaults: SQLite or memory, one process alone)."""
    url = getattr(storage, "url", "")
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        return {}
    from riskcast.alerts.postgres import PostgresAlertStore
    from riskcast.cluster.postgres import PostgresLease

    schema = str(getattr(storage, "schema", "riskcast"))
    return {"store": PostgresAlertStore(url, schema=schema),
            "lease": PostgresLease(url, f"{schema}.alerts", interval=lease_interval)}


class AlertService(Admin):
    """Alerting for one process. ``store`` defaults to SQLite at ``<data_dir>/alerts.db``
    (memory when ``data_dir`` is None); ``notifiers`` replace the built-in ones by route
    type; ``clock`` returns microseconds (tests pass a fake one and call :meth:`tick`);
    ``lease`` decides which process evaluates (default: this one, alone); ``drift`` measures
    ``drift`` conditions at a site (the runtime passes the pipeline's
    :meth:`~riskcast.pipeline.predictions.OnlinePredictions.drift_measure`)."""

    def __init__(self, *, bus: Bus, sites: Callable[[], Mapping[str, Site]],
                 packs: Iterable[Pack], data_dir: Path | None,
                 clock: Callable[[], int] = now_us, store: AlertStore | None = None,
                 notifiers: Mapping[str, Notifier] | None = None,
                 settings: AlertSettings | None = None,
                 rng: random.Random | None = None, lease: Lease | None = None,
                 drift: Callable[[Drift, str], float | None] | None = None) -> None:
        self.settings = settings or AlertSettings()
        self.bus = bus
        self.sites = sites
        self.packs = list(packs)
        self.clock = clock
        if store is None:
            store = (MemoryAlertStore() if data_dir is None else SqliteAlertStore(
                Path(data_dir) / "alerts.db", synchronous=self.settings.sqlite_synchronous))
        self.store = store
        self.notifiers = {**default_notifiers(), **(notifiers or {})}
        #: The measure of ``drift`` conditions (a served model's recent feature rows at a site
        #: against its training reference); without it drift rules never fire.
        self.drift = drift
        self.engine = Engine(sites, ring_size=self.settings.ring_size, drift=drift)
        self.lifecycle = Lifecycle(sites, group_wait_us=self.settings.us("group_wait"),
                                   default_routes=self.settings.default_routes)
        self.outbox = Outbox(self.store, self.notifiers, clock,
                             max_group=self.settings.max_group, rng=rng)
        self.stored_rules: dict[str, StoredRule] = {}
        self.named_routes: dict[str, NamedRoute] = {}
        self._lock = asyncio.Lock()
        self._queue: deque[dict[str, Any]] = deque()
        self._queued = asyncio.Event()
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[Any]] = []
        self._events: Any = None
        self._next_rules = self._next_sites = self._next_prune = 0
        self.lease: Lease = lease or SoleLease()
        #: Whether this process evaluates (holds the lease).
        self.leader = False
        self._leader_tasks: list[asyncio.Task[Any]] = []
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        #: Readings events received, evaluated, dropped (queue full); failed store writes.
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.write_failures = 0
        #: Without the lease: alert counts by state read from the shared store (stats()).
        self._counted: dict[str, int] = {}
        self._next_count = self._next_resolved = 0

    # -- lifecycle of the service -----------------------------------------------------------

    async def start(self) -> None:
        """Open the store, write pack defaults, load rules, start listening and compete
        for the lease (alone: win it now, loading alerts and recovering the outbox)."""
        now = self.clock()
        await self.store.open()
        for notifier in self.notifiers.values():
            await notifier.start()
        self.engine.refresh_sites(now)
        await self._write_pack_defaults(now)
        await self.reload_rules(now, force=True)
        self.lifecycle.silences = await self.store.silences()
        self._events = self.bus.listen()  # registered now: nothing published after is missed
        self._spawn(self._listen(), "alerts-listen")
        if self.settings.tick > 0:
            self._spawn(self._timers(), "alerts-timers")
        await self.lease.start(self._on_lease)

    async def _on_lease(self, held: bool) -> None:
        if held:
            await self._lead()
        else:
            await self._follow()

    async def _lead(self) -> None:
        """Won the lease: take alert state from the store and start evaluating."""
        async with self._lock:
            now = self.clock()
            # Start from what the store holds, not from what this process last knew.
            self.engine = Engine(self.sites, ring_size=self.settings.ring_size,
                                 drift=self.drift)
            self.lifecycle = Lifecycle(self.sites, group_wait_us=self.settings.us("group_wait"),
                                       default_routes=self.settings.default_routes)
            self.engine.refresh_sites(now)
            self.lifecycle.apply(Change(alerts=await self.store.alerts()))
            await self.reload_rules(now, force=True)
            self.lifecycle.silences = await self.store.silences()
            for alert in self.lifecycle.open_alerts():
                self.engine.set_condition(alert.rule, alert.site, True, now)
            self._queue.clear()
            self.leader = True
        await self.outbox.recover()  # what a crash left unsent goes out now
        await self.outbox.run_due(now)
        self._leader_tasks = [
            asyncio.create_task(self._evaluate_loop(), name="alerts-evaluate"),
            asyncio.create_task(self.outbox.run(self.settings.outbox_poll),
                                name="alerts-outbox")]

    async def _follow(self) -> None:
        """Lost the lease (or closing): stop evaluating and sending."""
        self.leader = False
        tasks, self._leader_tasks = self._leader_tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.outbox.aclose()  # interrupted sends stay claimed: the next holder resends
        self._queue.clear()

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def aclose(self) -> None:
        """Stop the tasks; unsent notifications stay in the outbox for the next start."""
        await self.lease.aclose()
        await self._follow()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._events is not None and hasattr(self._events, "aclose"):
            await self._events.aclose()
            self._events = None
        await self.outbox.aclose()
        for notifier in self.notifiers.values():
            await notifier.aclose()
        await self.store.aclose()

    def stats(self) -> dict[str, Any]:
        """Counts for /api/v1/system and metrics. The holder of the lease counts the alerts
        it holds; another process (``role: follower``) those it last read from the shared
        store (open ones every 2 s, resolved ones every 30 s)."""
        by_state: Mapping[str, int] = (Counter(a.state for a in self.lifecycle.alerts.values())
                                       if self.leader else self._counted)
        return {
            "role": "leader" if self.leader else "follower",
            "rules": len(self.lifecycle.rules),
            "alerts": {s: by_state.get(s, 0)
                       for s in ("pending", "firing", "acknowledged", "resolved")},
            "evaluations": self.engine.evaluations, "readings": self.engine.readings,
            "events": {"received": self.received, "evaluated": self.processed,
                       "queued": len(self._queue), "dropped": self.dropped},
            "notifications": {"sent": self.outbox.sent, "failed": self.outbox.failed,
                              "dead": self.outbox.dead},
            "write_failures": self.write_failures,
            "leader": self.leader,
        }

    # -- evaluation ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        async for event in self._events:
            self.take(event)

    def take(self, event: Event) -> None:
        """Queue a bus event for evaluation if it carries readings and this process
        evaluates (never blocks); route requests to the lease holder and their replies."""
        data = event.data
        if event.channel in (REQUESTS, REPLIES) and isinstance(data, dict):
            self._take_message(event.channel, data)
            return
        if self.leader and event.channel.startswith("site.") and isinstance(data, dict) \
                and data.get("type") == "readings":
            self._queue.append(data)
            self.received += 1
            if len(self._queue) > self.settings.max_queued_events:
                self._queue.popleft()
                self.dropped += 1
            self._queued.set()

    async def _evaluate_loop(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self._queue:
                size = min(self.settings.max_batch_events, len(self._queue))
                batch = [self._queue.popleft() for _ in range(size)]
                try:
                    await self.evaluate(batch)
                except Exception:
                    log.exception("alert evaluation failed")
                async with self._progress:
                    self.processed += len(batch)
                    self._progress.notify_all()
                await asyncio.sleep(0)

    async def evaluate(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Evaluate ``readings`` event payloads now (the listen task calls this)."""
        async with self._lock:
            now = self.clock()
            signals = self.engine.ingest(events, now)
            if signals:
                await self._commit(await self._decide(signals, now), now, quiet=True)

    async def wait_evaluated(self, count: int, within: float = 10.0) -> None:
        """Wait until ``count`` readings events have been evaluated (or dropped) in all."""
        async with asyncio.timeout(within), self._progress:
            await self._progress.wait_for(lambda: self.processed + self.dropped >= count)

    async def tick(self, now: int | None = None) -> None:
        """Run the timers at ``now`` (default: the clock): ``no_data``, ``for``,
        escalations, repeats, silences that ended; then send what is due. Without the
        lease, only re-read rules and silences (what this process answers reads from)."""
        now = self.clock() if now is None else now
        if not self.leader:
            if now >= self._next_rules:
                async with self._lock:
                    await self.reload_rules(now)
                    self.lifecycle.silences = await self.store.silences()
            await self._count_from_store(now)
            return
        async with self._lock:
            if now >= self._next_rules:
                await self.reload_rules(now)
                # Silences made through another process.
                self.lifecycle.silences = await self.store.silences()
            if now >= self._next_sites or len(self.sites()) != self.engine.listed:
                gone = self.engine.refresh_sites(now)
                self._next_sites = now + self.settings.us("sites_reload")
                if gone:
                    await self._commit(self.lifecycle.close_sites(set(gone), now), now,
                                       quiet=True)
            signals = self.engine.check(now)
            if signals:
                await self._commit(await self._decide(signals, now), now, quiet=True)
            await self._commit(self.lifecycle.on_timers(now), now, quiet=True)
            if now >= self._next_prune:
                self._next_prune = now + 3_600_000_000
                await self.store.write(Change(
                    prune_sent_before=now - self.settings.us("sent_retention")))
        await self.outbox.run_due(now)

    async def _count_from_store(self, now: int) -> None:
        """A follower holds no alerts in memory: count the shared store's, the open ones
        (few) every 2 s, the resolved ones (they accumulate) every 30 s."""
        if now < self._next_count:
            return
        self._next_count = now + 2_000_000
        counts = {state: len(await self.store.alerts(AlertQuery(state=state)))
                  for state in ("pending", "firing", "acknowledged")}
        if now >= self._next_resolved:
            self._next_resolved = now + 30_000_000
            counts["resolved"] = len(await self.store.alerts(AlertQuery(state="resolved")))
        else:
            counts["resolved"] = self._counted.get("resolved", 0)
        self._counted = counts

    async def _timers(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick)
            try:
                await self.tick()
            except Exception:
                log.exception("alert timers failed")

    async def _decide(self, signals: Sequence[Signal], now: int) -> Step:
        """One step for many changes, decided in slices: the loop gets a turn between
        slices, and the store one transaction for all of them."""
        step = Step()
        for start in range(0, len(signals), _SIGNALS_PER_SLICE):
            if start:
                await asyncio.sleep(0)
            self.lifecycle.on_signals(signals[start:start + _SIGNALS_PER_SLICE], now, step)
        return step

    async def _commit(self, step: Step, now: int, *, quiet: bool = False) -> Change:
        """Write a step; then update memory, publish on ``alerts`` and wake the outbox. If
        the write fails, conditions are undone so the next evaluation tries again."""
        change = step.seal()
        if not change:
            return change
        try:
            await self.store.write(change)
        except StorageError:
            self.write_failures += 1
            for rule_id, site, was in step.undo:
                self.engine.set_condition(rule_id, site, was, now)
            if not quiet:
                raise
            log.exception("alert state not stored; will retry on the next evaluation")
            return Change()
        self.lifecycle.apply(change)
        for event in step.events:
            try:
                await self.bus.publish("alerts", event)
            except Exception:
                log.exception("publish on alerts failed")
        self.outbox.note(change.outbox)
        return change

    # -- rules ----------------------------------------------------------------------------

    async def _write_pack_defaults(self, now: int) -> None:
        stored, _ = await self.store.rules()
        by_id = {s.rule.id: s for s in stored}
        writes: list[StoredRule] = []
        for pack in self.packs:
            for i, raw in enumerate(pack.rules):
                try:
                    rule = parse_rule(raw, field=f"{pack.name}.rules[{i}]",
                                      known_packs={p.name for p in self.packs})
                except Exception as err:
                    log.error("pack %s: default rule %d is invalid, skipped: %s",
                              pack.name, i, err)
                    continue
                have = by_id.get(rule.id)
                if have is None or (have.source == "pack" and not have.deleted
                                    and have.rule != rule):
                    writes.append(StoredRule(rule=rule, source="pack", updated_at=now))
        if writes:
            await self.store.write(Change(rules=writes))

    async def reload_rules(self, now: int, *, force: bool = False) -> None:
        """Re-read rules and routes from the store and apply what changed. A forced reload
        without the lease (a rule just changed here) asks the holder to reload too."""
        self._next_rules = now + self.settings.us("rules_reload")
        if force and not self.lease.held and self._events is not None:
            try:
                await self.bus.publish(REQUESTS, {"type": "reload"})
            except Exception:
                log.exception("publish on %s failed", REQUESTS)
        stored, routes = await self.store.rules()
        by_id = {s.rule.id: s for s in stored}
        named = {r.name: r for r in routes}
        if not force and by_id == self.stored_rules and named == self.named_routes:
            return
        self.stored_rules, self.named_routes = by_id, named
        active = {i: s.rule for i, s in sorted(by_id.items())
                  if not s.deleted and s.rule.enabled}
        gone = set(self.lifecycle.rules) - set(active)
        self.lifecycle.configure(active, {n: r.route for n, r in named.items()})
        self.engine.refresh_sites(now)
        fresh = self.engine.set_rules(active.values(), now)
        for alert in self.lifecycle.open_alerts():
            if alert.rule in fresh:
                self.engine.set_condition(alert.rule, alert.site, True, now)
        for rule_id in sorted(gone):
            await self._commit(self.lifecycle.close_rule(rule_id, now, "rule removed"), now,
                               quiet=True)

    def rule_of(self, rule_id: str) -> StoredRule:
        stored = self.stored_rules.get(rule_id)
        if stored is None or stored.deleted:
            raise NotFoundError(f"no rule {rule_id!r}")
        return stored

    # -- alerts ---------------------------------------------------------------------------

    async def list_alerts(self, *, state: str | None = None, rule: str | None = None,
                          site: str | None = None, cursor: str | None = None,
                          limit: int = 100) -> tuple[list[Alert], str | None]:
        """A page of alerts by id, and the cursor of the next page (None at the end)."""
        found = await self.store.alerts(AlertQuery(state=state, rule=rule, site=site,
                                                   after=cursor, limit=limit + 1))
        more = len(found) > limit
        page = found[:limit]
        return page, (page[-1].id if more and page else None)

    async def get_alert(self, aid: str) -> tuple[Alert, list[Transition]]:
        found = await self.store.alerts(AlertQuery(id=aid))
        if not found:
            raise NotFoundError(f"no alert {aid!r}")
        return found[0], await self.store.transitions(aid)

    async def acknowledge(self, aid: str, *, by: str, comment: str = "") -> Alert:
        """Acknowledge a firing alert: escalation and repeats stop (idempotent). Without
        the lease, the holder does it (``OverloadedError`` when none answers in time)."""
        if not self.leader:
            return await self._ask_leader(aid, by, comment)
        async with self._lock:
            now = self.clock()
            await self._commit(self.lifecycle.acknowledge(aid, by, comment, now), now)
            return self.lifecycle.alerts[aid]

    async def add_feedback(self, aid: str, *, verdict: str, comment: str = "",
                           by: str = "") -> Feedback:
        found = await self.store.alerts(AlertQuery(id=aid))
        if not found:
            raise NotFoundError(f"no alert {aid!r}")
        return await self._store_feedback(found[0], verdict, comment, by)

    # -- requests to the lease holder -------------------------------------------------------

    async def _ask_leader(self, aid: str, by: str, comment: str) -> Alert:
        request = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request] = future
        try:
            await self.bus.publish(REQUESTS, {"type": "ack", "request": request, "id": aid,
                                              "by": by, "comment": comment})
            async with asyncio.timeout(_REQUEST_TIMEOUT):
                reply = await future
        except TimeoutError as err:
            raise OverloadedError("no process is evaluating alerts right now (the alerts "
                                  "lease is changing hands)", retry_after=2.0) from err
        finally:
            self._replies.pop(request, None)
        error = reply.get("error")
        if error == "not_found":
            raise NotFoundError(reply.get("message", f"no alert {aid!r}"))
        if error == "conflict":
            raise ConflictError(reply.get("message", f"alert {aid} cannot be acknowledged"))
        if error:
            raise StorageError(reply.get("message", "acknowledgement failed"))
        return msgspec.convert(reply["alert"], Alert)

    def _take_message(self, channel: str, data: dict[str, Any]) -> None:
        if channel == REPLIES:
            future = self._replies.get(str(data.get("request")))
            if future is not None and not future.done():
                future.set_result(data)
        elif self.leader and data.get("type") in ("ack", "reload"):
            work = self._answer(data) if data["type"] == "ack" else self._reload()
            task = asyncio.create_task(work, name="alerts-request")
            self._leader_tasks.append(task)
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        if task in self._leader_tasks:
            self._leader_tasks.remove(task)

    async def _reload(self) -> None:
        """Another process changed rules: read rules and silences now."""
        async with self._lock:
            await self.reload_rules(self.clock(), force=True)
            self.lifecycle.silences = await self.store.silences()

    async def _answer(self, data: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"type": "ack.reply", "request": data.get("request")}
        try:
            alert = await self.acknowledge(str(data.get("id")), by=str(data.get("by")),
                                           comment=str(data.get("comment", "")))
            reply["alert"] = msgspec.to_builtins(alert)
        except NotFoundError as err:
            reply.update(error="not_found", message=str(err))
        except ConflictError as err:
            reply.update(error="conflict", message=str(err))
        except Exception as err:
            log.exception("acknowledgement for another process failed")
            reply.update(error="failed", message=str(err))
        try:
            await self.bus.publish(REPLIES, reply)
        except Exception:
            log.exception("publish on %s failed", REPLIES)
