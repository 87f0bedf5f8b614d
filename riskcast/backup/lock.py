"""Who holds a data dir: a running server takes a shared lock, a restore an exclusive one.

The lock is ``flock(2)`` on ``<data_dir>/.riskcast.lock``. The kernel releases it when the
process ends, however it ends, so a crashed server never leaves a stale lock behind. Several
servers (or a server and ``riskcast backup``) may share a data dir; ``riskcast restore``
refuses while any of them runs, unless forced. On a platform without ``fcntl`` the lock is a
no-op (restores are then not guarded).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

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
        self._file: IO[bytes] | None = None

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a+b")  # held until release()
        return self._file

    def _try(self, mode: int) -> bool:
        if fcntl is None:  # pragma: no cover
            return True
        handle = self._open()
        try:
            fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
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
        if self._file is not None:
            self._file.close()
            self._file = None

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

