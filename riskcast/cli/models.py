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
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from riskcast.cli.options import ConfigFile, DataDir, StorageUrl, settings_from
from riskcast.exceptions import MissingExtraError, RiskcastError, ValidationError
from riskcast.settings import Settings

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
             source: Path | None = None, storage: str | None = None) -> Iterator[ModelService]:
    settings = settings_from(config, data_dir=data_dir, storage=storage)
    err = Console(stderr=True)
    try:
        from riskcast.models.service import ModelService
        from riskcast.models.store import open_model_store

        service = ModelService(settings.data_dir, source_dir=source,
                               store=open_model_store(settings))
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
def status(name: str, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """NAME's production and staging versions, when deployed and their live metrics, as
    JSON (the live counters, shadow and drift figures are the server's:
    GET /api/v1/models/NAME/status)."""
    with _service(config, data_dir) as service:
        _echo_json(service.status(name))


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
    rows: Annotated[str | None, typer.Option(
        "--json", help='Rows as JSON: [{"feature": value}, ...] or [[values in feature '
        "order], ...]", show_default=False)] = None,
    start: Annotated[str | None, typer.Option(
        "--from", help="A stored range instead of rows: its start (RFC 3339); with --to and "
        "--site or --pack, the results are stored as the model's series",
        show_default=False)] = None,
    end: Annotated[str | None, typer.Option("--to", help="The end of the stored range",
                                            show_default=False)] = None,
    sites: Annotated[list[str] | None, typer.Option(
        "--site", help="A site of the stored range (repeat for more); without --from: a "
        "forecaster's station whose learnt weights to use", show_default=False)] = None,
    pack: Annotated[str | None, typer.Option(
        "--pack", help="Every site of this pack (stored range)", show_default=False)] = None,
    storage: StorageUrl = None,
    version: Annotated[str | None, typer.Option(
        help="Version number, production, staging or latest")] = None,
    level: Annotated[float | None, typer.Option(
        help="Coverage of a regressor's interval (0.5, 0.8, 0.9, 0.95) [default: 0.9]",
        show_default=False)] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Predict ROWS with NAME (production when set, else the latest version); the answer
    names the version and, for a regressor, gives an interval. With --from and --to: predict
    the stored range of --site or --pack with a progress bar and store the results."""
    ref: str | int | None = int(version) if version and version.isdigit() else version
    if start is not None or end is not None:
        settings = settings_from(config, data_dir=data_dir, storage=storage)
        try:
            result = asyncio.run(_predict_range(settings, name, start, end, sites, pack, ref))
        except RiskcastError as error:
            Console(stderr=True).print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from error
        _echo_json(result)
        return
    if rows is None:
        typer.secho("error: give --json rows, or --from and --to", fg=typer.colors.RED,
                    err=True)
        raise typer.Exit(2)
    if sites and len(sites) > 1:
        typer.secho("error: --site: one station without --from", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    site = sites[0] if sites else None
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
    with _service(config, data_dir) as service:
        _echo_json(service.predict(name, parsed, ref, level=level, site=site))


async def _predict_range(settings: Settings, name: str, start: str | None, end: str | None,
                         sites: list[str] | None, pack: str | None,
                         ref: str | int | None) -> dict[str, Any]:
    from riskcast.api.runtime import Runtime
    from riskcast.core.clock import parse_time

    if start is None or end is None:
        raise ValidationError("give both --from and --to", field="from" if start is None
                              else "to")
    begin, finish = parse_time(start, field="from"), parse_time(end, field="to")
    rt = Runtime(settings)
    if rt.models is None:
        raise MissingExtraError("scikit-learn", "ml")
    await rt.storage.open()
    await rt.bus.start()
    await rt.pipeline.start()
    try:
        with Progress(TextColumn(f"[bold]predicting {name}"), BarColumn(),
                      TaskProgressColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True)) as bar:
            task = bar.add_task(name, total=None)
            job = rt.models.predict_range(
                rt.pipeline, name, start=begin, end=finish, sites=sites, pack=pack, ref=ref,
                by=_user(), progress=lambda done, total: bar.update(task, completed=done,
                                                                     total=total))
            await job.finished.wait()
        if job.state != "succeeded":
            raise RiskcastError(f"batch prediction failed: {job.error}")
        return job.to_dict()
    finally:
        await rt.models.aclose()
        await rt.pipeline.aclose()
        await rt.bus.aclose()
        await rt.storage.aclose()
