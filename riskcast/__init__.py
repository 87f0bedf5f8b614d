"""riskcast: real-time monitoring and prediction.

The public API: the nouns, the settings, the backend contracts and the errors. The web app is
``riskcast.api.app.create_app``; conformance checks are in ``riskcast.testing``.
"""

from riskcast.bus.base import Bus
from riskcast.core.events import Event
from riskcast.core.readings import ReadingIn
from riskcast.core.sites import Site
from riskcast.core.variables import Variable
from riskcast.exceptions import (
    BackupError,
    BusError,
    ConfigError,
    ConflictError,
    HistoryGapError,
    MissingExtraError,
    NotFoundError,
    OverloadedError,
    RiskcastError,
    StorageError,
    ValidationError,
)
from riskcast.packs.base import Pack
from riskcast.settings import Settings, load_settings
from riskcast.storage.base import Storage

__version__ = "0.1.0"

__all__ = [
    "BackupError",
    "Bus",
    "BusError",
    "ConfigError",
    "ConflictError",
    "Event",
    "HistoryGapError",
    "MissingExtraError",
    "NotFoundError",
    "OverloadedError",
    "Pack",
    "ReadingIn",
    "RiskcastError",
    "Settings",
    "Site",
    "Storage",
    "StorageError",
    "ValidationError",
    "Variable",
    "__version__",
    "load_settings",
]
