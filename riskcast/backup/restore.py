"""Restoring a backup: checked in full, written aside, then swapped in by rename.

1. Refuse while a server holds the data dir (its ``flock`` on ``.riskcast.lock``, see
   :mod:`riskcast.backup.lock`) unless ``force``.
2. Unpack into ``.<name>.restore-<time>`` beside the data dir, checking each file's size and
   SHA-256 against the manifest as it is written, then ``PRAGMA integrity_check`` on every
   SQLite file. Any mismatch: the folder is removed, the data dir untouched, and the error
   names the file.
3. With a PostgreSQL dump: replace the schema in one transaction.
4. Carry the backups folder over from the old data dir, rename the old data dir aside, rename
   the new one into place, and remove the old one (``keep_previous`` keeps it).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from riskcast.backup import postgres
from riskcast.backup.archive import (
    Progress,
    check_gzip_trailer,
    copy_checked,
    members,
    read_manifest,
)
from riskcast.backup.archive import sqlite_ok as _sqlite_ok
from riskcast.backup.lock import DataDirLock
from riskcast.exceptions import BackupError

__all__ = ["Restored", "restore_backup"]


class Restored(msgspec.Struct):
    """What a restore did."""

    data_dir: str
    files: int
    bytes: int
    postgres_schema: str | None = None
    previous: str | None = None


def restore_backup(archive: Path, data_dir: Path, *, storage_url: str = "",
                   force: bool = False, keep_previous: bool = False,
                   carry: tuple[str, ...] = ("backups",),
                   progress: Progress | None = None) -> Restored:
    """Restore ``archive`` into ``data_dir`` (see the module docstring); ``carry`` names
    folders of the current data dir kept across the restore (the backups themselves)."""
    archive = Path(archive)
    data_dir = Path(data_dir).absolute()
    manifest = read_manifest(archive)
    if manifest.storage == "postgresql" and not postgres.is_postgres(storage_url):
        raise BackupError(f"{archive} holds a PostgreSQL dump of schema {manifest.schema}: "
                          "give the database with --storage postgresql://...", file=archive.name)
    lock = DataDirLock(data_dir) if data_dir.exists() else None
    try:
        if lock is not None and not lock.take() and not force:
            raise BackupError(
                f"data dir {data_dir} is in use by a running riskcast server (it holds "
                f"{lock.path.name}); stop the server first, or pass --force", file=str(data_dir))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        staging = data_dir.parent / f".{data_dir.name}.restore-{stamp}"
        staging.mkdir(parents=True)
        try:
            dump = _unpack(archive, staging, progress)
            if dump is not None:
                assert manifest.schema is not None
                postgres.restore(storage_url, manifest.schema, dump)
                dump.unlink()
                dump.parent.rmdir()
            previous = _swap(data_dir, staging, stamp, carry)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        if lock is not None:
            lock.release()
    if previous is not None and not keep_previous:
        shutil.rmtree(previous, ignore_errors=True)
        previous = None
    return Restored(str(data_dir), len(manifest.files), manifest.total_bytes,
                    manifest.schema, None if previous is None else str(previous))


def _unpack(archive: Path, staging: Path, progress: Progress | None) -> Path | None:
    """Write every file of ``archive`` under ``staging``, checked; return the dump if any."""
    dump: Path | None = None
    databases: list[tuple[str, Path]] = []
    for _, entry, handle in members(archive, progress):
        if entry.kind == "pg_dump":
            target = staging / ".pgdump" / Path(entry.path).name
        else:
            target = staging / Path(*Path(entry.path).parts[1:])
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            copy_checked(handle, entry, out)
            out.flush()
            os.fsync(out.fileno())
        if entry.kind == "pg_dump":
            dump = target
        elif entry.kind == "sqlite":
            databases.append((entry.path, target))
    check_gzip_trailer(archive)  # the whole archive, not only the files it holds
    for name, path in databases:
        problem = _sqlite_ok(path)
        if problem is not None:
            raise BackupError(f"{name} fails SQLite's integrity check: {problem}", file=name)
    return dump


def _swap(data_dir: Path, staging: Path, stamp: str, carry: tuple[str, ...]) -> Path | None:
    """Put ``staging`` where ``data_dir`` is; return where the old data dir went."""
    previous: Path | None = None
    if data_dir.exists():
        for name in carry:
            kept = data_dir / name
            if kept.is_dir() and not (staging / name).exists():
                kept.rename(staging / name)
        previous = data_dir.parent / f".{data_dir.name}.previous-{stamp}"
        data_dir.rename(previous)
    staging.rename(data_dir)
    fd = os.open(data_dir.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return previous

