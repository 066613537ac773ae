"""Catalog writes off the hot path, never raised into a user's run.

The snapshot on disk is already the truth when a record reaches this writer.
A write that fails (catalog locked, corrupt, disk full, a value the engine
refuses) is logged as a warning and the run is parked in the outbox with the
reason; ``db sync`` indexes it later, or lists it with that reason.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from consist.domain import RunRecord, RunStatus
from consist.ports import Catalog
from consist.services.snapshots import SnapshotStore

logger = logging.getLogger("consist.catalog")
_STOP = object()
_MAX_BATCH = 256
_LINGER_SECONDS = 0.25


class CatalogWriter:
    """Writes records to the catalog on a background thread, in submission order.

    ``flush()`` waits until everything submitted so far is written (or parked in
    the outbox); every catalog read in the Tracker flushes first, so a process
    always reads its own writes.
    """

    def __init__(
        self,
        catalog: Catalog,
        snapshots: SnapshotStore,
        lock: threading.RLock,
        background: bool = True,
    ) -> None:
        self._catalog = catalog
        self._snapshots = snapshots
        self._lock = lock
        self._background = background
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, record: RunRecord) -> None:
        if not self._background:
            self._write(record)
            return
        self._ensure_thread()
        self._queue.put(record)

    def flush(self) -> None:
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=60)
            self._thread = None

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._drain, name="consist-catalog-writer", daemon=True
                )
                self._thread.start()

    def _drain(self) -> None:
        while True:
            batch = [self._queue.get()]
            # Take whatever else is already queued: one transaction for many
            # records is far cheaper than one each, and a run's start record
            # is superseded by its end record if both are waiting.
            self._gather(batch)
            try:
                records = [item for item in batch if item is not _STOP]
                if records:
                    self._write_batch(records)
                if len(records) < len(batch):
                    return
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _gather(self, batch: list[Any]) -> None:
        """Add what else is queued to ``batch``; linger briefly while it holds running runs.

        A short run's start and end records usually arrive within a fraction of
        a second: waiting that long lets the end supersede the start, halving
        catalog writes (and the churn they leave in the file). A long run still
        shows as running almost at once.
        """
        deadline = time.monotonic() + _LINGER_SECONDS
        while len(batch) < _MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            records = [r for r in batch if r is not _STOP]
            running = {r.run.id for r in records if r.run.status is RunStatus.RUNNING}
            ended = {r.run.id for r in records if r.run.status is not RunStatus.RUNNING}
            waiting = running - ended
            remaining = deadline - time.monotonic()
            if not waiting or _STOP in batch or remaining <= 0:
                return
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                return

    def _write_batch(self, records: list[RunRecord]) -> None:
        latest = {record.run.id: record for record in records}
        bulk = getattr(self._catalog, "record_many", None)
        if bulk is not None and len(latest) > 1:
            try:
                with self._lock:
                    bulk(list(latest.values()))
            except Exception:
                pass  # retry one by one below, so only the failing runs go to the outbox
            else:
                for run_id in latest:
                    self._snapshots.clear_pending(run_id)
                return
        for record in latest.values():
            self._write(record)

    def _write(self, record: RunRecord) -> None:
        run_id = record.run.id
        try:
            with self._lock:
                self._catalog.record(record)
        except Exception as exc:
            self._snapshots.mark_pending(run_id, f"{type(exc).__name__}: {exc}")
            logger.warning(
                "catalog write for run %r failed (%s: %s); the run is safe in its JSON "
                "snapshot and `consist db sync` will index it later",
                run_id,
                type(exc).__name__,
                exc,
            )
        else:
            self._snapshots.clear_pending(run_id)
