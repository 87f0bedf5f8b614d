"""``riskcast db upgrade``: bring the storage schema up to date without starting a server."""

from __future__ import annotations

import asyncio

import typer

from riskcast.cli.options import ConfigFile, DataDir, StorageUrl, settings_from
from riskcast.exceptions import RiskcastError

app = typer.Typer(help="Storage schema: versioned migrations.", no_args_is_help=True,
                  add_completion=False)


@app.callback()
def db() -> None:
    """Storage schema: versioned migrations."""


@app.command()
def upgrade(data_dir: DataDir = None, config: ConfigFile = None,
            storage: StorageUrl = None) -> None:
    """Apply every pending migration (SQLite or PostgreSQL); safe to run twice, and, on
    PostgreSQL, from several processes at once (an advisory lock serialises them)."""
    from riskcast.storage import open_storage

    settings = settings_from(config, data_dir=data_dir, storage=storage)

    async def run() -> None:
        backend = open_storage(settings.storage_url,
                               sqlite_synchronous=settings.sqlite_synchronous)
        await backend.open()  # opening applies the pending migrations
        await backend.aclose()

    try:
        asyncio.run(run())
    except RiskcastError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from err
    typer.echo(f"storage up to date: {settings.storage_url}")
