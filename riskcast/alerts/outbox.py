"""The outbox worker: sends what the store holds, at least once, grouped, with retries.

1. The service writes ``pending`` rows in the same transaction as the state change, due
   after the grouping window.
2. When the earliest pending row of a group (one rule, one route) is due, every pending
   row of that group is *claimed* into one message (up to ``max_group`` alerts per
   message); its key, derived from the row ids, is the idempotency key.
3. The message is sent; its rows become ``sent``. On a failure worth retrying they stay
   claimed and fall due again after an exponential backoff with jitter; after the route's
   last attempt (or a final failure) they become ``dead``: the dead-letter list.

A crash anywhere leaves rows ``pending`` or ``claimed``; on start both are simply due, and
a claimed message goes out again with the same key and body.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence

import msgspec

from riskcast.alerts.notifiers.base import DeliveryError, Message, Notifier
from riskcast.alerts.records import Change, OutboxItem, OutboxUpdate
from riskcast.alerts.store import AlertStore
from riskcast.alerts.views import payload_view
from riskcast.core.clock import parse_duration

__all__ = ["Outbox", "backoff_us", "message_key"]

log = logging.getLogger(__name__)


def message_key(ids: Sequence[str]) -> str:
    """The idempotency key of a message made of these outbox rows (order does not matter).

    >>> message_key(["b", "a"]) == message_key(["a", "b"])
    True
    """
    digest = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    return f"rc-{digest[:32]}"


def backoff_us(attempt: int, base_us: int, cap_us: int, rng: random.Random) -> int:
    """The wait after failed attempt ``attempt`` (1, 2, ...): base · 2^(attempt-1), capped,
    then "equal jitter" (half fixed, half uniform), so receivers are not hit in lockstep.

    >>> rng = random.Random(0)
    >>> [backoff_us(n, 1_000_000, 8_000_000, rng) // 100_000 for n in (1, 2, 3, 4, 5)]
    [9, 17, 28, 50, 60]
    """
    delay: int = min(cap_us, base_us * 2 ** max(0, attempt - 1))
    return delay // 2 + int(rng.random() * (delay - delay // 2))


class Outbox:
    """Sends due messages; each in its own task, so one slow receiver delays nobody else."""

    def __init__(self, store: AlertStore, notifiers: Mapping[str, Notifier],
                 clock: Callable[[], int], *, max_group: int = 500,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.notifiers = notifiers
        self.clock = clock
        self.max_group = max_group
        self.rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        #: Pending groups and when the earliest row of each falls due.
        self._groups: dict[str, int] = {}
        #: Claimed messages waiting for another attempt: key -> (due, group).
        self._retries: dict[str, tuple[int, str]] = {}
        self.sent = 0
        self.failed = 0
        self.dead = 0
        #: Messages sent, by key, for tests and ``stats`` (bounded).
        self.last_sent: list[str] = []

    @property
    def pending(self) -> int:
        """Groups waiting to be sent, messages waiting for a retry and sends in flight."""
        return len(self._groups) + len(self._retries) + len(self._inflight)

    def wake(self) -> None:
        """Time moved, or rows were noted: look again soon."""
        self._wake.set()

    def note(self, rows: Sequence[OutboxItem]) -> None:
        """Rows just written (pending): remember when their groups fall due."""
        for row in rows:
            due = self._groups.get(row.group)
            self._groups[row.group] = row.due_at if due is None else min(due, row.due_at)
        if rows:
            self.wake()

    def note_retry(self, key: str, group: str, due_at: int) -> None:
        """A claimed message (``key``) is to be sent again at ``due_at``."""
        self._retries[key] = (due_at, group)
        self.wake()

    async def recover(self) -> None:
        """Learn what the store holds unsent (after a restart: what a crash left)."""
        async with self._lock:
            self._groups.clear()
            self._retries.clear()
            self.note(await self.store.outbox({"pending"}))
            for row in await self.store.outbox({"claimed"}):
                if row.message is not None:
                    due, _ = self._retries.get(row.message, (row.due_at, row.group))
                    self._retries[row.message] = (min(due, row.due_at), row.group)

    async def run(self, poll: float = 1.0) -> None:
        """Forever: send what is due, then wait for a wake-up or ``poll`` seconds."""
        while True:
            try:
                await self.run_due(self.clock())
            except Exception:
                log.exception("outbox pass failed")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as the event is set, and the task would then never stop.
            try:
                async with asyncio.timeout(poll):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def run_due(self, now: int) -> int:
        """Claim due groups and start sending every due message; answer how many started."""
        async with self._lock:
            messages = await self._claim(now)
            retry = [k for k, (due, _) in self._retries.items()
                     if due <= now and k not in self._inflight]
            if retry:
                groups = {self._retries[k][1] for k in retry}
                for row in await self.store.outbox({"claimed"}, groups=groups):
                    if row.message in retry:
                        messages.setdefault(row.message, []).append(row)
                for key in retry:
                    del self._retries[key]
            for key, rows in messages.items():
                task = asyncio.create_task(self._send(key, rows), name=f"alerts-send-{key}")
                self._inflight[key] = task
                task.add_done_callback(self._finished)
            return len(messages)

    def _finished(self, task: asyncio.Task[None]) -> None:
        for key, running in list(self._inflight.items()):
            if running is task:
                del self._inflight[key]

    async def drain(self) -> None:
        """Wait for the messages being sent now."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop sending; interrupted messages stay claimed and go out on the next start."""
        for task in list(self._inflight.values()):
            task.cancel()
        await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    async def _claim(self, now: int) -> dict[str, list[OutboxItem]]:
        """Claim every pending row of the groups due by ``now``: messages by key."""
        due = [g for g, at in self._groups.items() if at <= now]
        if not due:
            return {}
        for group in due:
            del self._groups[group]
        groups: dict[str, list[OutboxItem]] = {}
        for row in await self.store.outbox({"pending"}, groups=due):
            groups.setdefault(row.group, []).append(row)
        messages: dict[str, list[OutboxItem]] = {}
        claims: list[OutboxUpdate] = []
        for rows in groups.values():
            rows.sort(key=lambda r: (r.created_at, r.id))
            for start in range(0, len(rows), self.max_group):
                chunk = rows[start:start + self.max_group]
                key = message_key([r.id for r in chunk])
                messages[key] = [msgspec.structs.replace(r, status="claimed", message=key,
                                                         due_at=now) for r in chunk]
                claims += [OutboxUpdate.of(r) for r in messages[key]]
        if claims:
            await self.store.write(Change(outbox_updates=claims))
        return messages

    async def _send(self, key: str, rows: list[OutboxItem]) -> None:
        first = rows[0]
        route = first.route
        message = Message(key=key, rule=first.rule, route=first.route_name,
                          rule_name=str(first.payload.get("rule_name", first.rule)),
                          severity=str(first.payload.get("severity", "")),
                          alerts=[{**payload_view(r.payload), "event": r.event} for r in rows])
        attempt = first.attempts + 1
        error: DeliveryError | None = None
        notifier = self.notifiers.get(msgspec.to_builtins(route)["type"])
        try:
            if notifier is None:
                raise DeliveryError(f"no notifier for route type of {first.route_name!r}",
                                    retryable=False)
            async with asyncio.timeout(parse_duration(route.timeout) / 1e6):
                await notifier.send(route, message, attempt=attempt)
        except DeliveryError as err:
            error = err
        except TimeoutError:
            error = DeliveryError(f"no answer within {route.timeout}")
        except Exception as err:
            error = DeliveryError(f"{type(err).__name__}: {err}")
        done = self.clock()
        if error is None:
            update = [OutboxUpdate.of(r, status="sent", sent_at=done, attempts=attempt,
                                      last_error=None) for r in rows]
            self.sent += 1
            self.last_sent = [*self.last_sent[-99:], key]
        elif error.retryable and attempt < route.attempts:
            self.failed += 1
            wait = backoff_us(attempt, parse_duration(route.backoff),
                              parse_duration(route.max_backoff), self.rng)
            if error.retry_after is not None:
                wait = max(wait, int(error.retry_after * 1e6))
            update = [OutboxUpdate.of(r, attempts=attempt, last_error=str(error),
                                      due_at=done + wait) for r in rows]
            self.note_retry(key, first.group, done + wait)
            log.warning("notification %s to %s failed (attempt %d of %d): %s", key,
                        first.route_name, attempt, route.attempts, error)
        else:
            self.failed += 1
            self.dead += 1
            update = [OutboxUpdate.of(r, status="dead", attempts=attempt,
                                      last_error=str(error)) for r in rows]
            log.error("notification %s to %s is dead after %d attempt(s): %s", key,
                      first.route_name, attempt, error)
        await self.store.write(Change(outbox_updates=update))
