"""The run store: where run records live, and how the catalog is kept in line with them.

A record is written in this order (``docs/design/durability.md``): its JSON
snapshot under ``run_dir`` (the truth), the durable journal, this process's
read-your-writes layer, then the catalog on a background thread. ``sync`` and
``rebuild`` index snapshots the catalog lacks; ``recover`` runs the checks of
:mod:`.catalog_recovery` when a tracker opens.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path

from consist.domain import RunRecord, RunStatus
from consist.domain.errors import CatalogCorrupt, RunNotFound
from consist.domain.redaction import Redactor
from consist.ports import Catalog
from consist.services.store import catalog_recovery
from consist.services.store.catalog_reader import LayeredCatalog, RecentRecords
from consist.services.store.catalog_writer import CatalogWriter
from consist.services.store.journal import Journal
from consist.services.store.snapshot_indexing import index_snapshots
from consist.services.store.snapshots import SnapshotStore
from consist.services.store.sync_batch import SyncBatch


class RunStore:
    """Persists, reads back, syncs, rebuilds and recovers the records of one run directory.

    Parameters
    ----------
    run_dir
        Holds one ``<run_id>/consist.json`` snapshot per run, and ``.consist/``.
    catalog
        The durable index over the snapshots.
    recent
        An empty in-memory catalog the wiring supplies: this process's own records
        answer reads from it until the background writer has stored them.
    redactor
        Applied to every record before it is stored anywhere.
    background_writes
        False writes the catalog on the caller's thread (tests, debugging).
    progress
        Show a progress bar when many snapshots are indexed (None: on a terminal).
    """

    def __init__(
        self,
        run_dir: Path,
        catalog: Catalog,
        recent: RecentRecords,
        *,
        redactor: Redactor | None = None,
        background_writes: bool = True,
        progress: bool | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.catalog = catalog
        self.redactor = redactor or Redactor.of(None)
        self.progress = progress
        self.snapshots = SnapshotStore(run_dir)
        self.lock = threading.RLock()  # one catalog writer at a time in this process
        ephemeral = catalog_recovery.is_ephemeral(catalog)
        self.journal = None if ephemeral else Journal(run_dir / ".consist" / "journal")
        self.writer = CatalogWriter(
            catalog, self.snapshots, self.lock, background_writes, self.journal
        )
        self.reader = LayeredCatalog(catalog, recent)
        self.sync_batch: SyncBatch | None = None
        # Called with a run id when save_record replaces a run's record: whoever
        # derived something from the old one (a remembered signature) forgets it.
        self.on_replaced: list[Callable[[str], None]] = []
        self._closed = False

    # -- writing ---------------------------------------------------------------------

    def persist(self, record: RunRecord) -> RunRecord:
        """Snapshot first (the truth), then the journal, the in-process view, the catalog.

        A finished run's snapshot and journal entry are fsynced before this returns,
        so once acknowledged it reaches the catalog whatever happens to this process.
        Returns the record as stored (redacted).
        """
        record = self.redactor.record(record)
        finished = record.run.status is not RunStatus.RUNNING
        batch = self.sync_batch  # open while a sweep serves its hits: one fsync pass for all
        path = self.snapshots.write(record, durable=finished and batch is None)
        if finished and batch is not None:
            batch.add(path)
        self.resubmit(record, durable=finished and batch is None)
        return record

    @contextlib.contextmanager
    def one_sync(self) -> Iterator[None]:
        """Finished runs persisted inside are made durable together, in one fsync pass,
        on exit (``sync_batch.py``); nested uses join the outer pass."""
        if self.sync_batch is not None:
            yield
            return
        batch = self.sync_batch = SyncBatch()
        try:
            yield
        finally:
            self.sync_batch = None
            batch.commit(self.journal)

    def save_record(self, record: RunRecord) -> RunRecord:
        """Write a finished run's record (another machine's, or one of ours that changed):
        its snapshot here first, then the catalog. Returns the record as written."""
        saved = self.persist(record)
        for forget in self.on_replaced:
            forget(record.run.id)
        return saved

    def resubmit(self, record: RunRecord, durable: bool = False) -> None:
        """Queue ``record`` (whose snapshot is written) for the catalog, journaled."""
        seq = self.journal.append(record, durable) if self.journal is not None else 0
        self.reader.remember(record)
        self.writer.submit(record, seq)

    def remember(self, record: RunRecord) -> None:
        """Let this process's reads see ``record`` before the catalog holds it."""
        self.reader.remember(record)

    def flush(self) -> None:
        """Wait until every catalog write submitted so far has finished."""
        self.writer.flush()

    # -- reading ---------------------------------------------------------------------

    def run_exists(self, run_id: str) -> bool:
        """True if a snapshot or a catalog row exists for ``run_id``."""
        return self.snapshots.exists(run_id) or self.reader.has_run(run_id)

    def record_of(self, run_id: str) -> RunRecord:
        """A run's record as its snapshot holds it (the truth), else as the catalog does.

        Raises
        ------
        RunNotFound
            Neither knows the run.
        """
        if self.snapshots.exists(run_id):
            try:
                return self.snapshots.read(run_id)
            except CatalogCorrupt:
                pass
        try:
            return self.reader.get_record(run_id)
        except RunNotFound:
            raise RunNotFound(run_id) from None

    def local_run_ids(self) -> list[str]:
        """Ids of the runs with a snapshot in this run directory."""
        return [path.parent.name for path in self.snapshots.paths()]

    def catalog_change_token(self) -> Hashable | None:
        """Equal to an earlier token only if no run or artifact can have been recorded
        since, here or by another process; None when the catalog cannot tell."""
        return self.reader.change_token()

    # -- keeping the catalog in line ---------------------------------------------------

    def sync(self) -> list[str]:
        """Index every snapshot the catalog lacks or holds an older state of.

        Returns the ids of the runs (re)indexed. Runs whose catalog write failed
        earlier (the outbox) are always retried; one that fails again stays there
        with its reason (``snapshots.pending_reasons()``) and the rest go on.
        """
        self.flush()
        with self.lock:
            known = self.catalog.run_ids()
        pending = set(self.snapshots.pending())
        paths = [
            path
            for path in self.snapshots.paths()
            if path.parent.name not in known or path.parent.name in pending
        ]
        synced, _ = index_snapshots(self.catalog, self.lock, self.snapshots, paths)
        for run_id in pending - {path.parent.name for path in paths}:
            if not self.snapshots.exists(run_id):  # removed since: nothing left to index
                self.snapshots.clear_pending(run_id)
        return synced

    def rebuild(self) -> int:
        """Index every snapshot under ``run_dir`` into the catalog; returns the run count.

        With a fresh (empty) catalog this recreates it from the JSON truth alone.
        A snapshot that cannot be read or indexed is skipped and parked in the
        outbox with its reason (``snapshots.pending_reasons()``).
        """
        self.flush()
        paths = self.snapshots.paths()
        indexed, _ = index_snapshots(self.catalog, self.lock, self.snapshots, paths)
        return len(indexed)

    def recover(self, on_recorded: Callable[[RunRecord], None] = lambda record: None) -> list[str]:
        """Bring the catalog in line with the snapshots as a tracker opens; never raises
        a catalog error. Runs whose process died while they ran are marked failed, and
        ``on_recorded`` hears each of those records.

        Returns the ids of the runs indexed from their snapshots.
        """
        indexed = catalog_recovery.recover_on_open(self)
        catalog_recovery.recover_interrupted_runs(self, on_recorded)
        return indexed

    def close(self) -> None:
        """Finish pending catalog writes, record the high-water mark, close the catalog.
        Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        applied = self.writer.close()
        if self.journal is not None:
            self.journal.close()
            if applied and self.journal.last_applied is not None:
                catalog_recovery.write_mark(self, self.journal.last_applied)
        with self.lock:
            self.catalog.close()
