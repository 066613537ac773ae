"""``consist gc``: delete local output files nothing depends on any more, keeping provenance.

This is the ghost-mode workflow. A file is collectable only when all of these hold:

- it is an output artifact written by a completed run that executed (not a cache hit);
- that run is *superseded*: a newer completed run of the same step exists for the
  same scenario (parent run), year and iteration;
- no other run links any output of that run (no newer run reads it or reuses it
  through a cache hit, and no running run reads it);
- no run anywhere lists the same file as an input;
- the file lies inside the run directory (never a user's input, never elsewhere).

Snapshots and catalog rows are never touched, so ``consist show``, ``lineage``
and ``why`` keep working; a step whose output was collected is recomputed by
``validate_cached_outputs="strict"`` when it is needed again.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Annotated, Any

import attrs
import typer

from consist.cli._common import (
    CatalogOption,
    JsonOption,
    RunDirOption,
    console,
    emit_json,
    human_size,
    reports_errors,
    table,
    tracker_for,
)
from consist.domain import Artifact, Direction, Run, RunQuery, RunStatus
from consist.domain.errors import ConsistError
from consist.services.snapshots import SNAPSHOT_NAME

app = typer.Typer()


@attrs.frozen
class Collectable:
    """One file ``gc`` may delete, and the run that wrote it."""

    run_id: str
    step: str | None
    key: str
    path: Path
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "step": self.step,
            "key": self.key,
            "path": str(self.path),
            "size": self.size,
        }


def _slot(run: Run) -> tuple[Any, ...]:
    return (run.model, run.parent_run_id, run.year, run.iteration)


def _local_path(tracker: Any, artifact: Artifact) -> Path | None:
    with contextlib.suppress(ConsistError, OSError):
        return Path(tracker.resolve_path(artifact)).resolve()
    return None


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _inside(path: Path, root: Path) -> bool:
    return path != root and path.is_relative_to(root)


def plan(tracker: Any) -> list[Collectable]:
    """Every file ``gc`` would delete (see the module docstring for the rules)."""
    runs: list[Run] = tracker.find_runs(RunQuery())
    by_id = {run.id: run for run in runs}
    newest_in_slot: dict[tuple[Any, ...], Run] = {}
    for run in runs:
        if run.status is RunStatus.COMPLETED:
            best = newest_in_slot.get(_slot(run))
            if best is None or run.created_at > best.created_at:
                newest_in_slot[_slot(run)] = run
    artifacts: list[Artifact] = tracker.find_artifacts()
    links = {a.id: tracker.links_of_artifact(a.id) for a in artifacts}
    read_paths = {
        path
        for a in artifacts
        if any(link.direction is Direction.INPUT for link in links[a.id])
        and (path := _local_path(tracker, a)) is not None
    }
    used_runs = {
        a.producer_run_id
        for a in artifacts
        if any(link.run_id != a.producer_run_id for link in links[a.id])
    }
    root = Path(tracker.run_dir).resolve()
    found = []
    for artifact in artifacts:
        producer = by_id.get(artifact.producer_run_id or "")
        if producer is None or producer.status is not RunStatus.COMPLETED or producer.cache_hit:
            continue
        if newest_in_slot[_slot(producer)].id == producer.id or producer.id in used_runs:
            continue
        path = _local_path(tracker, artifact)
        if path is None or not path.exists() or path in read_paths or path.name == SNAPSHOT_NAME:
            continue
        if not _inside(path, root) or path == root / producer.id:
            continue
        found.append(Collectable(producer.id, producer.model, artifact.key, path, _size(path)))
    return sorted(found, key=lambda c: (c.run_id, c.key))


def delete(item: Collectable) -> None:
    if item.path.is_dir() and not item.path.is_symlink():
        shutil.rmtree(item.path)
    else:
        item.path.unlink(missing_ok=True)


@app.command("gc")
@reports_errors
def gc_command(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete the files listed.")] = False,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """List (then with --yes delete) output files of superseded runs nothing depends on.

    Snapshots and catalog rows are kept: provenance survives, only bytes go.
    """
    with tracker_for(catalog, run_dir) as tracker:
        items = plan(tracker)
        if yes:
            for item in items:
                delete(item)
    total = sum(item.size for item in items)
    if as_json:
        emit_json({"deleted": yes, "bytes": total, "files": [i.to_dict() for i in items]})
        return
    if not items:
        console.print("nothing to collect: every output file is current or still used")
        return
    rows = [[i.run_id, i.step, i.key, human_size(i.size), i.path] for i in items]
    verb = "deleted" if yes else "would delete"
    console.print(
        table(
            f"{verb} {len(items)} file(s), {human_size(total)}",
            ["run", "step", "key", "size", "path"],
            rows,
        )
    )
    if not yes:
        console.print("dry run: pass --yes to delete them (snapshots and catalog rows stay)")
