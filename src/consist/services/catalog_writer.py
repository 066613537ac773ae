"""Catalog writes off the hot path, never raised into a user's run.

The snapshot on disk is already the truth when a record reaches this writer.
A write that fails (catalog locked, corrupt, disk full) is logged as a warning
and the run is marked pending in the outbox; ``db sync`` indexes it later.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from consist.domain import RunRecord
from consist.ports import Catalog
from consist.services.snapshots import SnapshotStore

logger = logging.getLogger("consist.catalog")
_STOP = object()


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
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._write(item)
            finally:
                self._queue.task_done()

    def _write(self, record: RunRecord) -> None:
        run_id = record.run.id
        try:
            with self._lock:
                self._catalog.record(record)
        except Exception as exc:
            self._snapshots.mark_pending(run_id)
            logger.warning(
                "catalog write for run %r failed (%s: %s); the run is safe in its JSON "
                "snapshot and `consist db sync` will index it later",
                run_id,
                type(exc).__name__,
                exc,
            )
        else:
            self._snapshots.clear_pending(run_id)
