"""The `consist` command line: inspection and maintenance of runs and catalogs."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="consist",
    help="Provenance, caching and data virtualization for simulation workflows.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def demo() -> None:
    """Run the demo workflow on the embedded defaults (local files + DuckDB)."""
    typer.echo("consist demo: not yet available; the demo arrives with the Tracker.")


@app.callback()
def _root() -> None:
    """Provenance, caching and data virtualization for simulation workflows."""


def main() -> None:
    app()
