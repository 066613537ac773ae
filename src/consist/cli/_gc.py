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

``--archived --blobs URL`` also collects the local copy of any output, current
or not, that is safely archived: the artifact records a blob digest, the local
bytes still hash to it, and the store holds it (see ``services/sharing/restore.py``).
Such a file comes back from the store when something reads it.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Annotated, Any

import attrs
import typer

from consist.cli._common import (
    BlobsOption,
    CatalogOption,
    CliError,
    JsonOption,
    RunDirOption,
    cell_text,
    console,
    emit_json,
    human_size,
    reports_errors,
    tracker_for,
)
from consist.cli._fit import Col, fitted_table
from consist.domain import Artifact, Direction, Run, RunQuery, RunStatus
from consist.domain.errors import ConsistError
from consist.services.sharing.restore import archived_copies
from consist.services.store.snapshots import SNAPSHOT_NAME

app = typer.Typer()


@attrs.frozen
class Collectable:
    """One file ``gc`` may delete, and the run that wrote it."""

    run_id: str
    step: str | None
    key: str
    path: Path
    size: int
    reason: str = "superseded"  # or "archived": the blob store holds the same bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "step": self.step,
            "key": self.key,
            "path": str(self.path),
            "size": self.size,
            "reason": self.reason,
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


def plan_archived(tracker: Any, planned: list[Collectable]) -> list[Collectable]:
    """Local copies of outputs the blob store safely holds, beyond those already ``planned``."""
    root = Path(tracker.run_dir).resolve()
    taken = {item.path for item in planned}
    candidates = []
    for artifact in tracker.find_artifacts():
        producer = _producer(tracker, artifact)
        if producer is None or producer.status is not RunStatus.COMPLETED or producer.cache_hit:
            continue
        path = _local_path(tracker, artifact)
        if path is None or path in taken or path.name == SNAPSHOT_NAME:
            continue
        if _inside(path, root) and path != root / producer.id and path.exists():
            candidates.append(artifact)
    found = [
        Collectable(c.run_id, c.step, c.key, c.path.resolve(), _size(c.path), "archived")
        for c in archived_copies(
            tracker.blobs,
            candidates,
            resolve_path=tracker.resolve_path,
            content_hash=tracker.hasher.content_hash,
            get_run=tracker.get_run,
        )
    ]
    return sorted(found, key=lambda c: (c.run_id, c.key))


def _producer(tracker: Any, artifact: Artifact) -> Run | None:
    if artifact.producer_run_id is None:
        return None
    with contextlib.suppress(ConsistError):
        run: Run = tracker.get_run(artifact.producer_run_id)
        return run
    return None


def delete(item: Collectable) -> None:
    if item.path.is_dir() and not item.path.is_symlink():
        shutil.rmtree(item.path)
    else:
        item.path.unlink(missing_ok=True)


GC_COLUMNS = [
    Col("run", whole=True),
    Col("step", drop=2),
    Col("key"),
    Col("why", drop=1),
    Col("size"),
    Col("path"),
]


@app.command("gc")
@reports_errors
def gc_command(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete the files listed.")] = False,
    archived: Annotated[
        bool,
        typer.Option(
            "--archived",
            help="Also delete local copies of outputs the blob store (--blobs) safely holds.",
        ),
    ] = False,
    blobs: BlobsOption = None,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """List (then with --yes delete) output files of superseded runs nothing depends on.

    Snapshots and catalog rows are kept: provenance survives, only bytes go.
    With --archived, archived outputs go too; they are fetched back when read.
    """
    if archived and not blobs:
        raise CliError("--archived needs the blob store: pass --blobs URL or set $CONSIST_BLOBS")
    with tracker_for(catalog, run_dir, blobs=blobs if archived else None) as tracker:
        items = plan(tracker)
        if archived:
            items += plan_archived(tracker, items)
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
    rows = [
        [i.run_id, cell_text(i.step), i.key, i.reason, human_size(i.size), str(i.path)]
        for i in items
    ]
    verb = "deleted" if yes else "would delete"
    title = f"{verb} {len(items)} file(s), {human_size(total)}"
    console.print(fitted_table(title, GC_COLUMNS, rows, console.width))
    if not yes:
        console.print("dry run: pass --yes to delete them (snapshots and catalog rows stay)")
