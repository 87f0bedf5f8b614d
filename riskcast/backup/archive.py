"""Writing and checking backup archives.

An archive is one ``riskcast-backup-<UTC time>.tar.gz`` holding ``manifest.json`` first, then
every file of the data dir under ``data/`` and, with PostgreSQL storage, a ``pg_dump -Fc`` of
the schema under ``postgres/``. The manifest records the riskcast version, the time, the
storage and, per file, its size, SHA-256 and kind (``sqlite``, ``file``, ``pg_dump``).

Files are discovered, not listed: every regular file under the data dir is taken, except
SQLite's ``-wal``/``-shm``/``-journal`` companions, the lock file, temporary files and the
backup folder itself. A file that starts with SQLite's header is copied through SQLite's
online backup API (a consistent snapshot, while the server keeps writing); anything else
(model artifacts, key files) byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

import msgspec

from riskcast import __version__
from riskcast.backup import postgres
from riskcast.backup.lock import LOCK_NAME
from riskcast.exceptions import BackupError

#: What reading a damaged archive raises: gzip and tar errors, a cut stream, bad deflate data.
_DAMAGED = (OSError, tarfile.TarError, EOFError, zlib.error)

__all__ = ["FileEntry", "Manifest", "Progress", "create_backup", "read_manifest",
           "sqlite_ok", "verify_backup"]

FORMAT = "riskcast-backup"
MANIFEST = "manifest.json"
SUFFIX = ".tar.gz"
PREFIX = "riskcast-backup-"
SQLITE_MAGIC = b"SQLite format 3\x00"
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".tmp", ".partial")
_CHUNK = 1 << 20

#: ``progress(what, done_bytes, total_bytes)``; called as work advances.
Progress = Callable[[str, int, int], None]


class FileEntry(msgspec.Struct):
    """One file of a backup: its path in the archive, size, SHA-256 and kind."""

    path: str
    size: int
    sha256: str
    kind: Literal["sqlite", "file", "pg_dump"]


class Manifest(msgspec.Struct):
    """What a backup holds."""

    format: str
    format_version: int
    riskcast_version: str
    created: str
    storage: Literal["sqlite", "postgresql", "memory"]
    files: list[FileEntry]
    schema: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def _quiet(what: str, done: int, total: int) -> None:
    return None


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def discover(data_dir: Path, *, exclude: tuple[Path, ...] = ()) -> list[Path]:
    """The files of ``data_dir`` a backup takes, relative to it, sorted."""
    root = Path(data_dir)
    skipped = {p.resolve() for p in exclude}
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() not in skipped
                         and not d.startswith(".riskcast-"))
        for name in files:
            path = here / name
            if name == LOCK_NAME or name.endswith(_SKIP_SUFFIXES) or path.is_symlink():
                continue
            if not path.is_file():
                continue
            found.append(path.relative_to(root))
    return sorted(found)


def sqlite_snapshot(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` with the online backup API."""
    src = sqlite3.connect(source, timeout=30.0)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # one step: a consistent snapshot even while others write
        finally:
            dst.close()
    except sqlite3.Error as err:
        raise BackupError(f"cannot back up {source}: {err}", file=str(source)) from err
    finally:
        src.close()


def sqlite_ok(path: Path) -> str | None:
    """``None`` when ``PRAGMA integrity_check`` passes on ``path``, else what it found."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as err:
        return str(err)
    found = [str(r[0]) for r in rows]
    return None if found == ["ok"] else "; ".join(found[:5])


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S.") + f"{now.microsecond // 1000:03d}Z"


def create_backup(data_dir: Path, dest: Path, *, storage_url: str = "",
                  schema: str = "riskcast", exclude: tuple[Path, ...] = (),
                  progress: Progress | None = None) -> Path:
    """Write one archive of ``data_dir`` (and the PostgreSQL schema when ``storage_url`` is
    PostgreSQL) into the folder ``dest``; return its path.

    The archive appears under its final name only once complete (written aside, then
    renamed), so a crash never leaves a half archive that looks whole.
    """
    report = progress or _quiet
    data_dir = Path(data_dir)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    final = dest / f"{PREFIX}{_stamp(now)}{SUFFIX}"
    kind: Literal["sqlite", "postgresql", "memory"] = (
        "postgresql" if postgres.is_postgres(storage_url)
        else "memory" if storage_url in ("memory", "memory://") else "sqlite")
    files = discover(data_dir, exclude=(dest, *exclude)) if data_dir.is_dir() else []
    total = sum((data_dir / f).stat().st_size for f in files)
    entries: list[FileEntry] = []
    with tempfile.TemporaryDirectory(dir=dest, prefix=".riskcast-staging-") as tmp:
        staging = Path(tmp)
        done = 0
        for rel in files:
            source = data_dir / rel
            target = staging / "data" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            report(f"copying {rel}", done, total)
            is_db = _is_sqlite(source)
            try:
                if is_db:
                    sqlite_snapshot(source, target)
                else:
                    shutil.copyfile(source, target)
            except FileNotFoundError:  # removed while we walked (a replaced temp file)
                continue
            size = target.stat().st_size
            done += size
            entries.append(FileEntry(f"data/{rel.as_posix()}", size, sha256_of(target),
                                     "sqlite" if is_db else "file"))
        if kind == "postgresql":
            report(f"pg_dump of schema {schema}", done, total)
            dump = staging / "postgres" / f"{schema}.dump"
            dump.parent.mkdir()
            postgres.dump(storage_url, schema, dump)
            size = dump.stat().st_size
            total += size
            done += size
            entries.append(FileEntry(f"postgres/{schema}.dump", size, sha256_of(dump),
                                     "pg_dump"))
        manifest = Manifest(format=FORMAT, format_version=1, riskcast_version=__version__,
                            created=now.isoformat().replace("+00:00", "Z"), storage=kind,
                            files=entries, schema=schema if kind == "postgresql" else None)
        partial = dest / f".{final.name}.partial"
        _write_archive(partial, staging, manifest, report)
        partial.replace(final)
    _fsync_dir(dest)
    return final


def _write_archive(path: Path, staging: Path, manifest: Manifest, report: Progress) -> None:
    body = msgspec.json.format(msgspec.json.encode(manifest), indent=2)
    total = manifest.total_bytes
    done = 0
    with path.open("wb") as raw:
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=1,
                           mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            info.mode = 0o644
            tar.addfile(info, _BytesReader(body))
            for entry in manifest.files:
                report(f"archiving {entry.path}", done, total)
                tar.add(staging / entry.path, arcname=entry.path, recursive=False)
                done += entry.size
            report("archived", total, total)
        raw.flush()
        os.fsync(raw.fileno())


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = len(self._data)
        chunk, self._data = self._data[:size], self._data[size:]
        return bytes(chunk)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse
        pass
    finally:
        os.close(fd)


# -- reading -------------------------------------------------------------------------------


def read_manifest(archive: Path) -> Manifest:
    """The manifest of ``archive``; ``BackupError`` when it is not a riskcast backup."""
    with open_archive(archive) as tar:
        return _manifest_of(archive, tar)


def open_archive(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r|*")
    except _DAMAGED as err:
        raise BackupError(f"{archive}: not a readable backup archive: {err}",
                          file=str(archive)) from err


def _manifest_of(archive: Path, tar: tarfile.TarFile) -> Manifest:
    try:
        first = tar.next()
        if first is None or first.name != MANIFEST or not first.isfile():
            raise BackupError(f"{archive}: no {MANIFEST} at the start; not a riskcast backup",
                              file=MANIFEST)
        handle = tar.extractfile(first)
        assert handle is not None
        manifest = msgspec.json.decode(handle.read(), type=Manifest)
    except _DAMAGED as err:
        raise BackupError(f"{archive}: damaged archive: {err}", file=str(archive)) from err
    except msgspec.DecodeError as err:
        raise BackupError(f"{archive}: {MANIFEST} is not valid: {err}", file=MANIFEST) from err
    if manifest.format != FORMAT or manifest.format_version != 1:
        raise BackupError(f"{archive}: unsupported backup format {manifest.format!r} "
                          f"version {manifest.format_version}", file=MANIFEST)
    for entry in manifest.files:
        _check_member_name(entry.path)
    return manifest


def _check_member_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if (path.is_absolute() or ".." in path.parts or len(path.parts) < 2
            or path.parts[0] not in ("data", "postgres")):
        raise BackupError(f"archive member {name!r} is outside data/ and postgres/", file=name)
    return path


def members(archive: Path, progress: Progress | None = None
            ) -> Iterator[tuple[Manifest, FileEntry, IO[bytes]]]:
    """Each file of ``archive`` with its manifest entry, in archive order.

    Refuses (``BackupError`` naming the file) a member the manifest does not list, a member
    that is not a regular file, a listed file that is missing, or a file listed twice.
    Checksums are for the caller to check while it reads (see :func:`copy_checked`).
    """
    report = progress or _quiet
    with open_archive(archive) as tar:
        manifest = _manifest_of(archive, tar)
        expected = {e.path: e for e in manifest.files}
        if len(expected) != len(manifest.files):
            raise BackupError(f"{archive}: the manifest lists a file twice", file=MANIFEST)
        seen: set[str] = set()
        done = 0
        try:
            while (member := tar.next()) is not None:
                entry = expected.get(member.name)
                if entry is None or member.name in seen:
                    raise BackupError(f"{archive}: {member.name} is not in the manifest",
                                      file=member.name)
                if not member.isfile():
                    raise BackupError(f"{archive}: {member.name} is not a regular file",
                                      file=member.name)
                seen.add(member.name)
                report(member.name, done, manifest.total_bytes)
                handle = tar.extractfile(member)
                assert handle is not None
                yield manifest, entry, handle
                done += entry.size
        except _DAMAGED as err:
            raise BackupError(f"{archive}: damaged archive: {err}", file=str(archive)) from err
        missing = sorted(set(expected) - seen)
        if missing:
            raise BackupError(f"{archive}: {missing[0]} is listed in the manifest but missing",
                              file=missing[0])
        report("checked", manifest.total_bytes, manifest.total_bytes)


def copy_checked(handle: IO[bytes], entry: FileEntry, target: IO[bytes] | None) -> None:
    """Copy a member to ``target`` (or nowhere), refusing it on a size or SHA-256 mismatch."""
    digest = hashlib.sha256()
    size = 0
    while True:
        try:
            chunk = handle.read(_CHUNK)
        except _DAMAGED as err:  # the compressed stream broke inside this member
            raise BackupError(f"damaged archive while reading {entry.path}: {err}",
                              file=entry.path) from err
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
        if target is not None:
            target.write(chunk)
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise BackupError(f"checksum mismatch: {entry.path} does not match the manifest "
                          "(damaged or altered)", file=entry.path)


def verify_backup(archive: Path, progress: Progress | None = None) -> Manifest:
    """Check every file's size and SHA-256 and every SQLite file's ``integrity_check``;
    return the manifest, or raise ``BackupError`` naming the first file at fault."""
    manifest: Manifest | None = None
    with tempfile.TemporaryDirectory(prefix="riskcast-verify-") as tmp:
        for found, entry, handle in members(archive, progress):
            manifest = found
            if entry.kind != "sqlite":
                copy_checked(handle, entry, None)
                continue
            scratch = Path(tmp) / "check.db"
            with scratch.open("wb") as out:
                copy_checked(handle, entry, out)
            problem = sqlite_ok(scratch)
            scratch.unlink()
            if problem is not None:
                raise BackupError(f"{entry.path} fails SQLite's integrity check: {problem}",
                                  file=entry.path)
    if manifest is None:
        manifest = read_manifest(archive)
    check_gzip_trailer(archive)
    return manifest


def check_gzip_trailer(archive: Path) -> None:
    """Read the whole gzip stream, so its CRC-32 and length are checked too: tar stops at
    its end-of-archive blocks and never reaches the trailer, which the checksums of the
    files do not cover."""
    try:
        with gzip.open(archive, "rb") as stream:
            while stream.read(_CHUNK):
                pass
    except _DAMAGED as err:
        raise BackupError(f"{archive}: damaged archive: {err}", file=str(archive)) from err


def describe(manifest: Manifest) -> dict[str, Any]:
    """A summary for people: when, what, how much."""
    return {"created": manifest.created, "riskcast": manifest.riskcast_version,
            "storage": manifest.storage, "files": len(manifest.files),
            "bytes": manifest.total_bytes}
