"""The wildfire pack: the Canadian Forest Fire Weather Index System from noon weather, live fire
danger per site, danger classes, and fire-occurrence models (seed 000, made real)."""

from __future__ import annotations

from riskcast.core.variables import Variable
from riskcast.packs.base import Pack, ServedModel
from riskcast.packs.generic import VARIABLES as GENERIC_VARIABLES
from riskcast.packs.wildfire.live import FireDanger
from riskcast.packs.wildfire.simulator import FireWeatherStation

# The noon weather, declared once in the generic pack (same names, units and ranges).
_WEATHER = [v for v in GENERIC_VARIABLES if v.name in ("temp_c", "rh_pct", "wind_kmh", "rain_mm")]


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
    # Written by the live pipeline from the production version of `wildfire-occurrence`.
    _code("pred_wildfire_occurrence", "P(fire) from the production version of the "
          "wildfire-occurrence model on the site's latest weather (or FWI codes)", 1),
]

#: Default alert rules, in the form the alerts engine loads: thresholds on the EFFIS class.
RULES = [
    {"id": "wildfire-fwi-high", "name": "Fire danger high", "selector": {"pack": "wildfire"},
     "condition": {"kind": "class", "series": "danger_class", "at_least": 3},
     "severity": "warning",
     "annotations": {
         "summary": "Fire danger at {site_name}: EFFIS class {value} (high or above)"}},
    {"id": "wildfire-fwi-very-high", "name": "Fire danger very high",
     "selector": {"pack": "wildfire"},
     "condition": {"kind": "class", "series": "danger_class", "at_least": 4},
     "severity": "critical",
     "annotations": {
         "summary": "Fire danger at {site_name}: EFFIS class {value} (very high or above)"}},
    {"id": "wildfire-fwi-extreme", "name": "Fire danger extreme",
     "selector": {"pack": "wildfire"},
     "condition": {"kind": "class", "series": "danger_class", "at_least": 5},
     "severity": "critical",
     "annotations": {
         "summary": "Fire danger at {site_name}: EFFIS class {value} (extreme)"}},
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
    models=[ServedModel(name="wildfire-occurrence", variable="pred_wildfire_occurrence")],
    simulator=FireWeatherStation.make,
    dashboard={"primary": "fwi", "class": "danger_class",
               "charts": ["fwi", "ffmc", "dmc", "dc", "temp_c", "rh_pct",
                          "pred_wildfire_occurrence"]},
)
