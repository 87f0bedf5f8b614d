"""Public conformance checks: prove a third-party backend or pack keeps riskcast's contracts.

>>> from riskcast.testing import check_storage, check_bus, check_pack
"""

from riskcast.testing.bus import BUS_CHECKS, check_bus
from riskcast.testing.packs import check_pack
from riskcast.testing.storage import STORAGE_CHECKS, check_storage

__all__ = ["BUS_CHECKS", "STORAGE_CHECKS", "check_bus", "check_pack", "check_storage"]
