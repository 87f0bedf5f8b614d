"""The rule engine: conditions over the latest readings, vectorized per rule over sites.

The engine knows conditions only (is it true for this site now?), not the lifecycle: it
answers *changes* of a condition as :class:`Signal` objects, and the service turns them
into pending, firing and resolved alerts. State per rule is a few numpy arrays indexed by
site, so a batch of readings costs a handful of array operations per rule, not a Python
loop per site and rule.

- Readings update the latest value per (site, series); a reading older than the latest one
  of its series changes nothing (late corrections of older times do not re-fire).
- ``bad`` readings count as arrivals (for ``no_data``) but not as values.
- ``drift`` conditions are checked when the model's prediction for a site arrives; the
  measure comes from :attr:`Engine.drift` (the live pipeline's feature rows, through the
  ``sites`` provider), and without that hook they never fire.
- ``no_data`` is checked by :meth:`Engine.check` on the engine's clock: "arrival" is when
  the engine received the reading, so backfilled readings still prove the source alive. A
  site seen for the first time starts its ``no_data`` timer then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from riskcast.alerts.conditions import Compiled, matches
from riskcast.alerts.rules import Drift, Rule
from riskcast.alerts.windows import Ring
from riskcast.core.clock import parse_time
from riskcast.core.sites import Site

__all__ = ["Compiled", "Engine", "Signal", "matches"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_NONE = np.iinfo(np.int64).min


class Signal(NamedTuple):
    """A condition of ``rule`` changed for ``site`` at ``at`` (engine clock)."""

    rule: Rule
    site: str
    active: bool
    value: float | None
    variable: str | None
    at: int


class _Series:
    __slots__ = ("arrival", "time", "value")

    def __init__(self, capacity: int, now: int) -> None:
        self.value: F64 = np.full(capacity, np.nan)
        self.time: I64 = np.full(capacity, _NONE, dtype=np.int64)
        self.arrival: I64 = np.full(capacity, now, dtype=np.int64)

    def grow(self, capacity: int, first_seen: I64) -> None:
        extra = capacity - self.value.size
        if extra > 0:
            self.value = np.concatenate([self.value, np.full(extra, np.nan)])
            self.time = np.concatenate([self.time, np.full(extra, _NONE, np.int64)])
            self.arrival = np.concatenate([self.arrival, first_seen[-extra:]])


class Engine:
    """Conditions of every rule over every site; ``sites`` is looked up for new site ids."""

    def __init__(self, sites: Callable[[], Mapping[str, Site]], *, ring_size: int = 32,
                 drift: Callable[[Drift, str], float | None] | None = None) -> None:
        self._sites = sites
        self.ring_size = ring_size
        self.ids: list[str] = []
        self.site_of: list[Site | None] = []
        self.pos: dict[str, int] = {}
        self.capacity = 0
        self.first_seen: I64 = np.zeros(0, dtype=np.int64)
        self.rules: dict[str, Compiled] = {}
        self._by_series: dict[str, list[Compiled]] = {}
        self._no_data: list[Compiled] = []
        self._series: dict[str, _Series] = {}
        self._any = _Series(0, 0)
        self._rings: dict[tuple[str, int], Ring] = {}
        self._times: dict[str, int] = {}
        #: Site ids in the site table at the last refresh, and those deleted from it.
        self._listed: set[str] = set()
        self._gone: set[str] = set()
        #: The measure of a ``drift`` condition at a site (``None``: no verdict); the
        #: runtime passes the live pipeline's
        #: :meth:`riskcast.pipeline.predictions.OnlinePredictions.drift_measure`.
        self.drift = drift
        #: (rule, site) pairs evaluated so far.
        self.evaluations = 0
        self.readings = 0

    # -- sites and rules ------------------------------------------------------------------

    def refresh_sites(self, now: int) -> list[str]:
        """Take in sites created (or re-tagged) since the last call; answer the ids of
        sites deleted since then (no rule watches them any more)."""
        current = self._sites()
        for site_id, site in current.items():
            i = self.pos.get(site_id)
            if i is None:
                self._add_site(site_id, site, now)
            elif self.site_of[i] is not site:
                self.site_of[i] = site
                for c in self.rules.values():
                    c.mask[i] = matches(c.rule.selector, site_id, site)
        gone = sorted(self._listed - current.keys())
        for site_id in gone:
            i = self.pos[site_id]
            self.site_of[i] = None
            for c in self.rules.values():
                c.mask[i] = c.active[i] = False
        self._gone = (self._gone | set(gone)) - current.keys()
        self._listed = set(current)
        return gone

    @property
    def listed(self) -> int:
        """How many sites the site table held at the last refresh."""
        return len(self._listed)

    def _revive(self, site_id: str, i: int) -> None:
        """A deleted site reports again: watch it if it is back in the site table."""
        site = self._sites().get(site_id)
        if site is None:
            return
        self._gone.discard(site_id)
        self._listed.add(site_id)
        self.site_of[i] = site
        for c in self.rules.values():
            c.mask[i] = matches(c.rule.selector, site_id, site)

    def _add_site(self, site_id: str, site: Site | None, now: int) -> int:
        i = len(self.ids)
        if i >= self.capacity:
            self._grow(max(64, self.capacity * 2), now)
        self.ids.append(site_id)
        self.site_of.append(site)
        self.pos[site_id] = i
        self.first_seen[i] = now
        for s in (*self._series.values(), self._any):
            s.arrival[i] = now
        for c in self.rules.values():
            c.mask[i] = matches(c.rule.selector, site_id, site)
        return i

    def _grow(self, capacity: int, now: int) -> None:
        self.first_seen = np.concatenate(
            [self.first_seen, np.full(capacity - self.capacity, now, np.int64)])
        self.capacity = capacity
        for s in (*self._series.values(), self._any):
            s.grow(capacity, self.first_seen)
        for c in self.rules.values():
            c.grow(capacity)
        for ring in self._rings.values():
            ring.grow(capacity)

    def set_rules(self, rules: Iterable[Rule], now: int) -> set[str]:
        """Use these (enabled) rules; answers the ids compiled afresh (their conditions start
        false: restore them with :meth:`restore`). Unchanged rules keep their state."""
        fresh: set[str] = set()
        kept: dict[str, Compiled] = {}
        for rule in rules:
            old = self.rules.get(rule.id)
            if old is not None and old.rule == rule:
                kept[rule.id] = old
                continue
            c = Compiled(rule, self.capacity)
            for i, site_id in enumerate(self.ids):
                c.mask[i] = site_id not in self._gone and matches(
                    rule.selector, site_id, self.site_of[i])
            kept[rule.id] = c
            fresh.add(rule.id)
        self.rules = kept
        self._by_series = defaultdict(list)
        self._no_data = []
        rings: dict[tuple[str, int], Ring] = {}
        for c in kept.values():
            if c.no_data_us:
                self._no_data.append(c)
                if c.series is not None:
                    self._series_of(c.series, now)
                continue
            assert c.series is not None
            self._by_series[c.series].append(c)
            self._series_of(c.series, now)
            if c.window_us:
                key = (c.series, c.window_us)
                rings[key] = self._rings.get(key) or Ring(
                    c.window_us, size=self.ring_size, capacity=self.capacity)
        self._rings = rings
        return fresh

    def _series_of(self, name: str, now: int) -> _Series:
        s = self._series.get(name)
        if s is None:
            s = self._series[name] = _Series(self.capacity, now)
            s.arrival[:] = self.first_seen
        return s

    def set_condition(self, rule_id: str, site_id: str, active: bool, now: int) -> None:
        """Set whether a condition holds: ``True`` for an open alert restored after a
        restart (no new signal until it clears), or to undo a change that was not stored."""
        c = self.rules.get(rule_id)
        if c is None:
            return
        i = self.pos.get(site_id)
        if i is None:
            i = self._add_site(site_id, self._sites().get(site_id), now)
        c.active[i] = active

    def latest(self, site_id: str, series: str) -> tuple[float, int] | None:
        """The latest value and time of a series at a site, if the engine tracks it."""
        s, i = self._series.get(series), self.pos.get(site_id)
        if s is None or i is None or s.time[i] == _NONE:
            return None
        return float(s.value[i]), int(s.time[i])

    # -- evaluation -----------------------------------------------------------------------

    def ingest(self, events: Sequence[Mapping[str, Any]], now: int) -> list[Signal]:
        """Take ``readings`` event payloads (``{"type": "readings", "site", "readings"}``)
        and answer the conditions that changed."""
        # Plain lists of ints, strings and floats: no tuples per reading, which would feed
        # the garbage collector (it then crawls the whole heap, every few thousand).
        per: dict[str, tuple[list[int], list[str], list[float]]] = {
            name: ([], [], []) for name in self._series}
        bad: dict[str, list[int]] = {}
        seen: list[int] = []
        pos, get, gone = self.pos, per.get, self._gone
        for data in events:
            site_id = data.get("site")
            if data.get("type") != "readings" or not isinstance(site_id, str):
                continue
            i = pos.get(site_id)
            if i is None:
                i = self._add_site(site_id, self._sites().get(site_id), now)
            elif site_id in gone:
                self._revive(site_id, i)
            seen.append(i)
            for r in data.get("readings", ()):
                lists = get(r["variable"])
                if lists is None:
                    continue
                if r.get("quality") == "bad":
                    bad.setdefault(r["variable"], []).append(i)
                    continue
                lists[0].append(i)
                lists[1].append(r["time"])
                lists[2].append(r["value"])
        if seen:
            self._any.arrival[np.array(seen, dtype=np.int64)] = now
        signals: list[Signal] = []
        arrived = set(bad)
        for var, idx_list in bad.items():
            self._series[var].arrival[np.array(idx_list, dtype=np.int64)] = now
        for var, (il, tl, vl) in per.items():
            if not il:
                continue
            arrived.add(var)
            self.readings += len(il)
            idx = np.array(il, dtype=np.int64)
            t = np.array(self._parse_times(tl), dtype=np.int64)
            v = np.array(vl, dtype=np.float64)
            self._series[var].arrival[idx] = now
            for ri, rt, rv in _rounds(idx, t, v):
                self._apply(var, ri, rt, rv, now, signals)
        if seen and self._no_data:
            self._data_arrived(np.unique(np.array(seen, dtype=np.int64)), arrived, now,
                               signals)
        return signals

    def _parse_times(self, texts: list[str]) -> list[int]:
        """RFC 3339 texts to microseconds; a batch shares few distinct times, so each is
        parsed once (and cached across batches)."""
        cache = self._times
        missing = set(texts).difference(cache)
        if missing:
            if len(cache) + len(missing) > 100_000:
                cache.clear()
                missing = set(texts)
            for text in missing:
                cache[text] = parse_time(text)
        return list(map(cache.__getitem__, texts))

    def _apply(self, var: str, idx: I64, t: I64, v: F64, now: int,
               signals: list[Signal]) -> None:
        s = self._series[var]
        newer = t >= s.time[idx]
        if not newer.all():
            idx, t, v = idx[newer], t[newer], v[newer]
        s.time[idx] = t
        s.value[idx] = v
        for (series, _), ring in self._rings.items():
            if series == var:
                ring.insert(idx, t, v)
        for c in self._by_series.get(var, ()):
            take = c.mask[idx]
            ci, ct, cv = idx[take], t[take], v[take]
            if ci.size == 0:
                continue
            self.evaluations += int(ci.size)
            if c.drift is not None:
                measure = self._drift(c.drift, ci)
            elif c.window_us:
                measure = self._rings[(var, c.window_us)].change(ci, ct, cv)
            else:
                measure = cv
            was = c.active[ci]
            now_on = c.decide(was, measure)
            flipped = np.flatnonzero(was != now_on)
            if flipped.size:
                c.active[ci[flipped]] = now_on[flipped]
                for k in flipped.tolist():
                    signals.append(Signal(c.rule, self.ids[int(ci[k])], bool(now_on[k]),
                                          float(measure[k]), var, now))

    def _drift(self, condition: Drift, idx: I64) -> F64:
        out = np.full(idx.size, np.nan)
        if self.drift is not None:
            for k, i in enumerate(idx.tolist()):
                value = self.drift(condition, self.ids[i])
                if value is not None:
                    out[k] = value
        return out

    def _data_arrived(self, idx: I64, arrived: set[str], now: int,
                      signals: list[Signal]) -> None:
        """Readings arrived: ``no_data`` conditions of these sites clear."""
        for c in self._no_data:
            if c.series is not None and c.series not in arrived:
                continue
            if c.series is not None:
                cand = idx[self._series[c.series].arrival[idx] == now]
            else:
                cand = idx
            on = cand[c.active[cand] & c.mask[cand]]
            c.active[on] = False
            for i in on.tolist():
                signals.append(Signal(c.rule, self.ids[i], False, None, c.series, now))

    def check(self, now: int) -> list[Signal]:
        """Timers: ``no_data`` conditions that became true by ``now``."""
        signals: list[Signal] = []
        n = len(self.ids)
        for c in self._no_data:
            arrival = (self._any if c.series is None else self._series[c.series]).arrival[:n]
            mask = c.mask[:n]
            self.evaluations += int(mask.sum())
            stale = mask & (now - arrival >= c.no_data_us) & ~c.active[:n]
            for i in np.flatnonzero(stale).tolist():
                c.active[i] = True
                silent_for = (now - int(arrival[i])) / 1e6
                signals.append(Signal(c.rule, self.ids[i], True, silent_for, c.series, now))
        return signals


def _rounds(idx: I64, t: I64, v: F64) -> Iterable[tuple[I64, I64, F64]]:
    """Split updates so each round has one reading per site, in time order per site."""
    if np.unique(idx).size == idx.size:
        yield idx, t, v
        return
    order = np.lexsort((t, idx))
    idx, t, v = idx[order], t[order], v[order]
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, idx.size]))
    rank = np.arange(idx.size) - group_start
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        yield idx[sel], t[sel], v[sel]
