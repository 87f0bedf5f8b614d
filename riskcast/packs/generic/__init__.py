"""The generic pack: common weather variables, for sites that belong to no domain pack."""

from __future__ import annotations

from riskcast.core.variables import Variable
from riskcast.packs.base import Pack
from riskcast.packs.generic.dewpoint import DewPoint
from riskcast.packs.generic.simulator import WeatherSite

VARIABLES = [
    Variable(name="temp_c", unit="°C", description="Air temperature",
             valid_min=-90, valid_max=60, soft_min=-60, soft_max=55),
    Variable(name="rh_pct", unit="%", description="Relative humidity",
             valid_min=0, valid_max=100, soft_min=1, soft_max=100),
    Variable(name="wind_kmh", unit="km/h", description="Wind speed at 10 m",
             valid_min=0, valid_max=400, soft_max=200),
    Variable(name="wind_dir_deg", unit="°", description="Wind direction, from north",
             valid_min=0, valid_max=360),
    Variable(name="rain_mm", unit="mm", description="Precipitation since the last reading",
             valid_min=0, valid_max=2000, soft_max=300),
    Variable(name="pressure_hpa", unit="hPa", description="Air pressure at station level",
             valid_min=300, valid_max=1100, soft_min=850, soft_max=1085),
    Variable(name="solar_wm2", unit="W/m²", description="Global solar radiation",
             valid_min=0, valid_max=1500, soft_max=1400),
    Variable(name="dewpoint_c", unit="°C", description="Dew point (Magnus form, from temp_c "
             "and rh_pct)", valid_min=-100, valid_max=60, derived=True),
]

PACK = Pack(
    name="generic",
    title="Generic weather",
    description="Common weather variables; the default pack of a site.",
    variables=VARIABLES,
    simulator=WeatherSite.make,
    derived=["dewpoint_c"],
    derivations=[DewPoint()],
    dashboard={"primary": "temp_c", "charts": ["temp_c", "rh_pct", "wind_kmh", "rain_mm"]},
)
