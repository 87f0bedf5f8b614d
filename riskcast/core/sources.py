"""Sources and their priority: when two sources report the same site, variable and time, the
reading of the higher-priority source is kept.

A reading's ``source`` is free text such as ``sensor:buoy-7``, ``mqtt``, ``poller:cwc`` or
``model:river-forecast``; its *kind* is the part before the first ``:``. The default order is
sensor over agency over satellite over model; equal priorities replace (so a retried batch
stores the same data once, and a sensor can correct itself).
"""

from __future__ import annotations

from collections.abc import Mapping

#: Default priority per source kind; larger wins. MQTT and the simulator stand in for sensors,
#: HTTP pushes (``api``) and files rank with agencies unless they name a kind themselves.
DEFAULT_PRIORITY: Mapping[str, int] = {
    "sensor": 40, "mqtt": 40, "simulator": 40,
    "agency": 30, "poller": 30, "api": 30, "file": 30,
    "satellite": 20,
    "model": 10,
    "derived": 30,
}
UNKNOWN_PRIORITY = 25


class SourcePriority:
    """Priority of a source string, with a cache (sources repeat).

    >>> p = SourcePriority()
    >>> p("sensor:buoy-7") > p("agency:cwc") > p("satellite") > p("model:lstm")
    True
    >>> p(None) == p("api")
    True
    """

    def __init__(self, priorities: Mapping[str, int] | None = None,
                 unknown: int = UNKNOWN_PRIORITY) -> None:
        self.priorities = dict(DEFAULT_PRIORITY if priorities is None else priorities)
        self.unknown = unknown
        self._cache: dict[str | None, int] = {}

    def __call__(self, source: str | None) -> int:
        cached = self._cache.get(source)
        if cached is None:
            kind = "api" if source is None else source.split(":", 1)[0].strip().lower()
            cached = self.priorities.get(kind, self.unknown)
            if len(self._cache) < 10_000:
                self._cache[source] = cached
        return cached
