"""``riskcast rules check FILE`` and ``riskcast rules load FILE``: alert rules from YAML.

``check`` validates only; ``load`` validates, then stores the file's routes and rules into
``<data_dir>/alerts.db`` (a running server picks them up within ``rules_reload``, 10 s).
Both exit 1 naming the field at fault, e.g. ``rules[2].condition.above``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from riskcast.cli.options import ConfigFile, DataDir, settings_from
from riskcast.exceptions import RiskcastError, ValidationError

app = typer.Typer(help="Alert rules: check and load YAML rules files.", no_args_is_help=True,
                  add_completion=False)

RulesFile = Annotated[Path, typer.Argument(help="A YAML file with 'routes' and 'rules'",
                                           show_default=False)]


@app.callback()
def rules() -> None:
    """Alert rules: check and load YAML rules files."""


def _fail(path: Path, err: RiskcastError) -> typer.Exit:
    field = getattr(err, "field", None)
    typer.secho(f"error: {path}: {err}", fg=typer.colors.RED, err=True)
    if field:
        typer.echo(f"field: {field}", err=True)
    return typer.Exit(1)


def _known_packs() -> set[str]:
    from riskcast.packs.registry import discover

    return set(discover())


async def _stored_routes(db: Path, exists: bool) -> set[str]:
    from riskcast.alerts.sqlite import SqliteAlertStore

    if not exists:
        return set()
    store = SqliteAlertStore(db)
    await store.open()
    try:
        _, routes = await store.rules()
        return {r.name for r in routes}
    finally:
        await store.aclose()


@app.command()
def check(
    file: RulesFile,
    data_dir: DataDir = None,
) -> None:
    """Validate a rules file (routes named in it, built-in ``log``, and, with --data-dir,
    routes already stored); exit 1 with the field at fault."""
    from riskcast.alerts.files import load_rule_file

    try:
        db = data_dir / "alerts.db" if data_dir else None
        known = asyncio.run(_stored_routes(db, db.exists())) if db else set()
        parsed = load_rule_file(file, known_routes=known, known_packs=_known_packs())
    except RiskcastError as err:
        raise _fail(file, err) from err
    typer.echo(f"ok: {file}: {len(parsed.rules)} rule(s), {len(parsed.routes)} route(s)")


@app.command()
def load(
    file: RulesFile,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Validate a rules file, then store its routes and rules into <data_dir>/alerts.db
    (replacing rules and routes of the same id or name)."""
    settings = settings_from(config, data_dir=data_dir)
    db = settings.data_dir / "alerts.db"
    try:
        asyncio.run(_load(file, db, db.exists()))
    except RiskcastError as err:
        raise _fail(file, err) from err


async def _load(file: Path, db: Path, exists: bool) -> None:
    from riskcast.alerts.files import load_rule_file, store_rule_file
    from riskcast.alerts.sqlite import SqliteAlertStore
    from riskcast.core.clock import now_us

    parsed = load_rule_file(file, known_routes=await _stored_routes(db, exists),
                            known_packs=_known_packs())
    if not parsed.rules and not parsed.routes:
        raise ValidationError("the file holds no rules and no routes", field="rules")
    store = SqliteAlertStore(db)
    await store.open()
    try:
        await store_rule_file(store, parsed, now_us())
    finally:
        await store.aclose()
    typer.echo(f"loaded {len(parsed.rules)} rule(s) and {len(parsed.routes)} route(s) "
               f"into {db}")
