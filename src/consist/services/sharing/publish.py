"""Run snapshots published to the blob store, for other machines to pull.

:func:`push` publishes run snapshots as named objects ``snapshots/<run_id>.json``
in the store that also holds the archived outputs; ``services/sharing/pull.py``
imports them elsewhere. What is published is canonical JSON without the marks a
pull adds (``meta["pulled_from"]``, ``meta["pulled_version"]``), so pushing a
pulled run back is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import RunRecord, RunStatus
from consist.domain.errors import InvalidInput
from consist.ports.blobs import BlobStore, SupportsNamedObjects
from consist.services.sharing.archiving import PULLED_FROM, OutputArchiver
from consist.services.store.snapshots import check_run_id, snapshot_document

if TYPE_CHECKING:
    from consist.services.store.run_store import RunStore

__all__ = [
    "PULLED_FROM",
    "PULLED_VERSION",
    "SNAPSHOT_PREFIX",
    "PushReport",
    "named_store",
    "publishable",
    "push",
]

PULLED_VERSION = "pulled_version"
PULL_MARKS = frozenset({PULLED_FROM, PULLED_VERSION})
SNAPSHOT_PREFIX = "snapshots/"


@attrs.frozen
class PushReport:
    """What :func:`push` did, by run id."""

    published: list[str]
    unchanged: list[str]
    skipped: list[str]  # still running: their snapshot is not final
    archived: list[tuple[str, str]] = attrs.field(factory=list)  # (run_id, key) retried now
    unarchived: list[tuple[str, str]] = attrs.field(factory=list)  # (run_id, key) still pending

    def to_dict(self) -> dict[str, list[Any]]:
        return {
            "published": self.published,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "archived": [list(pair) for pair in self.archived],
            "unarchived": [list(pair) for pair in self.unarchived],
        }


def publishable(record: RunRecord) -> bytes:
    """The bytes published for a run: canonical JSON, without the ``pulled_*`` marks.

    A pulled run therefore publishes exactly what was pulled, which keeps
    pushing back to the same store a no-op.
    """
    meta = {k: v for k, v in record.run.meta.items() if k not in PULL_MARKS}
    run = attrs.evolve(record.run, meta=meta)
    document = snapshot_document(attrs.evolve(record, run=run))
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def push(
    store: RunStore,
    blobs: BlobStore | None,
    archiver: OutputArchiver,
    run_ids: Iterable[str] | None = None,
) -> PushReport:
    """Publish run snapshots to ``blobs`` (all runs, or ``run_ids``); idempotent.

    Outputs whose archiving failed when their run ended are archived first
    (``archiver.archive_pending``), so that what is published records their blobs.

    Raises
    ------
    InvalidInput
        No blob store, or one that cannot keep named objects.
    RunNotFound
        A run id that the run store does not know.
    """
    named = named_store(blobs, "push")
    ids = list(run_ids) if run_ids is not None else store.local_run_ids()
    retried = archiver.archive_pending(ids)
    existing = set(named.list_named(SNAPSHOT_PREFIX))
    published, unchanged, skipped = [], [], []
    for run_id in ids:
        record = store.record_of(run_id)
        if record.run.status is RunStatus.RUNNING:
            skipped.append(run_id)
            continue
        name = f"{SNAPSHOT_PREFIX}{check_run_id(run_id)}.json"
        payload = publishable(store.redactor.record(record))  # also for older snapshots
        if name in existing and named.read_named(name) == payload:
            unchanged.append(run_id)
            continue
        named.write_named(name, payload)
        published.append(run_id)
    return PushReport(published, unchanged, skipped, retried.archived, retried.pending)


def named_store(blobs: BlobStore | None, action: str) -> SupportsNamedObjects:
    """``blobs`` as a store of named objects, which ``action`` (push, pull) needs.

    Raises
    ------
    InvalidInput
        There is no blob store, or it cannot keep named objects.
    """
    if blobs is None:
        raise InvalidInput(
            f"{action} needs a blob store: Tracker(..., blobs='s3://bucket/prefix') "
            "or --blobs on the command line"
        )
    if not isinstance(blobs, SupportsNamedObjects):
        raise InvalidInput(f"{type(blobs).__name__} cannot keep named objects; {action} needs one")
    return blobs
