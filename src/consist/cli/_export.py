"""``consist export openlineage``: the catalog's runs as OpenLineage events, one JSON per line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from consist.cli._common import (
    CatalogOption,
    RunDirOption,
    get_run_or_fail,
    reports_errors,
    tracker_for,
)
from consist.cli._run_ids import complete_run_id
from consist.domain.errors import InvalidInput

app = typer.Typer(help="Write the catalog's runs in other tools' formats.", no_args_is_help=True)


@app.command("openlineage")
@reports_errors
def openlineage_command(
    runs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[RUN...]",
            help="Run ids, or unique beginnings of them (default: every run).",
            show_default=False,
            autocompletion=complete_run_id,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
    ] = None,
    namespace: Annotated[
        str,
        typer.Option(
            "--namespace",
            "-n",
            help="OpenLineage job namespace (the tracker's, by default consist).",
        ),
    ] = "consist",
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
) -> None:
    """OpenLineage RunEvents (START, then COMPLETE or FAIL) of runs, as JSON lines.

    They are the events a Tracker(openlineage=...) emits live for the same runs,
    oldest run first; send them on with e.g. a loop of curl -X POST.
    """
    from consist.integrations.openlineage import EventBuilder, lookup_in
    from consist.integrations.openlineage.naming import check_namespace

    try:
        check_namespace(namespace)
    except InvalidInput as exc:  # a malformed command line: usage error, exit code 2
        raise typer.BadParameter(str(exc), param_hint="'--namespace'") from None
    with tracker_for(catalog, run_dir) as tracker:
        builder = EventBuilder(namespace, lookup_in(tracker.get_run))
        if runs:
            chosen = [get_run_or_fail(tracker, run_id) for run_id in dict.fromkeys(runs)]
        else:
            chosen = tracker.find_runs(limit=None)
        chosen = sorted(chosen, key=lambda run: (run.created_at, run.id))
        lines = [
            json.dumps(event, sort_keys=True)
            for run in chosen
            for event in builder.events(tracker.get_record(run.id))
        ]
    text = "".join(line + "\n" for line in lines)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"--out {str(out)!r}: cannot write it ({exc.strerror})") from None
    typer.echo(f"wrote {len(lines)} events of {len(chosen)} runs to {out}", err=True)
