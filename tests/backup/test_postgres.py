"""Backup and restore with PostgreSQL storage: pg_dump of the schema plus the data dir,
restored in one transaction. Needs PostgreSQL (see tests/storage/test_postgres.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from riskcast.backup import create_backup, restore_backup, verify_backup
from riskcast.exceptions import BackupError
from riskcast.settings import Settings
from riskcast.testing.server import live_server
from tests.backup.conftest import picture, populate
from tests.storage.test_postgres import URL, schema  # noqa: F401 - the fixture

psycopg = pytest.importorskip("psycopg")


def pg_picture(name: str) -> dict[str, Any]:
    """Every row of every table of the schema ``name``."""
    with psycopg.connect(URL) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY table_name", (name,))]
        return {t: sorted(conn.execute(psycopg.sql.SQL("SELECT * FROM {}.{}").format(
            psycopg.sql.Identifier(name), psycopg.sql.Identifier(t))).fetchall(), key=repr)
            for t in tables}


def test_postgres_round_trip(schema: str, tmp_path: Path,  # noqa: F811
                             headers: dict[str, str]) -> None:
    from riskcast.storage.postgres import PostgresStorage

    data = tmp_path / "data"
    settings = Settings(data_dir=data, storage=URL, retention="0", auth=False)
    with live_server(settings, storage=PostgresStorage(URL, schema=schema)) as srv:
        populate(srv, headers, readings=300)
    before_pg = pg_picture(schema)
    before_files = picture(data)
    assert len(before_pg["readings"]) == 301 and len(before_pg["sites"]) == 2
    archive = create_backup(data, tmp_path / "backups", storage_url=URL, schema=schema)
    manifest = verify_backup(archive)
    assert manifest.storage == "postgresql" and manifest.schema == schema
    assert f"postgres/{schema}.dump" in {f.path for f in manifest.files}

    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(
            psycopg.sql.Identifier(schema)))
    shutil.rmtree(data)
    with pytest.raises(BackupError, match="--storage postgresql"):
        restore_backup(archive, data)
    restore_backup(archive, data, storage_url=URL)
    assert pg_picture(schema) == before_pg
    assert picture(data) == before_files


def test_postgres_restore_is_all_or_nothing(schema: str, tmp_path: Path) -> None:  # noqa: F811
    from riskcast.backup import postgres

    with psycopg.connect(URL, autocommit=True) as conn:
        ident = psycopg.sql.Identifier(schema)
        conn.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(ident))
        conn.execute(psycopg.sql.SQL("CREATE TABLE {}.t (a int)").format(ident))
        conn.execute(psycopg.sql.SQL("INSERT INTO {}.t VALUES (1), (2)").format(ident))
    bad = tmp_path / "bad.dump"
    bad.write_bytes(b"PGDMP but not really")
    with pytest.raises(BackupError):
        postgres.restore(URL, schema, bad)
    assert pg_picture(schema) == {"t": [(1,), (2,)]}
