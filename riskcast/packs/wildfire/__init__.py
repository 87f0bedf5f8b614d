"""The wildfire pack: the Canadian Forest Fire Weather Index System from noon weather, live fire
danger per site, danger classes, and fire-occurrence models (seed 000, made real)."""

from __future__ import annotations

from riskcast.core.variables import Variable
from riskcast.packs.base import Pack
from riskcast.packs.wildfire.live import FireDanger
from riskcast.packs.wildfire.simulator import FireWeatherStation

_WEATHER = [
    Variable(name="temp_c", unit="°C", description="Air temperature",
             valid_min=-90, valid_max=60, soft_min=-60, soft_max=55),
    Variable(name="rh_pct", unit="%", description="Relative humidity",
             valid_min=0, valid_max=100, soft_min=1, soft_max=100),
    Variable(name="wind_kmh", unit="km/h", description="Wind speed at 10 m",
             valid_min=0, valid_max=400, soft_max=200),
    Variable(name="rain_mm", unit="mm", description="Precipitation since the last reading",
             valid_min=0, valid_max=2000, soft_max=300),
]


def _code(name: str, description: str, high: float) -> Variable:
    return Variable(name=name, unit="1", description=description, valid_min=0, valid_max=high,
                    derived=True)


_CODES = [
    _code("ffmc", "Fine Fuel Moisture Code (FWI System), at local noon", 101),
    _code("dmc", "Duff Moisture Code (FWI System), at local noon", 10_000),
    _code("dc", "Drought Code (FWI System), at local noon", 100_000),
    _code("isi", "Initial Spread Index (FWI System), at local noon", 1_000),
    _code("bui", "Buildup Index (FWI System), at local noon", 10_000),
    _code("fwi", "Fire Weather Index, at local noon", 1_000),
    _code("dsr", "Daily Severity Rating, at local noon", 100_000),
    _code("danger_class", "EFFIS danger class of the FWI: 0 very low, 1 low, 2 moderate, "
          "3 high, 4 very high, 5 extreme", 5),
]

#: Default alert rules, in the form the alerts engine loads: thresholds on the EFFIS class.
RULES = [
    {"id": "wildfire-fwi-high", "name": "Fire danger high", "selector": {"pack": "wildfire"},
     "condition": {"kind": "class", "series": "danger_class", "at_least": 3},
     "severity": "warning",
     "annotations": {"summary": "FWI {value} at {site}: EFFIS class high or above"}},
    {"id": "wildfire-fwi-very-high", "name": "Fire danger very high",
     "selector": {"pack": "wildfire"},
     "condition": {"kind": "class", "series": "danger_class", "at_least": 4},
     "severity": "critical",
     "annotations": {"summary": "FWI at {site}: EFFIS class very high or above"}},
    {"id": "wildfire-fwi-extreme", "name": "Fire danger extreme",
     "selector": {"pack": "wildfire"},
     "condition": {"kind": "class", "series": "danger_class", "at_least": 5},
     "severity": "critical",
     "annotations": {"summary": "FWI at {site}: EFFIS class extreme"}},
]

PACK = Pack(
    name="wildfire",
    title="Wildfire danger",
    description="The Canadian Forest Fire Weather Index System from noon weather; EFFIS danger "
                "classes; fire-occurrence models.",
    variables=_WEATHER + _CODES,
    derived=[v.name for v in _CODES],
    derivations=[FireDanger()],
    rules=RULES,
    simulator=FireWeatherStation.make,
    dashboard={"primary": "fwi", "class": "danger_class",
               "charts": ["fwi", "ffmc", "dmc", "dc", "temp_c", "rh_pct"]},
)
