"""Conditions compiled for evaluation: numbers parsed once, state arrays per site."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from riskcast.alerts.rules import ClassCondition, Drift, NoData, Rate, Rule, Selector
from riskcast.core.clock import parse_duration
from riskcast.core.sites import Site

__all__ = ["Compiled", "matches"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


def matches(selector: Selector, site_id: str, site: Site | None) -> bool:
    """Whether a selector takes this site (unknown sites match only id-free selectors)."""
    if selector.sites and site_id not in selector.sites:
        return False
    if site is None:
        return selector.pack is None and not selector.tags
    if selector.pack is not None and site.pack != selector.pack:
        return False
    return all(site.tags.get(k) == v for k, v in selector.tags.items())


class Compiled:
    """A rule ready to evaluate: parsed numbers and per-site state arrays."""

    def __init__(self, rule: Rule, capacity: int) -> None:
        c = rule.condition
        self.rule = rule
        self.for_us = parse_duration(rule.for_)
        self.series = c.series
        self.no_data_us = parse_duration(c.after) if isinstance(c, NoData) else 0
        self.window_us = parse_duration(c.window) if isinstance(c, Rate) else 0
        self.at_least: int | None = None
        self.any_of: I64 | None = None
        self.up = True
        self.fire = self.clear = 0.0
        #: A drift condition: its measure comes from the engine's ``drift`` hook.
        self.drift: Drift | None = c if isinstance(c, Drift) else None
        if isinstance(c, ClassCondition):
            self.at_least = c.at_least
            self.any_of = np.array(c.any_of, dtype=np.int64) if c.any_of else None
        elif isinstance(c, Drift):
            self.fire = c.threshold
            self.clear = c.clear_below if c.clear_below is not None else c.threshold
        elif not isinstance(c, NoData):
            self.up = c.above is not None
            if c.above is not None:
                self.fire = c.above
                self.clear = c.clear_below if c.clear_below is not None else c.above
            else:
                assert c.below is not None
                self.fire = c.below
                self.clear = c.clear_above if c.clear_above is not None else c.below
        self.mask: B = np.zeros(capacity, dtype=np.bool_)
        self.active: B = np.zeros(capacity, dtype=np.bool_)

    def grow(self, capacity: int) -> None:
        extra = capacity - self.mask.size
        if extra > 0:
            self.mask = np.concatenate([self.mask, np.zeros(extra, np.bool_)])
            self.active = np.concatenate([self.active, np.zeros(extra, np.bool_)])

    def decide(self, was: B, measure: F64) -> B:
        """The condition after ``measure``, given whether it held (hysteresis); a NaN
        measure leaves it as it was."""
        if self.at_least is not None or self.any_of is not None:
            cls = np.rint(np.nan_to_num(measure, nan=-1.0)).astype(np.int64)
            if self.any_of is not None:
                now: B = np.isin(cls, self.any_of)
            else:
                now = cls >= (self.at_least or 0)
        elif self.up:
            now = np.where(was, measure >= self.clear, measure >= self.fire)
        else:
            now = np.where(was, measure <= self.clear, measure <= self.fire)
        out: B = np.where(np.isnan(measure), was, now)
        return out
