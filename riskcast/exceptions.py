"""Every error riskcast raises on purpose.

The hierarchy::

    RiskcastError
    ├── ConfigError            a setting or config file is wrong
    ├── ValidationError        input refused; ``field`` names what is wrong
    ├── NotFoundError          a site, variable or channel that does not exist
    ├── ConflictError          the thing exists already
    ├── OverloadedError        too much queued; retry after ``retry_after`` seconds
    ├── StorageError           the storage backend failed (wraps the driver's error)
    ├── BusError               the bus backend failed (wraps the client's error)
    │   └── HistoryGapError    a resume point is older than the retained history
    ├── BackupError            a backup cannot be written, verified or restored
    └── MissingExtraError      an optional dependency is not installed

Third-party errors are translated at the boundary with ``raise ... from err``.
"""

from __future__ import annotations


class RiskcastError(Exception):
    """Root of every error riskcast raises on purpose."""


class ConfigError(RiskcastError):
    """A setting, environment variable or config file is wrong."""


class ValidationError(RiskcastError):
    """Input was refused; ``field`` names the part at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(RiskcastError):
    """The named thing (site, variable, channel, file) does not exist."""


class ConflictError(RiskcastError):
    """The thing to create exists already."""


class OverloadedError(RiskcastError):
    """Too much work is queued; the caller should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageError(RiskcastError):
    """The storage backend failed."""


class BusError(RiskcastError):
    """The bus backend failed."""


class HistoryGapError(BusError):
    """Events after the requested sequence number are no longer retained.

    ``oldest`` is the oldest sequence number still held for ``channel``.
    """

    def __init__(self, channel: str, since: int, oldest: int) -> None:
        super().__init__(
            f"channel {channel!r}: events after seq {since} are gone; oldest retained is {oldest}"
        )
        self.channel = channel
        self.since = since
        self.oldest = oldest


class MissingExtraError(RiskcastError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed: pip install 'riskcast[{extra}]'"
        )
        self.package = package
        self.extra = extra


class BackupError(RiskcastError):
    """A backup cannot be written, verified or restored; ``file`` names the file at fault."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.file = file
