"""riskcast: serve the platform, load files, compute indices, evaluate models."""

from __future__ import annotations

import typer

from riskcast import __version__
from riskcast.cli.backup import app as backup_app
from riskcast.cli.backup import restore
from riskcast.cli.db import app as db_app
from riskcast.cli.fwi import fwi
from riskcast.cli.ingest import ingest
from riskcast.cli.keys import app as keys_app
from riskcast.cli.rules import app as rules_app
from riskcast.cli.serve import serve
from riskcast.cli.wildfire import app as wildfire_app

app = typer.Typer(name="riskcast", help=__doc__, no_args_is_help=True,
                  pretty_exceptions_show_locals=False, add_completion=False)
app.command()(serve)
app.command()(ingest)
app.command()(fwi)
app.add_typer(wildfire_app, name="wildfire")
app.add_typer(rules_app, name="rules")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(backup_app, name="backup")
app.command()(restore)
try:
    from riskcast.cli.models import app as models_app
except ImportError:  # the ml extra is not installed: no `riskcast model`
    pass
else:
    app.add_typer(models_app, name="model")


@app.command()
def version() -> None:
    """Print riskcast's version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
