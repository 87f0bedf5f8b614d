"""The water pack: river water quality as the NSF WQI, India's CPCB designated-best-use
classes and the CCME WQI, quality flags per reading, and simulated Indian river stations
(seed 002, made real). Science and references in docs/water.md."""

from __future__ import annotations

from riskcast.core.variables import Variable
from riskcast.packs.base import Pack, ServedModel
from riskcast.packs.water.live import WaterQualityIndex
from riskcast.packs.water.quality import LIMITS
from riskcast.packs.water.simulator import RiverStation


def _measured(name: str, unit: str, description: str) -> Variable:
    """A measured variable whose valid range is the physical one and whose soft range is the
    plausible one, from :data:`riskcast.packs.water.quality.LIMITS` (reasons there)."""
    limits = LIMITS[name]
    return Variable(name=name, unit=unit, description=description,
                    valid_min=limits.physical[0], valid_max=limits.physical[1],
                    soft_min=limits.plausible[0], soft_max=limits.plausible[1])


_MEASURED = [
    # The nine NSF WQI parameters, in the units of the NSF curves.
    _measured("do_sat_pct", "%", "Dissolved oxygen, % of saturation (NSF WQI parameter)"),
    _measured("fecal_coliform_cfu100ml", "CFU/100 mL",
              "Fecal (thermotolerant) coliform count (NSF WQI parameter)"),
    _measured("ph", "pH", "pH (NSF WQI and CPCB parameter)"),
    _measured("bod_mgl", "mg/L", "Biochemical oxygen demand, 5 days at 20 °C "
              "(NSF WQI and CPCB parameter)"),
    _measured("temp_change_c", "°C", "Water temperature minus that one mile upstream "
              "(NSF WQI parameter)"),
    _measured("total_phosphate_mgl", "mg/L", "Total phosphate, as PO4 (NSF WQI parameter)"),
    _measured("nitrate_mgl", "mg/L", "Nitrate (NSF WQI parameter)"),
    _measured("turbidity_ntu", "NTU", "Turbidity (NSF WQI parameter)"),
    _measured("total_solids_mgl", "mg/L", "Total solids, dissolved and suspended "
              "(NSF WQI parameter)"),
    # What the CPCB classes and the DO conversion need besides.
    _measured("do_mgl", "mg/L", "Dissolved oxygen (CPCB parameter)"),
    _measured("water_temp_c", "°C", "Water temperature"),
    _measured("total_coliform_mpn100ml", "MPN/100 mL", "Total coliform (CPCB parameter)"),
    _measured("conductivity_uscm", "µS/cm", "Electrical conductivity at 25 °C "
              "(CPCB class E parameter)"),
    _measured("free_ammonia_mgl", "mg/L", "Free ammonia, as N (CPCB class D parameter)"),
    _measured("sar", "1", "Sodium adsorption ratio (CPCB class E parameter)"),
    _measured("boron_mgl", "mg/L", "Boron (CPCB class E parameter)"),
]

_DERIVED = [
    Variable(name="wqi", unit="1", description="NSF Water Quality Index, 0 (worst) to 100",
             valid_min=0, valid_max=100, derived=True),
    Variable(name="wqi_class", unit="1", description="NSF WQI class: 0 excellent, 1 good, "
             "2 medium, 3 bad, 4 very bad", valid_min=0, valid_max=4, derived=True),
    Variable(name="cpcb_class", unit="1", description="CPCB designated-best-use class: "
             "0 A, 1 B, 2 C, 3 D, 4 E, 5 below E", valid_min=0, valid_max=5, derived=True),
    # Written by the live pipeline from the production versions of the forecasters: the
    # forecast of the station's next reading, issued at the time of the reading it followed.
    Variable(name="pred_water_do_forecast", unit="mg/L", description="Next-reading forecast "
             "of dissolved oxygen (water-do-forecast, River, per station)", derived=True),
    Variable(name="pred_water_wqi_forecast", unit="1", description="Next-reading forecast "
             "of the NSF WQI (water-wqi-forecast, River, per station)", derived=True),
]

#: Default alert rules, in the shape of the wildfire pack's (the alerts engine loads them).
RULES = [
    {"id": "water-wqi-medium", "name": "Water quality medium or worse",
     "selector": {"pack": "water"},
     "condition": {"kind": "class", "series": "wqi_class", "at_least": 2},
     "severity": "warning",
     "annotations": {
         "summary": "Water quality at {site_name}: NSF WQI class {value} (medium or worse)"}},
    {"id": "water-wqi-bad", "name": "Water quality bad", "selector": {"pack": "water"},
     "condition": {"kind": "class", "series": "wqi_class", "at_least": 3},
     "severity": "critical",
     "annotations": {
         "summary": "Water quality at {site_name}: NSF WQI class {value} (bad or very bad)"}},
    {"id": "water-cpcb-not-bathing", "name": "Not fit for bathing (CPCB class C or worse)",
     "selector": {"pack": "water"},
     "condition": {"kind": "class", "series": "cpcb_class", "at_least": 2},
     "severity": "warning",
     "annotations": {
         "summary": "{site}: CPCB class below B, not fit for organised bathing"}},
    {"id": "water-cpcb-below-e", "name": "Below CPCB class E", "selector": {"pack": "water"},
     "condition": {"kind": "class", "series": "cpcb_class", "at_least": 5},
     "severity": "critical",
     "annotations": {
         "summary": "{site}: below CPCB class E, fit for no designated use"}},
    {"id": "water-do-low", "name": "Dissolved oxygen below 4 mg/L",
     "selector": {"pack": "water"},
     "condition": {"kind": "threshold", "series": "do_mgl", "below": 4.0},
     "severity": "warning",
     "annotations": {"summary": "DO {value} mg/L at {site}: below the CPCB class C/D "
                                "minimum, fish at risk"}},
    # Sensor health: a station that falls silent (MQTT sensors report every few minutes).
    {"id": "water-sensor-silent", "name": "Water station silent",
     "selector": {"pack": "water"},
     "condition": {"kind": "no_data", "after": "30m"},
     "severity": "warning",
     "annotations": {"summary": "{site_name}: no reading for {value:.0f} s"}},
]

PACK = Pack(
    name="water",
    title="Water quality",
    description="River water quality: NSF WQI, CPCB designated-best-use classes, CCME WQI "
                "and quality flags, with simulated Indian river stations.",
    variables=_MEASURED + _DERIVED,
    derived=[v.name for v in _DERIVED],
    derivations=[WaterQualityIndex()],
    rules=RULES,
    models=[ServedModel(name="water-do-forecast", variable="pred_water_do_forecast"),
            ServedModel(name="water-wqi-forecast", variable="pred_water_wqi_forecast")],
    simulator=RiverStation.make,
    dashboard={"primary": "wqi", "class": "wqi_class",
               "classes": {"wqi_class": ["excellent", "good", "medium", "bad", "very bad"],
                           "cpcb_class": ["A", "B", "C", "D", "E", "below E"]},
               "charts": ["wqi", "do_mgl", "ph", "bod_mgl", "turbidity_ntu",
                          "fecal_coliform_cfu100ml", "pred_water_do_forecast",
                          "pred_water_wqi_forecast"]},
)
