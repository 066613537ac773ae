"""``consist db sync|rebuild|check|vacuum``: keep the catalog an honest index of the snapshots."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from consist.cli._common import (
    CatalogOption,
    CliError,
    JsonOption,
    RunDirOption,
    console,
    emit_json,
    err_console,
    human_size,
    locate,
    open_tracker,
    reports_errors,
    tracker_for,
)
from consist.cli._sharing import print_pull
from consist.ports import SupportsVacuum

app = typer.Typer(help="Catalog maintenance: sync, rebuild, check, vacuum.", no_args_is_help=True)


@app.command("sync")
@reports_errors
def sync_command(
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Also import the runs published to this blob store URL (as `consist pull`).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Index snapshots the catalog lacks (and retry catalog writes that failed)."""
    with tracker_for(catalog, run_dir, blobs=source, must_exist=source is None) as tracker:
        pulled = tracker.pull() if source is not None else None
        synced = list(dict.fromkeys([*tracker.indexed_on_open, *tracker.sync()]))
        skipped = tracker.snapshots.pending_reasons()
    if as_json:
        extra = {"pulled": pulled.to_dict()} if pulled else {}
        emit_json({"synced": synced, "skipped": skipped, **extra})
    else:
        if pulled is not None:
            print_pull(pulled)
        indexed = ": " + ", ".join(synced) if synced else ""
        console.print(f"indexed {len(synced)} run(s)" + indexed)
    _exit_if_skipped(skipped)
    if pulled is not None and pulled.refused:
        raise typer.Exit(1)  # refused publications are listed above (or in "pulled")


def _exit_if_skipped(skipped: dict[str, str]) -> None:
    """List the runs left out of the catalog, with why, on stderr; exit 1 if there are any."""
    if not skipped:
        return
    err_console.print(
        f"[red]{len(skipped)} run(s) could not be indexed[/red] (left in the outbox):"
    )
    for run_id, reason in sorted(skipped.items()):
        err_console.print(
            f"  {escape(run_id)}: {escape(reason or 'unknown reason')}", soft_wrap=True
        )
    err_console.print("fix or remove their consist.json, then run `consist db sync` again")
    raise typer.Exit(1)


def _companions(path: Path) -> list[Path]:
    """The catalog file and the files its engine keeps beside it (DuckDB's WAL, SQLite's)."""
    names = [path, path.with_name(path.name + ".wal")]
    names += [path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")]
    return [p for p in names if p.exists()]


@app.command("rebuild")
@reports_errors
def rebuild_command(
    catalog: CatalogOption = None, run_dir: RunDirOption = None, as_json: JsonOption = False
) -> None:
    """Recreate the catalog from the consist.json snapshots; the old file is kept as a backup."""
    location = locate(catalog, run_dir)
    file = location.catalog_file
    if file is None:
        raise CliError(f"rebuild needs a catalog file, not {location.catalog_url}")
    if not location.run_dir.is_dir():
        raise CliError(f"no run directory at {location.run_dir}; nothing to rebuild from")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    moved: list[tuple[Path, Path]] = []
    for path in _companions(file):
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        shutil.move(path, backup)
        moved.append((path, backup))
    try:
        tracker = open_tracker(location, must_exist=False)
        try:
            runs = tracker.rebuild()
            artifacts = len(tracker.find_artifacts())
            skipped = tracker.snapshots.pending_reasons()
        finally:
            tracker.close()
    except BaseException:
        for path in _companions(file):
            path.unlink()
        for original, backup in moved:
            shutil.move(backup, original)
        raise
    backup_file = moved[0][1] if moved else None
    if as_json:
        emit_json(
            {
                "catalog": str(file),
                "backup": backup_file,
                "runs": runs,
                "artifacts": artifacts,
                "skipped": skipped,
            }
        )
    else:
        console.print(
            f"rebuilt {file} from {location.run_dir}: {runs} run(s), {artifacts} artifact(s)"
        )
        if backup_file is not None:
            console.print(f"the previous catalog is at {backup_file}")
    _exit_if_skipped(skipped)


@app.command("check")
@reports_errors
def check_command(
    catalog: CatalogOption = None, run_dir: RunDirOption = None, as_json: JsonOption = False
) -> None:
    """Read the whole catalog file and compare it with the snapshots (exit 1 on any finding).

    The catalog is opened on its own, without a Tracker, so nothing is synced,
    replayed or rebuilt before it is looked at.
    """
    from consist.container import build_catalog, build_tables
    from consist.services.store.catalog_check import check_catalog
    from consist.services.store.snapshots import SnapshotStore
    from consist.tracking import data_file_beside

    location = locate(catalog, run_dir)
    if location.catalog_file is not None and not location.catalog_file.exists():
        raise CliError(f"no catalog at {location.catalog_file}; nothing to check")
    if not location.run_dir.is_dir():
        raise CliError(f"no run directory at {location.run_dir}; pass --run-dir")
    # A DuckDB catalog holds the ingested tables itself; a SQLite one keeps them beside it.
    data_file = data_file_beside(location.catalog_url)
    report = check_catalog(
        lambda: build_catalog(location.catalog_url),
        SnapshotStore(location.run_dir),
        (lambda: build_tables(f"duckdb://{data_file}"))
        if data_file is not None and data_file.exists()
        else None,
    )
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_check(report, location.catalog_file or location.catalog_url)
    if not report.healthy:
        raise typer.Exit(1)


def _print_check(report: Any, where: Any) -> None:
    """The report as short lines that fit 80 columns: one per finding, then the fixes."""

    def section(title: str, items: list[str]) -> None:
        mark = "ok  " if not items else "FAIL"
        console.print(f"{mark} {title}" + ("" if not items else f" ({len(items)})"))
        for item in items[:20]:
            # Wrapped here, with a hanging indent, so the report reads well at 80 columns.
            text = textwrap.fill(item, width=78, initial_indent="  - ", subsequent_indent="    ")
            console.print(text, markup=False, soft_wrap=True)
        if len(items) > 20:
            console.print(f"  ... and {len(items) - 20} more (--json lists them all)")

    console.print(f"checking {where}")
    if report.integrity_checked:
        section("catalog file readable and consistent", list(report.problems))
    else:
        console.print("-    catalog file: this adapter offers no integrity check")
        if report.problems:
            section("catalog file", list(report.problems))
    if report.compared:
        section("every snapshot is in the catalog", list(report.not_in_catalog))
        section("every catalog run has a snapshot", list(report.without_snapshot))
        section(
            "run status agrees",
            [
                f"{m.run_id}: snapshot {m.snapshot}, catalog {m.catalog}"
                for m in report.status_mismatches
            ],
        )
        section("every snapshot is readable", list(report.unreadable_snapshots))
    else:
        console.print("FAIL snapshots not compared: the catalog could not be read")
    section("no catalog writes pending", list(report.pending_writes))
    if report.healthy:
        console.print("healthy")
        return
    if report.problems or not report.compared:
        console.print("fix: `consist db rebuild` recreates the catalog from the snapshots")
    elif report.not_in_catalog or report.pending_writes or report.status_mismatches:
        console.print("fix: `consist db sync` indexes snapshots the catalog lacks")


@app.command("vacuum")
@reports_errors
def vacuum_command(
    catalog: CatalogOption = None, run_dir: RunDirOption = None, as_json: JsonOption = False
) -> None:
    """Reclaim space in the catalog file (when its adapter supports it)."""
    location = locate(catalog, run_dir)
    file = location.catalog_file
    with tracker_for(catalog, run_dir) as tracker:
        if not isinstance(tracker.catalog, SupportsVacuum):
            raise CliError(f"{type(tracker.catalog).__name__} does not support vacuum")
        tracker.flush()
        before = file.stat().st_size if file is not None and file.exists() else None
        tracker.catalog.vacuum()
    after = file.stat().st_size if file is not None and file.exists() else None
    if as_json:
        emit_json(
            {"catalog": str(file) if file else None, "bytes_before": before, "bytes_after": after}
        )
        return
    console.print(
        f"vacuumed {file or location.catalog_url}: {human_size(before)} -> {human_size(after)}"
    )
