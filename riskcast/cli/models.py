"""``riskcast model``: train, list, show, deploy, roll back and predict with registered models.

Models live in ``<data-dir>/models.db`` and ``<data-dir>/models/``. The machine-learning
libraries are imported only when a command runs, so ``riskcast --help`` works without them.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from riskcast.cli.options import ConfigFile, DataDir, settings_from
from riskcast.exceptions import RiskcastError

if TYPE_CHECKING:
    from riskcast.models.service import ModelService

app = typer.Typer(help="Models: train, list, show, deploy, roll back, predict.",
                  no_args_is_help=True, add_completion=False)
Alias = Annotated[str, typer.Option("--alias", help="production or staging")]
Source = Annotated[Path | None, typer.Option(
    "--source", help="Folder of the trainer's data files [default: shared/data beside the "
    "repository]", show_default=False)]


@app.callback()
def model() -> None:
    """Models: train, list, show, deploy, roll back, predict."""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _service(config: Path | None, data_dir: Path | None,
             source: Path | None = None) -> Iterator[ModelService]:
    settings = settings_from(config, data_dir=data_dir)
    err = Console(stderr=True)
    try:
        from riskcast.models.service import ModelService

        service = ModelService(settings.data_dir, source_dir=source)
    except RiskcastError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    try:
        yield service
    except RiskcastError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    finally:
        asyncio.run(service.aclose())


def _run(call: Callable[[], Any]) -> Any:
    return asyncio.run(call())


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def _score(metrics: dict[str, Any], side: str, key: str) -> str:
    value = metrics.get(side, {}).get(key, {})
    mean, std = value.get("mean"), value.get("std")
    if mean is None:
        return "-"
    return f"{mean:.3f}" if std is None else f"{mean:.3f} ± {std:.3f}"


@app.command()
def train(
    name: Annotated[str, typer.Argument(help="Model name, e.g. wildfire-occurrence")],
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Trainer option KEY=VALUE (e.g. features=weather+FWI)")] = None,
    source: Source = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Train a new version of NAME, with a progress bar; print its metrics."""
    options: dict[str, Any] = {}
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep:
            typer.secho(f"error: --option {item!r}: use KEY=VALUE", fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
        options[key] = int(value) if value.isdigit() else value
    console = Console()
    with _service(config, data_dir, source) as service, Progress(
            TextColumn("[bold]training " + name), BarColumn(), MofNCompleteColumn(),
            TextColumn("fits"), TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(name, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        meta = service.train_sync(name, options, by=_user(), progress=progress)
    table = Table(title=f"{name} version {meta.version}: {meta.metrics.get('protocol', '')}")
    table.add_column("metric")
    table.add_column(meta.algorithm)
    table.add_column(str(meta.metrics.get("baseline_name", "baseline")))
    for key in meta.metrics.get("model", {}):
        table.add_row(key, _score(meta.metrics, "model", key),
                      _score(meta.metrics, "baseline", key))
    console.print(table)
    console.print(meta.description)


@app.command("list")
def list_models(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Every model: versions, latest, aliases."""
    with _service(config, data_dir) as service:
        rows = service.list()
    table = Table()
    for column in ("name", "versions", "latest", "production", "staging"):
        table.add_column(column)
    for row in rows:
        aliases = row["aliases"]
        table.add_row(row["name"], str(row["versions"]), str(row["latest"] or "-"),
                      str(aliases.get("production", "-")), str(aliases.get("staging", "-")))
    Console().print(table)


@app.command()
def show(name: str, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """NAME's versions, aliases and alias moves, as JSON."""
    with _service(config, data_dir) as service:
        _echo_json(service.show(name))


@app.command()
def deploy(name: str, version: int, alias: Alias = "production", data_dir: DataDir = None,
           config: ConfigFile = None) -> None:
    """Point ALIAS of NAME at VERSION."""
    with _service(config, data_dir) as service:
        move = _run(lambda: service.deploy(name, version, alias, by=_user()))
    typer.echo(f"{name} {alias}: {move.from_version or '-'} -> {move.to_version}")


@app.command()
def rollback(name: str, alias: Alias = "production", data_dir: DataDir = None,
             config: ConfigFile = None) -> None:
    """Move ALIAS of NAME back to the version it held before."""
    with _service(config, data_dir) as service:
        move = _run(lambda: service.rollback(name, alias, by=_user()))
    typer.echo(f"{name} {alias}: {move.from_version} -> {move.to_version} (rolled back)")


@app.command()
def predict(
    name: str,
    rows: Annotated[str, typer.Option("--json", help='Rows as JSON: [{"feature": value}, ...] '
                                      "or [[values in feature order], ...]")],
    version: Annotated[str | None, typer.Option(
        help="Version number, production, staging or latest")] = None,
    level: Annotated[float | None, typer.Option(
        help="Coverage of a regressor's interval (0.5, 0.8, 0.9, 0.95) [default: 0.9]",
        show_default=False)] = None,
    site: Annotated[str | None, typer.Option(
        help="A forecaster's station whose learnt weights to use", show_default=False)] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Predict ROWS with NAME (production when set, else the latest version); the answer
    names the version and, for a regressor, gives an interval."""
    try:
        parsed = json.loads(rows)
    except json.JSONDecodeError as err:
        typer.secho(f"error: --json: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from err
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        typer.secho("error: --json: give a list of rows", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    ref: str | int | None = int(version) if version and version.isdigit() else version
    with _service(config, data_dir) as service:
        _echo_json(service.predict(name, parsed, ref, level=level, site=site))
