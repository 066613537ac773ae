"""One fsync pass for many finished runs, so a sweep's cache hits are acknowledged together.

While a batch is open, finished runs' snapshots and journal entries are written
without fsync; :meth:`SyncBatch.commit` then fsyncs every snapshot (in parallel
threads, which the filesystem commits as a group) and the journal once. Nothing
in the batch is acknowledged to the caller before the commit returns.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consist.services.store.journal import Journal


class SyncBatch:
    def __init__(self) -> None:
        self.paths: list[Path] = []

    def add(self, path: Path) -> None:
        self.paths.append(path)

    def commit(self, journal: Journal | None) -> None:
        if self.paths:
            with ThreadPoolExecutor(max_workers=min(32, len(self.paths))) as pool:
                list(pool.map(_fsync_file, self.paths))
            self.paths.clear()
        if journal is not None:
            journal.sync()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
