"""``riskcast keys create|list|revoke``: API keys in the key store of a data dir or a
PostgreSQL storage, with or without a server running (a running server sees a new key
at once, and stops taking a revoked one within ``key_cache_ttl``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from riskcast.cli.options import ConfigFile, DataDir, StorageUrl, settings_from
from riskcast.core.clock import format_us, now_us
from riskcast.exceptions import RiskcastError
from riskcast.security.keys import NewKey, Role, clean_names
from riskcast.security.store import AuditRecord, KeyStore, open_key_store
from riskcast.settings import Settings

app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True,
                  add_completion=False)
T = TypeVar("T")
_CLI_ACTOR = ("cli", "command line")


@app.callback()
def keys() -> None:
    """API keys: create, list, revoke."""


def _run(settings_args: dict[str, object], action: Callable[[KeyStore], Awaitable[T]]) -> T:
    settings = settings_from(settings_args.pop("config"), **settings_args)  # type: ignore[arg-type]

    async def run() -> T:
        store = open_key_store(settings)
        await store.open()
        try:
            return await action(store)
        finally:
            await store.aclose()

    try:
        return asyncio.run(run())
    except RiskcastError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from err


@app.command()
def create(
    role: Annotated[str, typer.Option(help="viewer, operator or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses the key")] = "",
    packs: Annotated[str, typer.Option(help="Limit to these packs, comma-separated")] = "",
    sites: Annotated[str, typer.Option(help="Limit to these sites, comma-separated")] = "",
    data_dir: DataDir = None, config: ConfigFile = None, storage: StorageUrl = None,
) -> None:
    """Make a key and print it, once: it is stored only as a hash."""
    from riskcast.security.service import create_key

    try:
        parsed = Role.parse(role, field="--role")
        scope = (clean_names(packs, field="--packs"), clean_names(sites, field="--sites"))
    except RiskcastError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from err

    async def action(store: KeyStore) -> str:
        key, record = await create_key(store, name=name, role=parsed, packs=scope[0],
                                       sites=scope[1])
        await store.append_audit([AuditRecord(now_us(), *_CLI_ACTOR, "key.create", key.id,
                                              detail={"role": parsed.name})])
        typer.echo(f"created {record.role.name} key {record.id} ({record.name})"
                   + (f", packs {','.join(record.packs)}" if record.packs else "")
                   + (f", sites {','.join(record.sites)}" if record.sites else ""), err=True)
        return key.plaintext

    plaintext = _run({"config": config, "data_dir": data_dir, "storage": storage}, action)
    typer.echo(plaintext)
    typer.echo("Keep it now: it is shown only once.", err=True)


def _seconds(us: int) -> str:
    return format_us(us // 1_000_000 * 1_000_000)


@app.command("list")
def list_(data_dir: DataDir = None, config: ConfigFile = None,
          storage: StorageUrl = None) -> None:
    """Every key (never the key itself): id, role, scope, name, created, revoked."""

    async def action(store: KeyStore) -> None:
        records = await store.list_keys()
        if not records:
            typer.echo("no keys")
        for r in records:
            scope = ",".join([*(f"pack:{p}" for p in r.packs), *(f"site:{s}" for s in r.sites)])
            state = f"revoked {_seconds(r.revoked_us)}" if r.revoked_us else "active"
            typer.echo(f"{r.id:<12} {r.role.name:<9} {scope or 'all':<20} "
                       f"{_seconds(r.created_us):<22} {state:<31} {r.name}")

    _run({"config": config, "data_dir": data_dir, "storage": storage}, action)


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from keys list)")],
           data_dir: DataDir = None, config: ConfigFile = None,
           storage: StorageUrl = None) -> None:
    """Revoke a key: refused at once by new processes, within key_cache_ttl by running ones."""

    async def action(store: KeyStore) -> bool:
        done = await store.revoke_key(key_id, now_us())
        if done:
            await store.append_audit([AuditRecord(now_us(), *_CLI_ACTOR, "key.revoke",
                                                  key_id)])
        return done

    if not _run({"config": config, "data_dir": data_dir, "storage": storage}, action):
        typer.secho(f"error: no active key {key_id!r}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def print_first_admin_key(settings: Settings) -> None:
    """On the first start with an empty key store (auth on, no ``admin_key`` setting),
    make an admin key and print it once, with a dashboard link that signs in with it."""
    if not settings.auth or settings.admin_key:
        return
    from riskcast.security.service import bootstrap_admin_key

    async def run() -> NewKey | None:
        store = open_key_store(settings)
        await store.open()
        try:
            key = await bootstrap_admin_key(store)
            if key is not None:
                await store.append_audit([AuditRecord(now_us(), "-", "first start",
                                                      "key.create", key.id,
                                                      detail={"role": "admin"})])
            return key
        finally:
            await store.aclose()

    try:
        key = asyncio.run(run())
    except RiskcastError as err:
        typer.secho(f"error: key store: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from err
    if key is None:
        return
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(
        "First start: riskcast made an admin key. It is shown only this once; keep it.\n"
        f"  admin key   {key.plaintext}\n"
        f"  dashboard   {base}/?key={key.plaintext}\n"
        "Make more with `riskcast keys create --role viewer|operator|admin`.")
