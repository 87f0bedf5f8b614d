"""Options shared by every command that touches data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from riskcast.exceptions import ConfigError
from riskcast.settings import Settings, load_settings

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Where riskcast keeps its data [env: RISKCAST_DATA_DIR; default .riskcast]",
    show_default=False)]
ConfigFile = Annotated[Path | None, typer.Option(
    "--config", help="A TOML file of settings [env: RISKCAST_CONFIG]", show_default=False)]
StorageUrl = Annotated[str | None, typer.Option(
    "--storage", help="Storage URL [env: RISKCAST_STORAGE; default SQLite in the data dir]",
    show_default=False)]


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    """Settings from file, environment and flags; a clear message and exit 2 when wrong."""
    try:
        return load_settings(config, overrides)
    except ConfigError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from err
