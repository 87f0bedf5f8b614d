"""Backup and restore round trips: every table of every database and every file comes back
identical; damaged or altered archives are refused; a running server's data dir is not
pulled away."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import httpx
import pytest

from riskcast.backup import (
    DataDirLock,
    create_backup,
    in_use,
    read_manifest,
    restore_backup,
    verify_backup,
)
from riskcast.exceptions import BackupError
from riskcast.settings import Settings
from riskcast.testing.server import live_server
from tests.backup.conftest import picture, populate


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, sqlite_synchronous="normal", retention="0",
                    auth=False)


@pytest.fixture
def deployment(tmp_path: Path, headers: dict[str, str]) -> Path:
    """A data dir a real server filled (readings, a firing alert, a deployed model), then
    stopped."""
    data = tmp_path / "data"
    with live_server(settings_for(data)) as srv:
        populate(srv, headers)
    return data


def test_round_trip_restores_every_table_and_file(deployment: Path, tmp_path: Path) -> None:
    before = picture(deployment)
    assert {"riskcast.db", "alerts.db", "models.db"} <= set(before)
    assert any(name.startswith("models/m/") for name in before)  # the artifact
    assert len(before["riskcast.db"]["readings"]) == 501
    assert before["alerts.db"]["alerts"], "the hot reading fired an alert"
    archive = create_backup(deployment, tmp_path / "backups")
    manifest = verify_backup(archive)
    assert {f.path for f in manifest.files} == {f"data/{name}" for name in before}
    shutil.rmtree(deployment)
    done = restore_backup(archive, deployment)
    assert done.files == len(manifest.files)
    assert picture(deployment) == before
    # and the restored deployment serves its data again
    with live_server(settings_for(deployment)) as srv:
        points = httpx.get(f"{srv.url}/api/v1/sites/s1/series/temp_c",
                           params={"from": "2000-01-01T00:00:00Z", "limit": 10000}).json()
        assert len(points["points"]) == 251


def test_restore_replaces_a_changed_data_dir_and_keeps_the_backups(deployment: Path) -> None:
    before = picture(deployment)
    archive = create_backup(deployment, deployment / "backups")
    (deployment / "riskcast.db").write_bytes(b"garbage")
    (deployment / "stray.txt").write_text("not in the backup")
    restore_backup(archive, deployment)
    assert picture(deployment) == before
    assert archive.exists(), "the backups folder is carried over"
    assert not list(deployment.parent.glob(".data.*")), "nothing left aside"


def test_backup_while_serving_holds_every_acknowledged_reading(
        tmp_path: Path, headers: dict[str, str]) -> None:
    data = tmp_path / "data"
    with live_server(settings_for(data)) as srv:
        populate(srv, headers, readings=2000)
        archive = create_backup(data, tmp_path / "backups")  # online, the server running
        with pytest.raises(BackupError, match="in use by a running riskcast server"):
            restore_backup(archive, data)
        assert in_use(data)
    verify_backup(archive)
    target = tmp_path / "elsewhere"
    restore_backup(archive, target)
    restored = picture(target)
    assert len(restored["riskcast.db"]["readings"]) >= 2001


def test_force_restores_over_a_held_data_dir(deployment: Path, tmp_path: Path) -> None:
    archive = create_backup(deployment, tmp_path / "backups")
    with DataDirLock(deployment) as lock:
        lock.share()
        with pytest.raises(BackupError, match="--force"):
            restore_backup(archive, deployment)
        restore_backup(archive, deployment, force=True)


def _rewrite(archive: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of ``archive`` with members replaced (or dropped when None)."""
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name in change:
                replaced = change[member.name]
                if replaced is None:
                    continue
                data = replaced
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return target


def test_tampered_archive_is_refused_naming_the_file(deployment: Path, tmp_path: Path) -> None:
    archive = create_backup(deployment, tmp_path / "backups")
    before = picture(deployment)
    artifact = next(f.path for f in read_manifest(archive).files
                    if f.path.startswith("data/models/m/"))
    with tarfile.open(archive) as tar:
        original = tar.extractfile(artifact).read()  # type: ignore[union-attr]
    flipped = bytes([original[0] ^ 1]) + original[1:]
    tampered = _rewrite(archive, tmp_path / "tampered.tar.gz", {artifact: flipped})
    with pytest.raises(BackupError, match="checksum mismatch") as refused:
        verify_backup(tampered)
    assert refused.value.file == artifact
    with pytest.raises(BackupError, match=artifact):
        restore_backup(tampered, deployment)
    assert picture(deployment) == before, "a refused restore changes nothing"
    assert not list(deployment.parent.glob(".data.restore-*"))
    missing = _rewrite(archive, tmp_path / "missing.tar.gz", {"data/alerts.db": None})
    with pytest.raises(BackupError, match=r"data/alerts\.db is listed in the manifest"):
        verify_backup(missing)


def test_a_corrupt_database_fails_the_integrity_check(tmp_path: Path) -> None:
    import sqlite3

    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "big.db")
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    conn.execute("CREATE INDEX t_b ON t (b)")
    conn.executemany("INSERT INTO t (b) VALUES (?)", [(f"row {i}" * 20,) for i in range(3000)])
    conn.commit()
    conn.close()
    archive = create_backup(data, tmp_path / "backups")
    with tarfile.open(archive) as tar:
        db = bytearray(tar.extractfile("data/big.db").read())  # type: ignore[union-attr]
    db[len(db) // 2: len(db) // 2 + 4096] = b"\xff" * 4096  # smash a page in the middle
    broken = tmp_path / "broken.tar.gz"
    _rewrite(archive, broken, {"data/big.db": bytes(db)})
    # make the manifest agree with the broken bytes, so only the integrity check can tell
    import hashlib
    import json

    with tarfile.open(broken) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    for entry in manifest["files"]:
        if entry["path"] == "data/big.db":
            entry["sha256"] = hashlib.sha256(db).hexdigest()
            entry["size"] = len(db)
    _rewrite(broken, tmp_path / "broken2.tar.gz",
             {"manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(BackupError, match=r"data/big\.db fails SQLite's integrity check"):
        verify_backup(tmp_path / "broken2.tar.gz")


def test_not_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file at all")
    with pytest.raises(BackupError, match="not a readable backup archive"):
        verify_backup(junk)
