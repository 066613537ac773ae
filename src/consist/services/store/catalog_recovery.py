"""Bringing the catalog back in line with the snapshots when a Tracker opens.

Three checks, all cheap when there is nothing to do (see
``docs/design/durability.md``):

1. Journal segments left by processes that are gone hold the records they
   acknowledged but had not written to the catalog: they are taken over and
   written now. Segments of live processes (a busy catalog) are read so their
   runs serve cache hits here too.
2. A catalog with no runs while the run directory holds snapshots (deleted,
   emptied or replaced file) is rebuilt from the snapshots, with a warning.
3. A catalog that lacks a run it is known to have held (the high-water mark:
   the last run a tracker saw applied, kept in ``.consist/catalog-mark.json``
   and in leftover segments) went backwards (a deleted write-ahead log, an
   older copy put back): the snapshots it lacks are indexed again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import RunQuery, RunRecord, RunStatus
from consist.domain.errors import ConsistError
from consist.files import write_atomically
from consist.ports import (
    Catalog,
    SupportsEphemeral,
    SupportsFilePath,
    SupportsRunExists,
    SupportsURL,
)
from consist.services.store.journal import Leftover, SegmentClaim, read_segment, segments
from consist.services.store.snapshot_indexing import index_snapshots
from consist.services.store.snapshots import SNAPSHOT_NAME

if TYPE_CHECKING:
    from consist.services.store.run_store import RunStore

logger = logging.getLogger("consist.catalog")
MARK_NAME = "catalog-mark.json"
_CHUNK = 256


def is_ephemeral(catalog: Catalog) -> bool:
    """A catalog that forgets everything when the process ends: nothing to recover."""
    if isinstance(catalog, SupportsEphemeral) and catalog.ephemeral:
        return True
    return isinstance(catalog, SupportsFilePath) and catalog.path == ":memory:"


def catalog_key(catalog: Catalog) -> str:
    """Names the catalog in the high-water mark file: its file, else its URL, else its type."""
    if isinstance(catalog, SupportsFilePath):
        return os.path.abspath(catalog.path)
    if isinstance(catalog, SupportsURL) and catalog.url:
        return catalog.url
    return type(catalog).__name__


def recover_on_open(store: RunStore) -> list[str]:
    """Run the three checks of this module's docstring; never raises a catalog error.

    Returns the ids of the runs it indexed from their snapshots.
    """
    journal = store.journal
    if journal is None:
        return []
    indexed: list[str] = []
    claims: list[SegmentClaim] = []
    dead: list[Leftover] = []
    for path in segments(journal.directory, own=journal.path):
        claim = SegmentClaim(path)
        if claim.acquire():
            claims.append(claim)
            dead.append(read_segment(path))
        else:  # a live writer's (its catalog is busy): its finished runs serve hits here
            for record in read_segment(path).unapplied:
                if record.run.status is not RunStatus.RUNNING:
                    store.remember(record)
    try:
        replay = [_restore_snapshot(store, record) for left in dead for record in left.unapplied]
        witnesses = [w for w in (read_mark(store), *(left.witness for left in dead)) if w]
        try:
            indexed = _reconcile(store, witnesses)
        except Exception as exc:  # never fail the tracker's start over the catalog
            logger.warning(
                "could not compare the catalog with the snapshots (%s: %s); its runs are "
                "safe in their snapshots and `consist db sync` indexes them",
                type(exc).__name__,
                exc,
            )
        # Even after a re-index: sync skips runs the catalog holds in an older state.
        for i, record in enumerate(replay):
            store.resubmit(record, durable=i == len(replay) - 1)
        if replay:
            logger.info("%d run(s) from an interrupted process queued for the catalog", len(replay))
    finally:
        for claim in claims:
            claim.release(remove=True)  # their records are in our own segment now
    return indexed


def _restore_snapshot(store: RunStore, journaled: RunRecord) -> RunRecord:
    """The snapshot's record; a snapshot lost to a power cut is written back from the journal."""
    try:
        return store.snapshots.read(journaled.run.id)
    except (ConsistError, OSError):
        logger.warning("run %r lost its snapshot; restored from the journal", journaled.run.id)
        store.snapshots.write(journaled)
        return journaled


def _reconcile(store: RunStore, witnesses: list[str]) -> list[str]:
    """Rebuild or re-sync when the catalog is behind the snapshots; the runs it indexed."""
    catalog = store.catalog
    where = catalog_key(catalog)
    if not catalog.find_runs(RunQuery(limit=1)):
        if not _any_snapshot(store.snapshots.run_dir):
            return []
        logger.info("the catalog %s holds no runs: indexing the snapshots", where)
        rebuilt = _reindex(store, only_missing=False)
        count = len(rebuilt)
        if count:
            logger.warning(
                "the catalog %s held no runs but %s holds their snapshots (a deleted, emptied "
                "or replaced catalog): rebuilt it from them, %d run(s)",
                where,
                store.run_dir,
                count,
            )
        write_mark(store)
        return rebuilt
    lost = [w for w in dict.fromkeys(witnesses) if not _has_run(catalog, w)]
    if witnesses and not lost:
        return []
    synced = _reindex(store, only_missing=True)
    if lost or synced:
        logger.warning(
            "the catalog %s lacked runs it had held (%s; a deleted write-ahead log or an "
            "older copy of the file?): indexed %d run(s) from the snapshots",
            where,
            ", ".join(lost[:3]) or "no high-water mark yet",
            len(synced),
        )
    write_mark(store)
    return synced


def _has_run(catalog: Catalog, run_id: str) -> bool:
    if isinstance(catalog, SupportsRunExists):
        return catalog.has_run(run_id)
    return run_id in catalog.run_ids()


def _any_snapshot(run_dir: Path) -> bool:
    if not run_dir.is_dir():
        return False
    with os.scandir(run_dir) as entries:
        for entry in entries:
            if (
                entry.is_dir()
                and not entry.name.startswith(".")
                and (Path(entry.path) / SNAPSHOT_NAME).is_file()
            ):
                return True
    return False


# -- the high-water mark ---------------------------------------------------------


def read_mark(store: RunStore) -> str | None:
    """The last run this run directory saw applied to this catalog, if recorded."""
    try:
        marks: dict[str, Any] = json.loads((_mark_path(store)).read_text())
        value = marks.get(catalog_key(store.catalog))
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def write_mark(store: RunStore, run_id: str | None = None) -> None:
    """Record ``run_id`` (default: the catalog's newest run) as applied to this catalog."""
    try:
        if run_id is None:
            newest = store.catalog.find_runs(RunQuery(limit=1))
            if not newest:
                return
            run_id = newest[0].id
        path = _mark_path(store)
        try:
            marks = json.loads(path.read_text())
        except (OSError, ValueError):
            marks = {}
        if not isinstance(marks, dict):
            marks = {}
        marks[catalog_key(store.catalog)] = run_id
        write_atomically(path, iter([json.dumps(marks, indent=1).encode()]), durable=False)
    except (ConsistError, OSError) as exc:
        logger.debug("could not record the catalog high-water mark: %s", exc)


def _mark_path(store: RunStore) -> Path:
    return store.run_dir / ".consist" / MARK_NAME


# -- re-indexing ---------------------------------------------------------------------


def _reindex(store: RunStore, only_missing: bool) -> list[str]:
    """Index the snapshots of finished runs (those the catalog lacks, if ``only_missing``).

    Runs still marked active are left out: their owner may be alive and about
    to write a newer state, or is gone and they are about to be marked failed.
    Unreadable or refused snapshots wait in the outbox (``snapshot_indexing``).
    """
    known = store.catalog.run_ids() if only_missing else set()
    active = store.snapshots.active_runs()
    paths = [
        path
        for path in store.snapshots.paths()
        if path.parent.name not in known and path.parent.name not in active
    ]
    with_bar = _with_progress(paths, store.progress)
    indexed, _ = index_snapshots(store.catalog, store.lock, store.snapshots, with_bar)
    return indexed


def _with_progress(paths: list[Path], progress: bool | None) -> Iterator[Path]:
    show = progress if progress is not None else sys.stderr.isatty()
    if not show or len(paths) < 50:
        yield from paths
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("indexing run snapshots into the catalog", total=len(paths))
        for path in paths:
            yield path
            bar.advance(task)


def recover_interrupted_runs(
    store: RunStore, on_recorded: Callable[[RunRecord], None] = lambda record: None
) -> None:
    """Mark failed the runs whose process ended while they were running; ``on_recorded``
    hears each record written (the tracker's events)."""
    for run_id in store.snapshots.abandoned():
        try:
            record = store.snapshots.read(run_id)
        except (ConsistError, OSError):
            store.snapshots.clear_active(run_id)
            continue
        if record.run.status is RunStatus.RUNNING:
            owner = record.run.meta.get("pid")
            failed = record.run.failed(
                "Interrupted",
                f"the process running it (pid {owner}) ended before the run finished",
            )
            saved = store.save_record(attrs.evolve(record, run=failed))
            logger.warning("run %r was interrupted; marked failed", run_id)
            on_recorded(saved)
        store.snapshots.clear_active(run_id)


def set_aside(file: Path, label: str) -> Path:
    """Move a catalog file and the files its engine keeps beside it to ``<name>.<label>-<time>``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    names = [file.name + s for s in ("", ".wal", "-wal", "-shm", "-journal")]
    for name in names:
        path = file.with_name(name)
        if path.exists():
            path.rename(path.with_name(f"{name}.{label}-{stamp}"))
    return file.with_name(f"{file.name}.{label}-{stamp}")
