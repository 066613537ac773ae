"""Indexing snapshots into the catalog one at a time, so one bad snapshot never stops the rest.

``db sync`` and ``db rebuild`` go through here: a snapshot that cannot be read,
or that the catalog refuses, is parked in the outbox with its reason and the
next one is indexed. The caller lists what was parked and exits non-zero.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from consist.domain.errors import ConsistError
from consist.ports import Catalog
from consist.services.store.snapshots import SnapshotStore

logger = logging.getLogger("consist.catalog")


def describe(exc: BaseException) -> str:
    """One line for the outbox: the exception's type and message."""
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]


def index_snapshots(
    catalog: Catalog, lock: threading.RLock, snapshots: SnapshotStore, paths: Iterable[Path]
) -> tuple[list[str], dict[str, str]]:
    """Index each snapshot; returns the ids indexed and ``{run_id: reason}`` of those skipped."""
    indexed: list[str] = []
    skipped: dict[str, str] = {}
    for path in paths:
        run_id = path.parent.name
        try:
            record = snapshots.read_path(path)
            with lock:
                catalog.record(record)
        except (ConsistError, OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
            # The catalog adapters turn engine errors into CatalogError; encoding
            # errors (a lone surrogate in a hand-edited snapshot) are ValueErrors.
            reason = describe(exc)
            skipped[run_id] = reason
            snapshots.mark_pending(run_id, reason)
            logger.warning("snapshot %s skipped: %s", path, reason)
            continue
        snapshots.clear_pending(run_id)
        indexed.append(run_id)
    return indexed, skipped
