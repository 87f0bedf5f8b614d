"""``riskcast ingest FILE``: load a CSV or Parquet file through the API's validation."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from riskcast.cli.options import ConfigFile, DataDir, StorageUrl, settings_from
from riskcast.core.sites import Site
from riskcast.exceptions import RiskcastError
from riskcast.ingest.files import FileMapping, iter_chunks, read_table
from riskcast.settings import Settings


def ingest(
    file: Annotated[Path, typer.Argument(help="A .csv or .parquet file")],
    mapping: Annotated[str | None, typer.Option(
        "--map", "--mapping", help="Columns: site=COL,variable=COL,time=COL,value=COL "
        "(wide format: also COL=VARIABLE)", show_default=False)] = None,
    wide: Annotated[bool, typer.Option(help="One row per time, a column per variable")] = False,
    site: Annotated[str | None, typer.Option(help="Wide format: every row is this site",
                                             show_default=False)] = None,
    create_sites: Annotated[bool, typer.Option(
        help="Create unknown sites (in --pack) instead of refusing their readings")] = False,
    pack: Annotated[str, typer.Option(help="Pack of created sites")] = "generic",
    data_dir: DataDir = None,
    config: ConfigFile = None,
    storage: StorageUrl = None,
) -> None:
    """Store a file's readings; refused rows are counted by reason and listed."""
    settings = settings_from(config, data_dir=data_dir, storage=storage)
    console = Console(stderr=True)
    try:
        summary = asyncio.run(_run(settings, file, FileMapping.parse(mapping, wide=wide, site=site),
                                   create_sites, pack, console))
    except RiskcastError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    accepted, refused, examples = summary
    console.print(f"[green]{accepted}[/green] readings stored, "
                  f"[{'red' if refused else 'green'}]{sum(refused.values())}[/] refused")
    if refused:
        table = Table("reason", "rows", "first rows (0-based)")
        for reason, count in refused.most_common(20):
            table.add_row(reason, str(count), ", ".join(map(str, examples[reason][:5])))
        console.print(table)
        raise typer.Exit(1)


async def _run(settings: Settings, file: Path, mapping: FileMapping, create_sites: bool,
               pack: str, console: Console) -> tuple[int, Counter[str], dict[str, list[int]]]:
    from riskcast.api.runtime import Runtime

    table = read_table(file)
    rt = Runtime(settings)
    await rt.storage.open()
    await rt.bus.start()
    await rt.pipeline.start()
    accepted = 0
    refused: Counter[str] = Counter()
    examples: dict[str, list[int]] = {}
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("rows"), TimeRemainingColumn(), console=console,
                      transient=False) as progress:
            task = progress.add_task(file.name, total=table.num_rows)
            for chunk in iter_chunks(table, mapping):
                if create_sites:
                    for item in chunk.items:
                        if item is not None and item.site not in rt.pipeline.sites:
                            await rt.pipeline.put_site(Site(id=item.site, name=item.site,
                                                            pack=pack))
                result = await rt.pipeline.ingest(chunk.items, f"file:{file.name}",
                                                  rejected=list(chunk.rejected))
                accepted += result.accepted
                for r in result.rejected:
                    reason = _reason(r.error)
                    refused[reason] += 1
                    examples.setdefault(reason, []).append(chunk.rows[r.index])
                progress.update(task, completed=(chunk.rows[-1] + 1) if chunk.rows else 0)
            progress.update(task, completed=table.num_rows)
    finally:
        await rt.pipeline.aclose()
        await rt.bus.aclose()
        await rt.storage.aclose()
    return accepted, refused, examples


def _reason(error: str) -> str:
    """Group messages that differ only in the value they quote."""
    return error.split(" '")[0].split(" is ")[0] if "'" in error else error
