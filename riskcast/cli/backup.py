"""``riskcast backup``, ``riskcast backup verify`` and ``riskcast restore``.

docs/operations.md describes the archive, the checks and how a running server is detected.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from riskcast.backup import create_backup, restore_backup, verify_backup
from riskcast.backup.archive import Progress as ProgressFn
from riskcast.backup.archive import describe
from riskcast.backup.schedule import backup_dir
from riskcast.cli.options import ConfigFile, DataDir, StorageUrl, settings_from
from riskcast.exceptions import RiskcastError
from riskcast.settings import Settings

app = typer.Typer(help="Back up every database and file of a deployment.",
                  add_completion=False)

Schema = Annotated[str, typer.Option(help="PostgreSQL schema of the storage")]
Archive = Annotated[Path, typer.Argument(help="A riskcast-backup-*.tar.gz archive",
                                         exists=True, dir_okay=False, readable=True)]


@contextmanager
def _progress(label: str) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr (quiet when stderr is not a terminal)."""
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description:<40.40}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=None)

        def report(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total or None)

        yield report


def _fail(err: RiskcastError) -> typer.Exit:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


@app.callback(invoke_without_command=True)
def backup(
    ctx: typer.Context,
    to: Annotated[Path | None, typer.Option(
        "--to", help="Folder for the archive [default: backup_dir, else <data-dir>/backups]",
        show_default=False)] = None,
    data_dir: DataDir = None,
    storage: StorageUrl = None,
    config: ConfigFile = None,
    schema: Schema = "riskcast",
) -> None:
    """Write one archive of the data dir (every SQLite database through SQLite's online
    backup API, every other file as is) and, with PostgreSQL storage, a pg_dump of the
    schema; with a manifest of sizes and SHA-256 checksums. Safe while the server runs."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_from(config, data_dir=data_dir, storage=storage)
    dest = to or backup_dir(settings)
    try:
        with _progress("backing up") as report:
            path = create_backup(settings.data_dir, dest, storage_url=settings.storage_url,
                                 schema=schema, exclude=(backup_dir(settings),),
                                 progress=report)
    except RiskcastError as err:
        raise _fail(err) from err
    typer.echo(f"backup written: {path} ({path.stat().st_size} bytes)")


@app.command()
def verify(archive: Archive) -> None:
    """Check every file's size and SHA-256 against the manifest, and every SQLite database
    with PRAGMA integrity_check."""
    try:
        with _progress("verifying") as report:
            manifest = verify_backup(archive, progress=report)
    except RiskcastError as err:
        raise _fail(err) from err
    summary = describe(manifest)
    typer.echo(f"ok: {archive} ({summary['files']} files, {summary['bytes']} bytes, "
               f"{summary['storage']}, made {summary['created']} by riskcast "
               f"{summary['riskcast']})")


def restore(
    archive: Archive,
    data_dir: DataDir = None,
    storage: StorageUrl = None,
    config: ConfigFile = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Restore even though a running server holds the data dir")] = False,
    keep_previous: Annotated[bool, typer.Option(
        "--keep-previous", help="Keep the replaced data dir beside it")] = False,
) -> None:
    """Restore an archive into the data dir (and the PostgreSQL schema it holds): every file
    checked first, written aside, then renamed into place. Refuses while a server runs."""
    settings = settings_from(config, data_dir=data_dir, storage=storage)
    carry = _carried(settings)
    try:
        with _progress("restoring") as report:
            done = restore_backup(archive, settings.data_dir, storage_url=settings.storage_url,
                                  force=force, keep_previous=keep_previous, carry=carry,
                                  progress=report)
    except RiskcastError as err:
        _audit(settings, archive, "refused", reason=str(err))
        raise _fail(err) from err
    _audit(settings, archive, "ok", files=done.files, bytes=done.bytes)
    typer.echo(f"restored {done.files} files ({done.bytes} bytes) into {done.data_dir}"
               + (f" and schema {done.postgres_schema}" if done.postgres_schema else ""))
    if done.previous:
        typer.echo(f"the replaced data dir is kept at {done.previous}")


def _carried(settings: Settings) -> tuple[str, ...]:
    """The backups folder, when it lives inside the data dir, survives a restore."""
    folder = backup_dir(settings).absolute()
    try:
        inside = folder.relative_to(settings.data_dir.absolute())
    except ValueError:
        return ()
    return (inside.parts[0],) if inside.parts else ()


def _audit(settings: Settings, archive: Path, result: str, **detail: Any) -> None:
    """Record the restore in the audit log (the key store of the restored deployment)."""
    try:
        from riskcast.security.audit import record_action
    except ImportError:  # pragma: no cover - the security module is part of riskcast
        return
    try:
        record_action(settings, "restore", str(archive), result=result, **detail)
    except Exception as err:  # the restore itself is done; say so, do not fail it
        typer.secho(f"warning: could not record the restore in the audit log: {err}",
                    fg=typer.colors.YELLOW, err=True)
