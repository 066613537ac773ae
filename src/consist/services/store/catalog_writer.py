"""Catalog writes off the hot path, never raised into a user's run.

The snapshot on disk is already the truth, and the record is in the durable
journal, when it reaches this writer. A write the catalog refuses (corrupt
file, disk full, a value the engine refuses) is logged as a warning and the
run is parked in the outbox with the reason; ``db sync`` indexes it later, or
lists it with that reason. A catalog that is only busy (another process
holds its lock, e.g. a read-only connection) is not a failure: the records
wait, in memory and in the journal, and are retried until they land.
"""

from __future__ import annotations

import logging
import threading
import time

from consist.domain import RunRecord, RunStatus
from consist.domain.errors import CatalogLocked
from consist.ports import Catalog, SupportsBulkRecord
from consist.services.store.journal import Journal
from consist.services.store.snapshots import SnapshotStore

logger = logging.getLogger("consist.catalog")
_MAX_BATCH = 256
_LINGER_SECONDS = 0.25
_RETRY_SECONDS = (0.5, 5.0)  # first and longest pause between tries on a locked catalog

# (submission number, journal sequence number or 0, record)
_Item = tuple[int, int, RunRecord]


class CatalogWriter:
    """Writes records to the catalog on a background thread, in submission order.

    ``flush()`` waits until everything submitted so far has been tried once:
    written, parked in the outbox, or waiting for a locked catalog. Reads in
    the Tracker see their own writes through ``LayeredCatalog`` either way.
    """

    def __init__(
        self,
        catalog: Catalog,
        snapshots: SnapshotStore,
        lock: threading.RLock,
        background: bool = True,
        journal: Journal | None = None,
    ) -> None:
        self._catalog = catalog
        self._snapshots = snapshots
        self._lock = lock
        self._background = background
        self._journal = journal
        self._cond = threading.Condition()
        self._incoming: list[_Item] = []
        self._waiting: list[_Item] = []  # tried, but the catalog was locked
        self._submitted = 0
        self._tried = 0
        self._stop = False
        self._stalled_at: float | None = None
        self._pause = _RETRY_SECONDS[0]
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        """Records tried and kept back by a locked catalog."""
        return len(self._waiting)

    def submit(self, record: RunRecord, journal_seq: int = 0) -> None:
        with self._cond:
            self._submitted += 1
            item = (self._submitted, journal_seq, record)
            if self._background:
                self._incoming.append(item)
                self._ensure_thread()
                self._cond.notify_all()
                return
        self._apply([*self._waiting, item])  # the caller's thread, in order

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record submitted so far was tried; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            while self._tried < target and self._thread is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> bool:
        """Stop the thread after a last try; True if nothing is left waiting."""
        with self._cond:
            self._stop = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=60)
        elif self._waiting and self._stalled_at is None:
            self._apply(list(self._waiting))
        with self._cond:
            self._thread = None
        if self._waiting:
            logger.warning(
                "the catalog stayed locked: %d run(s) wait in the journal (%s); the next "
                "Tracker on this run directory, or `consist db sync`, indexes them",
                len(self._waiting),
                self._journal.path if self._journal is not None else "none",
            )
        return not self._waiting

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._stop:
            self._thread = threading.Thread(
                target=self._drain, name="consist-catalog-writer", daemon=True
            )
            self._thread.start()

    def _drain(self) -> None:
        while True:
            with self._cond:
                if self._waiting and not self._incoming and not self._stop:
                    self._cond.wait(self._pause)  # retry then, or sooner for new records
                while not self._waiting and not self._incoming and not self._stop:
                    self._cond.wait()
                self._linger()
                batch, self._incoming = self._incoming, []
                stop = self._stop
            if stop and self._stalled_at is not None:
                # Locked at the last try: the journal keeps them for the next Tracker.
                self._waiting = [*self._waiting, *batch]
                return
            items = [*self._waiting, *batch]
            if items:
                self._apply(items)
            if stop:
                with self._cond:
                    if not self._incoming:
                        return

    def _linger(self) -> None:
        """Wait briefly (holding the condition) while the batch holds running runs.

        A short run's start and end records usually arrive within a fraction of
        a second: waiting that long lets the end supersede the start, halving
        catalog writes (and the churn they leave in the file). A long run still
        shows as running almost at once.
        """
        deadline = time.monotonic() + _LINGER_SECONDS
        while not self._stop and len(self._incoming) < _MAX_BATCH:
            records = [item[2] for item in self._incoming]
            running = {r.run.id for r in records if r.run.status is RunStatus.RUNNING}
            ended = {r.run.id for r in records if r.run.status is not RunStatus.RUNNING}
            remaining = deadline - time.monotonic()
            if not running - ended or remaining <= 0:
                return
            self._cond.wait(remaining)

    def _apply(self, items: list[_Item]) -> None:
        """Write ``items`` in order, in batches; what meets a locked catalog waits."""
        waiting: list[_Item] = []
        for start in range(0, len(items), _MAX_BATCH):
            span = items[start : start + _MAX_BATCH]
            if waiting or not self._write_span(span):
                waiting.extend(span)
        resumed = self._stalled_at is not None and not waiting
        if waiting and self._stalled_at is None:
            logger.warning(
                "the catalog is locked by another process; %d run(s) wait in the journal "
                "and are indexed when it is free (the runs themselves are safe)",
                len(waiting),
            )
            self._stalled_at = time.monotonic()
        if resumed:
            logger.info("the catalog is free again; waiting runs indexed")
            self._stalled_at = None
        self._pause = _RETRY_SECONDS[0] if not waiting else min(self._pause * 2, _RETRY_SECONDS[1])
        with self._cond:
            self._waiting = waiting
            self._tried = max(self._tried, *(item[0] for item in items))
            self._cond.notify_all()

    def _write_span(self, span: list[_Item]) -> bool:
        """One transaction for the span when the catalog can; False if it is locked."""
        latest = {item[2].run.id: item[2] for item in span}
        written = False
        if isinstance(self._catalog, SupportsBulkRecord) and len(latest) > 1:
            try:
                with self._lock:
                    self._catalog.record_many(list(latest.values()))
                written = True
            except CatalogLocked:
                return False
            except Exception:
                pass  # retry one by one below, so only the failing runs go to the outbox
        refused = set()
        if not written:
            for record in latest.values():
                outcome = self._write(record)
                if outcome is None:
                    return False  # the earlier ones are in: writing them again is harmless
                if not outcome:
                    refused.add(record.run.id)
        for run_id in latest.keys() - refused:
            self._snapshots.clear_pending(run_id)
        if self._journal is not None:
            last = max(span, key=lambda item: item[1])
            self._journal.applied(last[1], last[2].run.id)
        return True

    def _write(self, record: RunRecord) -> bool | None:
        """Write one record: True if written, False if refused (it goes to the outbox),
        None if the catalog is locked."""
        run_id = record.run.id
        try:
            with self._lock:
                self._catalog.record(record)
        except CatalogLocked:
            return None
        except Exception as exc:
            self._snapshots.mark_pending(run_id, f"{type(exc).__name__}: {exc}")
            logger.warning(
                "catalog write for run %r failed (%s: %s); the run is safe in its JSON "
                "snapshot and `consist db sync` will index it later",
                run_id,
                type(exc).__name__,
                exc,
            )
            return False
        return True
