"""Who holds a data dir: a running server takes a shared lock, a restore an exclusive one.

The lock is ``flock(2)`` on ``<data_dir>/.riskcast.lock``. The kernel releases it when the
process ends, however it ends, so a crashed server never leaves a stale lock behind. Several
servers (or a server and ``riskcast backup``) may share a data dir; ``riskcast restore``
refuses while any of them runs, unless forced. On a platform without ``fcntl`` the lock is a
no-op (restores are then not guarded).
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None  # type: ignore[assignment]

from riskcast.exceptions import ConfigError

__all__ = ["LOCK_NAME", "DataDirLock", "in_use"]

#: The lock file's name inside the data dir (never backed up or restored).
LOCK_NAME = ".riskcast.lock"


class DataDirLock:
    """The lock on one data dir; :meth:`share` for servers, :meth:`take` for restores."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # A plain descriptor, held until release() (or the process ends).
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return self._fd

    def _try(self, mode: int) -> bool:
        if fcntl is None:  # pragma: no cover
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def share(self) -> None:
        """Hold the data dir as a running server; raise ``ConfigError`` during a restore."""
        if not self._try(fcntl.LOCK_SH if fcntl else 0):
            self.release()
            raise ConfigError(f"data dir {self.path.parent} is being restored; start the "
                              "server again once `riskcast restore` is done")

    def take(self) -> bool:
        """Hold the data dir alone (a restore); False when a server holds it."""
        return self._try(fcntl.LOCK_EX if fcntl else 0)

    def release(self) -> None:
        """Let go (closing the file releases the lock). Safe to call twice."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def in_use(data_dir: Path) -> bool:
    """Whether a running server holds ``data_dir`` (a quick probe; takes nothing)."""
    if not (Path(data_dir) / LOCK_NAME).exists():
        return False
    with DataDirLock(data_dir) as lock:
        return not lock.take()

