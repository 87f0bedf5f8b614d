"""PostgreSQL's half of a backup: ``pg_dump -Fc`` of one schema, restored in one transaction.

The client tools (``pg_dump``, ``pg_restore``, ``psql``) must be on ``PATH`` and at least
as new as the server. A restore drops the schema and loads the dump inside a single
transaction (``psql --single-transaction``), so it either replaces the schema whole or
changes nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from riskcast.exceptions import BackupError

__all__ = ["dump", "is_postgres", "restore"]


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: install PostgreSQL's client tools "
                          "(Debian: apt-get install postgresql-client)", file=name)
    return found


def _quote(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


def dump(url: str, schema: str, target: Path) -> None:
    """``pg_dump -Fc`` of ``schema`` at ``url`` into ``target``."""
    result = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
         f"--schema={_quote(schema)}", f"--file={target}", f"--dbname={url}"],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_dump of schema {schema} failed: {result.stderr.strip()}",
                          file=f"postgres/{schema}.dump")


def restore(url: str, schema: str, source: Path) -> None:
    """Replace ``schema`` at ``url`` with the dump ``source``, atomically.

    The dump is first turned into SQL in full (``pg_restore --file``), so a damaged dump is
    refused before anything is dropped; the SQL then runs with the ``DROP SCHEMA`` in one
    transaction.
    """
    script = source.with_suffix(".sql")
    try:
        made = subprocess.run(
            [_tool("pg_restore"), "--no-owner", "--no-privileges", f"--file={script}",
             str(source)], capture_output=True, text=True, check=False)
        if made.returncode != 0:
            raise BackupError(f"pg_restore could not read the dump: {made.stderr.strip()}",
                              file=f"postgres/{schema}.dump")
        loaded = subprocess.run(
            [_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
             "--set=ON_ERROR_STOP=1", f"--dbname={url}",
             f"--command=DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE", f"--file={script}"],
            capture_output=True, text=True, check=False)
        if loaded.returncode != 0:
            raise BackupError(f"restoring schema {schema} failed (nothing was changed): "
                              f"{loaded.stderr.strip()}", file=f"postgres/{schema}.dump")
    finally:
        script.unlink(missing_ok=True)
