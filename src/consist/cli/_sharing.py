"""``consist push`` / ``consist pull``: share run snapshots through a blob store, no server."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from consist.cli._common import (
    BlobsOption,
    CatalogOption,
    CliError,
    JsonOption,
    RunDirOption,
    console,
    emit_json,
    reports_errors,
    tracker_for,
)
from consist.cli._run_ids import complete_run_id, resolve_run_ids
from consist.services.sharing.pull import PullReport

app = typer.Typer()

RunIdsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Run ids, or unique beginnings of them (default: every run).",
        show_default=False,
        autocompletion=complete_run_id,
    ),
]
# Runs to pull are not in this catalog yet, so only whole ids name them.
PublishedIdsArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Full run ids as published (default: every run).", show_default=False),
]


def need_blobs(blobs: str | None, command: str) -> str:
    if not blobs:
        raise CliError(f"{command} needs a blob store: pass --blobs URL or set $CONSIST_BLOBS")
    return blobs


@app.command("push")
@reports_errors
def push_command(
    run_ids: RunIdsArgument = None,
    blobs: BlobsOption = None,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Publish run snapshots to the blob store so other machines can pull them."""
    url = need_blobs(blobs, "push")
    with tracker_for(catalog, run_dir, blobs=url) as tracker:
        report = tracker.push(resolve_run_ids(tracker, run_ids))
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(
        f"published {len(report.published)} run(s), {len(report.unchanged)} already there"
        + (f", {len(report.skipped)} still running (skipped)" if report.skipped else "")
    )
    print_archived(report.archived, report.unarchived)


@app.command("archive")
@reports_errors
def archive_command(
    run_ids: RunIdsArgument = None,
    blobs: BlobsOption = None,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Archive outputs whose archiving failed when their run ended (push does this too)."""
    url = need_blobs(blobs, "archive")
    with tracker_for(catalog, run_dir, blobs=url) as tracker:
        report = tracker.archive_pending(resolve_run_ids(tracker, run_ids))
    if as_json:
        emit_json(report.to_dict())
        return
    if not report.archived and not report.pending:
        console.print("nothing to archive: no output is waiting for the blob store")
    print_archived(report.archived, report.pending)


def print_archived(archived: list[tuple[str, str]], pending: list[tuple[str, str]]) -> None:
    """Outputs archived late, and those still waiting (the warnings say why)."""
    if archived:
        console.print(f"archived {len(archived)} output(s) whose archiving had failed")
    if pending:
        listed = ", ".join(f"{run_id}:{key}" for run_id, key in pending)
        console.print(f"still not archived (see the warnings above): {listed}")


@app.command("pull")
@reports_errors
def pull_command(
    run_ids: PublishedIdsArgument = None,
    blobs: BlobsOption = None,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import runs published to the blob store into this catalog (outputs fetched on demand)."""
    url = need_blobs(blobs, "pull")
    with tracker_for(catalog, run_dir, blobs=url, must_exist=False) as tracker:
        report = tracker.pull(run_ids or None)
    if as_json:
        emit_json(report.to_dict())
    else:
        print_pull(report)
    if report.refused:
        raise typer.Exit(1)  # an untrusted publication is a problem to look at, not a detail


def print_pull(report: PullReport) -> None:
    """The human summary of a pull (also used by ``db sync --from``)."""
    console.print(f"imported {len(report.imported)} run(s), {len(report.unchanged)} already here")
    if report.conflicts:
        console.print(f"kept local runs with the same id: {', '.join(report.conflicts)}")
    if report.refused:
        console.print(f"refused {len(report.refused)} publication(s), nothing of them imported:")
        for run_id in report.refused:
            console.print(f"  {escape(run_id)}: {escape(report.reasons.get(run_id, '?'))}")
