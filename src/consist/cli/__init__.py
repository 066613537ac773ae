"""The ``consist`` command line: inspect runs, query the catalog, maintain it, run the demo.

Every command takes ``--catalog`` and ``--run-dir`` (or ``CONSIST_CATALOG`` and
``CONSIST_RUN_DIR``; by default ``./provenance.duckdb`` and ``./runs``, or those
of ``./consist-demo/`` when only the demo's exist) and ``--json`` for scripts.
Expected errors print one line on stderr and exit with code 1; bad arguments
exit with code 2. ``--version`` prints the version; ``--install-completion``
and ``--show-completion`` set up shell completion (run ids included).
"""

from __future__ import annotations

from typing import Annotated

import typer

from consist.cli import _data, _db, _demo, _export, _gc, _lineage, _report, _runs, _sharing

app = typer.Typer(
    name="consist",
    help="Provenance, caching and data virtualization for simulation workflows.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from consist import __version__

        typer.echo(f"consist {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Provenance, caching and data virtualization for simulation workflows."""


for _group in (_runs.app, _lineage.app, _report.app, _data.app, _gc.app, _sharing.app, _demo.app):
    app.registered_commands += _group.registered_commands
app.add_typer(_db.app, name="db")
app.add_typer(_data.schema_app, name="schema")
app.add_typer(_export.app, name="export")


def main() -> None:
    """Entry point of the ``consist`` script."""
    app()


__all__ = ["app", "main"]
