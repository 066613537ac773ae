"""``consist report``: one self-contained HTML page of the catalog's lineage, runs and timings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from consist.cli._common import (
    CatalogOption,
    JsonOption,
    RunDirOption,
    console,
    emit_json,
    reports_errors,
    tracker_for,
)

if TYPE_CHECKING:
    from consist.tracking import Tracker

app = typer.Typer()


def parse_since(value: str | None) -> dt.datetime | None:
    """``--since``: an ISO date or date-time (UTC unless it names a zone); exit 2 otherwise."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]",
            param_hint="--since",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def build_report(
    tracker: Tracker,
    *,
    scenario: str | None = None,
    since: dt.datetime | None = None,
    run_ids: Collection[str] | None = None,
    title: str = "Consist report",
) -> dict[str, Any]:
    """The report's data for ``tracker``'s catalog, with miss explanations and redaction."""
    from consist.report import gather

    tracker.flush()  # gather reads the catalog itself, not this process's pending writes
    return gather(
        tracker.catalog,
        scenario=scenario,
        since=since,
        run_ids=run_ids,
        explain=lambda run: tracker.explain(run).lines(),
        redactor=tracker.redactor,
        title=title,
        source=tracker.redactor.text(str(getattr(tracker.catalog, "url", "") or "")) or None,
    )


@app.command("report")
@reports_errors
def report_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="HTML file to write.", dir_okay=False)
    ] = Path("report.html"),
    scenario: Annotated[
        str | None, typer.Option("--scenario", "-s", help="Only this scenario (its id).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only runs started on or after this date (YYYY-MM-DD, UTC)."),
    ] = None,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write one self-contained HTML page: lineage graph, runs table, runtime and cache charts."""
    from consist.report import write_html

    moment = parse_since(since)
    with tracker_for(catalog, run_dir) as tracker:
        payload = build_report(tracker, scenario=scenario, since=moment)
    path = write_html(payload, out)
    summary = {
        "out": str(path),
        "runs": payload["scope"]["runs"],
        "graph_nodes": len(payload["graph"]["nodes"]),
        "graph_level": payload["graph"]["level"],
        "explained_misses": payload["explained"],
    }
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"wrote {path} ({summary['runs']} runs, {summary['graph_nodes']} graph nodes); "
        "open it in a browser, it needs no network"
    )
