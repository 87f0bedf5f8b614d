"""``riskcast backup``, ``backup verify`` and ``restore`` from the command line."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from riskcast.backup.lock import DataDirLock
from riskcast.cli.main import app
from riskcast.security.store import AuditQuery, AuditRecord, open_key_store
from riskcast.settings import Settings

runner = CliRunner()


def make_data(folder: Path) -> None:
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / "riskcast.db")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    conn.commit()
    conn.close()
    (folder / "models" / "m").mkdir(parents=True)
    (folder / "models" / "m" / "1.skops").write_bytes(b"\x00artifact" * 100)


def test_backup_verify_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_data(data)
    made = runner.invoke(app, ["backup", "--data-dir", str(data)])
    assert made.exit_code == 0, made.output
    archives = list((data / "backups").glob("riskcast-backup-*.tar.gz"))
    assert len(archives) == 1 and str(archives[0]) in made.output
    checked = runner.invoke(app, ["backup", "verify", str(archives[0])])
    assert checked.exit_code == 0, checked.output
    assert "ok:" in checked.output and "2 files" in checked.output
    (data / "riskcast.db").unlink()
    back = runner.invoke(app, ["restore", str(archives[0]), "--data-dir", str(data)])
    assert back.exit_code == 0, back.output
    conn = sqlite3.connect(data / "riskcast.db")
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 100
    conn.close()
    assert archives[0].exists()  # the backups folder survived the restore
    audit = asyncio.run(audit_of(data))
    assert [(r.action, r.target, r.result) for r in audit] == [
        ("restore", str(archives[0]), "ok")]


async def audit_of(data: Path) -> list[AuditRecord]:
    store = open_key_store(Settings(data_dir=data))
    await store.open()
    try:
        return await store.audit(AuditQuery(action="restore"))
    finally:
        await store.aclose()


def test_restore_refuses_a_running_server_and_a_tampered_archive(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_data(data)
    made = runner.invoke(app, ["backup", "--data-dir", str(data), "--to", str(tmp_path / "b")])
    assert made.exit_code == 0, made.output
    archive = next((tmp_path / "b").glob("*.tar.gz"))
    with DataDirLock(data) as lock:
        lock.share()  # as a running server does
        busy = runner.invoke(app, ["restore", str(archive), "--data-dir", str(data)])
        assert busy.exit_code == 1
        assert "running riskcast server" in busy.output and "--force" in busy.output
    assert [r.result for r in asyncio.run(audit_of(data))] == ["refused"]
    good = archive.read_bytes()
    # Damage the compressed stream at several places: whether the gzip header, a deflate
    # block inside a member or the trailer breaks, it is a clear error, never a traceback.
    for where in (12, len(good) // 4, len(good) // 2, 3 * len(good) // 4, len(good) - 6):
        raw = bytearray(good)
        raw[where] ^= 0xFF
        archive.write_bytes(bytes(raw))
        for command in (["backup", "verify", str(archive)],
                        ["restore", str(archive), "--data-dir", str(data), "--force"]):
            refused = runner.invoke(app, command)
            assert refused.exit_code == 1, (where, command, refused)
            assert "error:" in refused.output, (where, command, refused)
