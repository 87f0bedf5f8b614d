"""What operators do through the API: rules CRUD, silences, feedback and effectiveness,
dead letters. Mixed into :class:`~riskcast.alerts.service.AlertService`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from itertools import groupby
from typing import TYPE_CHECKING, Any

import msgspec

from riskcast.alerts.records import (
    Alert,
    Change,
    Feedback,
    Matcher,
    NamedRoute,
    OutboxUpdate,
    Silence,
    StoredRule,
)
from riskcast.alerts.routes import EmailRoute, WebhookRoute
from riskcast.alerts.rules import Rule, decode_error, parse_rule
from riskcast.alerts.silences import check_silence
from riskcast.alerts.views import dead_letter_view
from riskcast.core.clock import parse_duration, parse_time
from riskcast.exceptions import ConflictError, NotFoundError, ValidationError
from riskcast.feedback.effectiveness import WEEK_US, Effectiveness, effectiveness

if TYPE_CHECKING:
    from riskcast.alerts.lifecycle import Lifecycle, Step
    from riskcast.alerts.outbox import Outbox
    from riskcast.alerts.store import AlertStore
    from riskcast.packs.base import Pack

__all__ = ["Admin", "SilenceIn"]

_READ_ONLY = frozenset({"source", "updated_at"})


class SilenceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A silence as the API takes it: ``ends_at`` or ``duration`` (``2h``)."""

    matchers: list[Matcher] = []
    sites: list[str] = []
    starts_at: str | None = None
    ends_at: str | None = None
    duration: str | None = None
    comment: str = ""
    created_by: str = ""


class Admin:
    """Operator actions; the attributes below are the service's."""

    if TYPE_CHECKING:
        store: AlertStore
        lifecycle: Lifecycle
        outbox: Outbox
        clock: Callable[[], int]
        packs: list[Pack]
        stored_rules: dict[str, StoredRule]
        named_routes: dict[str, NamedRoute]
        _lock: asyncio.Lock

        async def reload_rules(self, now: int, *, force: bool = False) -> None: ...
        def rule_of(self, rule_id: str) -> StoredRule: ...
        async def _commit(self, step: Step, now: int, *, quiet: bool = False) -> Change: ...

    # -- rules ----------------------------------------------------------------------------

    def list_rules(self) -> list[StoredRule]:
        return [s for _, s in sorted(self.stored_rules.items()) if not s.deleted]

    def _parse(self, body: Any, rule_id: str | None = None) -> Rule:
        if not isinstance(body, dict):
            raise ValidationError("a rule is a JSON object", field=None)
        # what GET adds is read-only: a rule read back can be written back
        body = {k: v for k, v in body.items() if k not in _READ_ONLY}
        if rule_id is not None:
            if body.get("id", rule_id) != rule_id:
                raise ValidationError(f"id {body.get('id')!r} differs from the path's "
                                      f"{rule_id!r}", field="id")
            body = {**body, "id": rule_id}
        return parse_rule(body, known_routes=set(self.named_routes),
                          known_packs={p.name for p in self.packs})

    async def _save_rule(self, rule: Rule, now: int) -> StoredRule:
        old = self.stored_rules.get(rule.id)
        if old is not None:
            rule = _keep_secrets(rule, old.rule)
        stored = StoredRule(rule=rule, source="api", updated_at=now)
        await self.store.write(Change(rules=[stored]))
        await self.reload_rules(now, force=True)
        return stored

    async def create_rule(self, body: Any) -> StoredRule:
        """Create a rule; ConflictError if one with that id exists."""
        rule = self._parse(body)
        async with self._lock:
            have = self.stored_rules.get(rule.id)
            if have is not None and not have.deleted:
                raise ConflictError(f"rule {rule.id!r} exists; PUT replaces it")
            return await self._save_rule(rule, self.clock())

    async def put_rule(self, rule_id: str, body: Any) -> tuple[StoredRule, bool]:
        """Create or replace a rule; answers it and whether it was created."""
        rule = self._parse(body, rule_id)
        async with self._lock:
            have = self.stored_rules.get(rule_id)
            created = have is None or have.deleted
            return await self._save_rule(rule, self.clock()), created

    async def delete_rule(self, rule_id: str) -> None:
        """Delete a rule (its open alerts resolve quietly); a pack default leaves a
        tombstone so the next start does not bring it back."""
        async with self._lock:
            stored = self.rule_of(rule_id)
            now = self.clock()
            pack_ids = {str(r.get("id")) for p in self.packs for r in p.rules}
            if stored.source == "pack" or rule_id in pack_ids:
                change = Change(rules=[msgspec.structs.replace(
                    stored, deleted=True, source="api", updated_at=now)])
            else:
                change = Change(delete_rules=[rule_id])
            await self.store.write(change)
            await self.reload_rules(now, force=True)

    # -- feedback -------------------------------------------------------------------------

    async def _store_feedback(self, alert: Alert, verdict: str, comment: str,
                              by: str) -> Feedback:
        try:
            record = msgspec.convert({
                "id": uuid.uuid4().hex, "alert": alert.id, "rule": alert.rule,
                "site": alert.site, "verdict": verdict, "comment": comment, "by": by,
                "at": self.clock(), "episode": alert.episodes}, Feedback)
        except msgspec.ValidationError as err:
            raise decode_error(err) from err
        await self.store.write(Change(feedback=[record]))
        return record

    async def effectiveness(self, rule_id: str, *, weeks: int | None = None) -> Effectiveness:
        """Precision of a rule's alerts from feedback, its Wilson bound, the weekly trend
        (the last ``weeks`` weeks when given)."""
        if rule_id not in self.stored_rules:
            raise NotFoundError(f"no rule {rule_id!r}")
        found = await self.store.feedback(rule=rule_id)
        since = None if weeks is None else self.clock() - weeks * WEEK_US
        return effectiveness([(f.at, f.verdict) for f in found], since=since)

    # -- silences -------------------------------------------------------------------------

    def _silence(self, body: Any, sid: str, created_at: int | None = None) -> Silence:
        try:
            s = msgspec.convert(body, SilenceIn)
        except msgspec.ValidationError as err:
            raise decode_error(err) from err
        now = self.clock()
        starts = parse_time(s.starts_at, field="starts_at") if s.starts_at else now
        if s.ends_at is not None:
            ends = parse_time(s.ends_at, field="ends_at")
        elif s.duration is not None:
            ends = starts + parse_duration(s.duration, field="duration")
        else:
            raise ValidationError("give ends_at or duration", field="ends_at")
        return check_silence(Silence(
            id=sid, matchers=s.matchers, sites=s.sites, starts_at=starts, ends_at=ends,
            comment=s.comment, created_by=s.created_by,
            created_at=now if created_at is None else created_at))

    async def _save_silence(self, silence: Silence) -> Silence:
        async with self._lock:
            await self.store.write(Change(silences=[silence]))
            self.lifecycle.silences = await self.store.silences()
        return silence

    async def list_silences(self) -> list[Silence]:
        return list(self.lifecycle.silences)

    async def get_silence(self, sid: str) -> Silence:
        for silence in self.lifecycle.silences:
            if silence.id == sid:
                return silence
        raise NotFoundError(f"no silence {sid!r}")

    async def create_silence(self, body: Any) -> Silence:
        return await self._save_silence(self._silence(body, uuid.uuid4().hex))

    async def put_silence(self, sid: str, body: Any) -> Silence:
        old = await self.get_silence(sid)
        return await self._save_silence(self._silence(body, sid, old.created_at))

    async def expire_silence(self, sid: str) -> Silence:
        """End a silence now (it stays listed, as expired)."""
        old = await self.get_silence(sid)
        now = self.clock()
        if old.ends_at <= now:
            return old
        return await self._save_silence(msgspec.structs.replace(
            old, starts_at=min(old.starts_at, now), ends_at=now))

    # -- dead letters ---------------------------------------------------------------------

    async def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self.store.outbox({"dead"})
        rows.sort(key=lambda r: (r.message or "", r.created_at))
        out = [dead_letter_view(list(group))
               for _, group in groupby(rows, key=lambda r: r.message or "")]
        out.sort(key=lambda m: m["created_at"], reverse=True)
        return out[:limit]

    async def retry_dead(self, key: str) -> None:
        """Send a dead message again (same key), with a fresh set of attempts."""
        rows = [r for r in await self.store.outbox({"dead"}) if r.message == key]
        if not rows:
            raise NotFoundError(f"no dead message {key!r}")
        now = self.clock()
        await self.store.write(Change(outbox_updates=[OutboxUpdate.of(
            r, status="claimed", attempts=0, due_at=now) for r in rows]))
        self.outbox.note_retry(key, rows[0].group, now)


def _keep_secrets(rule: Rule, old: Rule) -> Rule:
    """A rule read back from the API carries ``***`` for secrets: keep the stored ones."""
    routes = list(rule.routes)
    changed = False
    for i, route in enumerate(routes):
        before = old.routes[i] if i < len(old.routes) else None
        if isinstance(route, WebhookRoute) and route.secret == "***" \
                and isinstance(before, WebhookRoute):
            routes[i] = msgspec.structs.replace(route, secret=before.secret)
            changed = True
        if isinstance(route, EmailRoute) and route.password == "***" \
                and isinstance(before, EmailRoute):
            routes[i] = msgspec.structs.replace(route, password=before.password)
            changed = True
    return msgspec.structs.replace(rule, routes=routes) if changed else rule
