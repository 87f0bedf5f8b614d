"""Polled HTTP JSON sources: a generic mapping, and presets for public agency formats.

A :class:`JsonPoller` takes a URL and a mapping from the JSON it returns to readings:

- ``items``: dotted path to the list of records (empty: the document is the list);
- ``site``: path of the site id in a record, or ``site_id`` for one fixed site;
- ``time``: path of the time (RFC 3339 or epoch seconds; empty: time of the poll);
- long records: ``variable`` and ``value`` paths; wide records: ``variables``, a map of
  riskcast variable to the path of its value.

A path is dot-separated keys and list indexes (``date.utc``, ``values.0.value``). A record the
mapping cannot read is refused alone, with its reason, like a bad item over HTTP.

Preset ``usgs-iv``: the USGS Water Services Instantaneous Values service
(``https://waterservices.usgs.gov/nwis/iv/?format=json&sites=...&parameterCd=...``, the
WaterML-as-JSON layout ``value.timeSeries[].{sourceInfo.siteCode[0].value,
variable.variableCode[0].value, values[0].value[].{value, dateTime}}``), with USGS parameter
codes mapped to the water pack's variables (:data:`USGS_PARAMETERS`) and the site id
``usgs-<site number>``. USGS marks missing values with ``noDataValue`` (-999999), skipped here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from riskcast.core.clock import from_us, parse_time
from riskcast.core.readings import ReadingIn
from riskcast.exceptions import ConfigError, ValidationError

log = logging.getLogger(__name__)

#: USGS parameter code -> riskcast variable (water pack) for the ``usgs-iv`` preset.
USGS_PARAMETERS: Mapping[str, str] = {
    "00010": "water_temp_c",       # temperature, water, °C
    "00095": "conductivity_uscm",  # specific conductance at 25 °C, µS/cm
    "00300": "do_mgl",             # dissolved oxygen, mg/L
    "00301": "do_sat_pct",         # dissolved oxygen, % of saturation
    "00400": "ph",                 # pH, standard units
    "63680": "turbidity_ntu",      # turbidity, FNU (formazin; reported here as NTU-equivalent)
}


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted path of keys and list indexes; KeyError when absent.

    >>> get_path({"a": [{"b": 3}]}, "a.0.b")
    3
    """
    if not path:
        return obj
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)]
        elif isinstance(obj, dict):
            obj = obj[part]
        else:
            raise KeyError(part)
    return obj


def _time(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return from_us(parse_time(str(value)))


@dataclass
class JsonMapping:
    """How records of a JSON document become readings (see the module docstring)."""

    items: str = ""
    site: str = ""
    site_id: str | None = None
    time: str = ""
    variable: str = ""
    value: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (self.site or self.site_id):
            raise ConfigError("poller mapping: give site (a path) or site_id")
        if not self.variables and not (self.variable and self.value):
            raise ConfigError("poller mapping: give variable and value paths, or variables")

    def readings(self, document: Any) -> tuple[list[ReadingIn], list[str]]:
        """The readings of a document, and why records that could not be read were refused."""
        records = get_path(document, self.items)
        if not isinstance(records, list):
            raise ValidationError(f"items path {self.items!r} is not a list", field="items")
        out: list[ReadingIn] = []
        refused: list[str] = []
        for index, record in enumerate(records):
            try:
                site = self.site_id or str(get_path(record, self.site))
                stamp = _time(get_path(record, self.time)) if self.time else None
                pairs = ([(str(get_path(record, self.variable)), get_path(record, self.value))]
                         if not self.variables else
                         [(var, get_path(record, path)) for var, path in self.variables.items()])
                for variable, value in pairs:
                    if value is None:
                        continue
                    out.append(ReadingIn(site=site, variable=variable, value=float(value),
                                         time=stamp))
            except (KeyError, IndexError) as err:
                refused.append(f"record {index}: no {err.args[0]!r}")
            except (TypeError, ValueError, ValidationError) as err:
                refused.append(f"record {index}: {err}")
        return out, refused


def usgs_iv_readings(document: Any, parameters: Mapping[str, str] = USGS_PARAMETERS
                     ) -> list[ReadingIn]:
    """Readings from a USGS Instantaneous Values JSON document (the ``usgs-iv`` preset)."""
    out: list[ReadingIn] = []
    for series in get_path(document, "value.timeSeries"):
        code = get_path(series, "variable.variableCode.0.value")
        variable = parameters.get(code)
        if variable is None:
            continue
        site = "usgs-" + str(get_path(series, "sourceInfo.siteCode.0.value"))
        missing = get_path(series, "variable").get("noDataValue")
        for block in series.get("values", []):
            for point in block.get("value", []):
                try:
                    value = float(point["value"])
                except (KeyError, TypeError, ValueError):
                    continue
                if missing is not None and value == float(missing):
                    continue
                out.append(ReadingIn(site=site, variable=variable, value=value,
                                     time=_time(point["dateTime"])))
    return out


class JsonPoller:
    """A URL fetched as JSON and mapped to readings; the coordinator does the rest."""

    def __init__(self, name: str, url: str, *, interval: float = 300.0, timeout: float = 30.0,
                 mapping: JsonMapping | None = None, preset: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        if (mapping is None) == (preset is None):
            raise ConfigError(f"poller {name}: give a mapping or a preset, not both")
        if preset is not None and preset != "usgs-iv":
            raise ConfigError(f"poller {name}: unknown preset {preset!r} (known: usgs-iv)")
        self.name = name
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.mapping = mapping
        self.preset = preset
        self.headers = dict(headers or {})
        #: Records the mapping could not read, and the latest reason.
        self.refused = 0
        self.last_refusal: str | None = None

    async def fetch(self, client: httpx.AsyncClient) -> list[ReadingIn]:
        response = await client.get(self.url, headers=self.headers, timeout=self.timeout)
        response.raise_for_status()
        document = msgspec.json.decode(response.content)
        if self.preset == "usgs-iv":
            return usgs_iv_readings(document)
        assert self.mapping is not None
        items, refused = self.mapping.readings(document)
        if refused:
            self.refused += len(refused)
            self.last_refusal = refused[-1]
            log.warning("poller %s: %d records refused, e.g. %s", self.name, len(refused),
                        refused[0])
        return items

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JsonPoller:
        """A poller from a settings entry (``[[pollers]]`` in the TOML file)."""
        from riskcast.core.clock import parse_duration

        known = {"name", "url", "interval", "timeout", "preset", "headers", "mapping"}
        unknown = set(config) - known
        if unknown:
            raise ConfigError(f"poller: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        try:
            name, url = str(config["name"]), str(config["url"])
        except KeyError as err:
            raise ConfigError(f"poller: {err.args[0]} is required") from err
        mapping = config.get("mapping")
        return cls(name, url,
                   interval=parse_duration(str(config.get("interval", "5m"))) / 1e6,
                   timeout=parse_duration(str(config.get("timeout", "30s"))) / 1e6,
                   mapping=JsonMapping(**mapping) if mapping is not None else None,
                   preset=config.get("preset"), headers=config.get("headers"))


