"""The public API is curated: this list changes only on purpose."""

import riskcast


def test_exported_members() -> None:
    assert sorted(riskcast.__all__) == sorted([
        "BackupError", "Bus", "BusError", "ConfigError", "ConflictError", "Event",
        "HistoryGapError", "MissingExtraError", "NotFoundError", "OverloadedError", "Pack",
        "ReadingIn",
        "RiskcastError", "Settings", "Site", "Storage", "StorageError", "ValidationError",
        "Variable", "__version__", "load_settings"])
    for name in riskcast.__all__:
        assert hasattr(riskcast, name), name


def test_every_error_is_a_riskcast_error() -> None:
    for name in riskcast.__all__:
        obj = getattr(riskcast, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, riskcast.RiskcastError), name
