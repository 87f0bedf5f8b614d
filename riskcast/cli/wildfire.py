"""``riskcast wildfire evaluate``: the wildfire pack's models measured on the published data sets.

Fire occurrence on the Algerian Forest Fires data (two feature sets, repeated stratified CV and
cross-region tests, baselines beside the models) and burned area on the Montesinho data (a
reproduction of Cortez & Morais 2007). Prints the tables, writes ``results.json`` and ``roc.png``.
The machine-learning libraries are imported only when the command runs, so ``riskcast --help``
works without the ``ml`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from riskcast.exceptions import RiskcastError

if TYPE_CHECKING:
    from riskcast.packs.wildfire.burned_area import BurnedAreaReport
    from riskcast.packs.wildfire.occurrence import OccurrenceReport

app = typer.Typer(help="Wildfire pack: fire-occurrence and burned-area model evaluation.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def wildfire() -> None:
    """Wildfire pack: fire-occurrence and burned-area model evaluation."""


@app.command()
def evaluate(
    data: Annotated[Path | None, typer.Option(
        "--data", help="Folder holding algerian_forest_fires_2012_clean.csv and "
        "forestfires_montesinho_cortez2007.csv [default: shared/data beside the repository]",
        show_default=False)] = None,
    out: Annotated[Path, typer.Option(help="Where results.json and roc.png go")] = Path(
        "wildfire-eval"),
    repeats: Annotated[int, typer.Option(min=1, help="Repeats of each 10-fold CV")] = 5,
    quick: Annotated[bool, typer.Option(help="One repeat only (a first look, and the tests)")
                     ] = False,
    quantum: Annotated[bool, typer.Option(
        help="Add the PennyLane VQC row (needs `pip install pennylane`)")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the folds and the models")] = 0,
) -> None:
    """Evaluate the fire-occurrence and burned-area models; print tables, write the files."""
    console = Console()
    err_console = Console(stderr=True)
    try:
        from riskcast.packs.wildfire.occurrence import evaluate_all

        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("folds"), TimeElapsedColumn(), console=err_console) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done)

            evaluation = evaluate_all(data, repeats=repeats, quick=quick, quantum_model=quantum,
                                      seed=seed, progress=progress)
        results, png = evaluation.write(out)
    except RiskcastError as err:
        err_console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    print_occurrence(console, evaluation.occurrence)
    print_burned_area(console, evaluation.burned_area)
    console.print(f"wrote {results} and {png}")


def print_occurrence(console: Console, report: OccurrenceReport) -> None:
    """One table per protocol: accuracy, F1 and ROC AUC (mean ± std over folds) per model."""
    from riskcast.packs.wildfire.occurrence import LEAKAGE_NOTE

    for protocol, description in report.protocols.items():
        table = Table(title=f"Fire occurrence: {protocol}", caption=description,
                      title_justify="left")
        table.add_column("features", no_wrap=True)
        table.add_column("model", overflow="fold")
        for column in ("accuracy", "F1", "ROC AUC", "fit s"):
            table.add_column(column, justify="right", no_wrap=True)
        for row in report.rows:
            if row.protocol != protocol:
                continue
            if row.accuracy is None or row.f1 is None or row.roc_auc is None:
                table.add_row(row.feature_set, row.model, f"[dim]{row.status}[/dim]", "", "", "")
                continue
            table.add_row(row.feature_set, row.model, str(row.accuracy), str(row.f1),
                          str(row.roc_auc), f"{row.fit_seconds or 0.0:.2f}")
        console.print(table)
    counts = ", ".join(f"{name} {n}" for name, n in report.class_counts.items())
    console.print(f"Algerian Forest Fires 2012: {counts}; PennyLane {report.pennylane or 'absent'}")
    console.print(Panel(LEAKAGE_NOTE, title="leakage", border_style="yellow"))


def print_burned_area(console: Console, report: BurnedAreaReport) -> None:
    """The Montesinho table: MAD and RMSE (ha) per model beside the published figures."""
    table = Table(title="Burned area, Montesinho (Cortez & Morais 2007)", caption=report.protocol,
                  title_justify="left")
    for column in ("model", "MAD (ha)", "RMSE (ha)", "published"):
        table.add_column(column, justify="right" if "ha" in column else "left")
    for row in report.rows:
        table.add_row(row.model, str(row.mad), str(row.rmse), row.published)
    console.print(table)
