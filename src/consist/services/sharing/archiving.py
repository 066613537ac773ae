"""Outputs archived in the blob store when their run completes, and retried later.

When a run completes, the outputs it produced are stored in the blob store
(files as blobs, directories as ``put_tree`` manifests) and the digest is
recorded in the artifact's ``meta``: ``blob_digest`` for a file,
``blob_manifest`` for a directory. An artifact's id and ``content_hash`` are
not changed, so archiving never changes a signature. Archiving failures are
logged and the run completes anyway: its files are still on disk, and the
keys wait in ``meta["archive_pending"]`` for :meth:`OutputArchiver.archive_pending`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from consist.domain import Artifact, Direction, RunRecord, RunStatus
from consist.domain.digests import BLOB_DIGEST, is_digest
from consist.domain.errors import ConsistError, IntegrityError, InvalidInput, MissingFile
from consist.ports.blobs import BlobStore
from consist.services.sharing.archive import put_tree, tree_identity

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.store.run_store import RunStore

__all__ = [
    "ARCHIVE_PENDING",
    "BLOB_DIGEST",
    "BLOB_MANIFEST",
    "ArchivePolicy",
    "ArchiveReport",
    "OutputArchiver",
    "check_archive",
]

logger = logging.getLogger("consist.sharing")

BLOB_MANIFEST = "blob_manifest"
ARCHIVE_PENDING = "archive_pending"
PULLED_FROM = "pulled_from"  # a pulled run's files are on another machine
ARCHIVE_POLICIES = ("outputs", "none")

ArchivePolicy = str | tuple[str, ...]


def check_archive(policy: str | Sequence[str]) -> ArchivePolicy:
    """``"outputs"``, ``"none"``, or the output keys to archive (a list of strings).

    Raises
    ------
    InvalidInput
        For any other value.
    """
    if isinstance(policy, str):
        if policy not in ARCHIVE_POLICIES:
            raise InvalidInput(
                f"archive must be 'outputs', 'none' or a list of output keys, not {policy!r}"
            )
        return policy
    keys = tuple(policy)
    if not all(isinstance(key, str) and key for key in keys):
        raise InvalidInput(f"archive lists output keys, which must be non-empty strings: {keys!r}")
    return keys


@attrs.frozen
class ArchiveReport:
    """What :meth:`OutputArchiver.archive_pending` did: ``(run_id, output key)`` pairs."""

    archived: list[tuple[str, str]]
    pending: list[tuple[str, str]]  # failed again (store unreachable, file changed or gone)

    def to_dict(self) -> dict[str, list[list[str]]]:
        return {
            "archived": [list(pair) for pair in self.archived],
            "pending": [list(pair) for pair in self.pending],
        }


class OutputArchiver:
    """Stores the outputs runs produce in the blob store, as the archive policy says.

    Parameters
    ----------
    blobs
        The blob store; None archives nothing (and ``archive_pending`` refuses).
    policy
        ``"outputs"``, ``"none"`` or the output keys to archive (:func:`check_archive`).
    store
        The run store: the records to update when a retry succeeds.
    resolve_path
        The local path of an artifact (raises ``ConsistError`` for one that is
        not a file on this machine).
    strategy
        The hashing strategy: under ``"full"`` a directory's stored manifest must
        describe the bytes that were logged.
    """

    def __init__(
        self,
        blobs: BlobStore | None,
        policy: ArchivePolicy,
        store: RunStore,
        resolve_path: Callable[[Artifact], Path],
        strategy: str = "full",
    ) -> None:
        self.blobs = blobs
        self.policy = policy
        self.store = store
        self.resolve_path = resolve_path
        self.strategy = strategy

    def archive(self, active: ActiveRun) -> None:
        """Store the outputs ``active`` produced, as the policy says; never raises.

        Each archived artifact is linked again with its blob digest in ``meta``, so
        the run's final snapshot and catalog record carry it. The keys of outputs
        that could not be archived are listed in the run's ``meta["archive_pending"]``.
        """
        blobs, policy = self.blobs, self.policy
        if blobs is None or policy == "none" or not active.persist:
            return
        failed = []
        for key, artifact in active.outputs.items():
            if artifact.producer_run_id != active.run.id:
                continue  # a cache hit's outputs were archived by the run that produced them
            if isinstance(policy, tuple) and key not in policy:
                continue
            if BLOB_DIGEST in artifact.meta or BLOB_MANIFEST in artifact.meta:
                continue
            try:
                archived = self.archive_one(blobs, artifact)
            except Exception as exc:  # archiving is a copy; the run's own files stay put
                logger.warning(
                    "run %r: output %r was not archived to the blob store (%s: %s); its file "
                    "stays local until tracker.archive_pending() or `consist push` (or "
                    "`consist archive`) stores it",
                    active.run.id,
                    key,
                    type(exc).__name__,
                    exc,
                )
                failed.append(key)
                continue
            if archived is not None:
                active.link(archived, Direction.OUTPUT, key)
        if failed:
            active.run = attrs.evolve(
                active.run, meta={**active.run.meta, ARCHIVE_PENDING: sorted(failed)}
            )

    def archive_pending(self, run_ids: Iterable[str] | None = None) -> ArchiveReport:
        """Retry archiving the outputs whose archiving failed when their run ended.

        Looks at this machine's runs (all, or ``run_ids``) that list outputs in
        ``meta["archive_pending"]``. Each output is stored if its file is still
        here and unchanged; the run's snapshot and catalog record then carry its
        digest, and the key leaves ``archive_pending``. What fails again stays
        listed, with a warning. Runs pulled from elsewhere are left alone: their
        files are not on this machine.

        Raises
        ------
        InvalidInput
            There is no blob store.
        """
        blobs = self.blobs
        if blobs is None:
            raise InvalidInput(
                "archiving needs a blob store: Tracker(..., blobs='s3://bucket/prefix') "
                "or --blobs on the command line"
            )
        ids = list(run_ids) if run_ids is not None else self.store.local_run_ids()
        report = ArchiveReport([], [])
        # Across runs: a later run's record holds its own copy of an input archived
        # here, which must not overwrite the archived version.
        replaced: dict[str, Artifact] = {}
        for run_id in ids:
            record = self.store.record_of(run_id)
            keys = record.run.meta.get(ARCHIVE_PENDING)
            if not keys or PULLED_FROM in record.run.meta:
                continue
            if record.run.status is not RunStatus.COMPLETED:
                continue  # re-opened: archived again when it ends
            still = self._retry(blobs, record, keys, replaced, report)
            if still == list(keys):
                continue
            meta = {k: v for k, v in record.run.meta.items() if k != ARCHIVE_PENDING}
            if still:
                meta[ARCHIVE_PENDING] = still
            self.store.save_record(
                attrs.evolve(
                    record,
                    run=attrs.evolve(record.run, meta=meta),
                    artifacts=[replaced.get(a.id, a) for a in record.artifacts],
                )
            )
        return report

    def _retry(
        self,
        blobs: BlobStore,
        record: RunRecord,
        keys: list[str],
        replaced: dict[str, Artifact],
        report: ArchiveReport,
    ) -> list[str]:
        """Archive ``record``'s outputs named by ``keys``; the keys that failed again."""
        run_id = record.run.id
        outputs = record.artifacts_by_direction(Direction.OUTPUT)
        still = []
        for key in keys:
            artifact = outputs.get(key)
            if artifact is None:
                continue  # no such output any more: nothing to archive
            if BLOB_DIGEST in artifact.meta or BLOB_MANIFEST in artifact.meta:
                continue  # archived meanwhile
            try:
                archived = self.archive_one(blobs, artifact)
                if archived is None:
                    raise MissingFile(f"{artifact.uri} is no longer a file or folder here")
            except Exception as exc:
                logger.warning(
                    "run %r: output %r is still not archived (%s: %s)",
                    run_id,
                    key,
                    type(exc).__name__,
                    exc,
                )
                still.append(key)
                report.pending.append((run_id, key))
                continue
            replaced[artifact.id] = archived
            report.archived.append((run_id, key))
        return still

    def archive_one(self, blobs: BlobStore, artifact: Artifact) -> Artifact | None:
        """``artifact`` with the digest of its stored bytes in ``meta``; None when it is
        not a file or folder on this machine.

        Raises
        ------
        IntegrityError
            The bytes changed after they were logged.
        """
        try:
            path = self.resolve_path(artifact)
        except ConsistError:
            return None  # not a file on this machine (a table, a remote URI)
        if path.is_dir():
            digest = put_tree(blobs, path)
            expected = artifact.content_hash or ""
            if expected.startswith("dir:") and self.strategy == "full":
                stored = tree_identity(blobs, digest)
                if stored != expected:
                    raise IntegrityError(
                        f"{path} changed after it was logged (recorded {expected}, stored {stored})"
                    )
            return attrs.evolve(artifact, meta={**artifact.meta, BLOB_MANIFEST: digest})
        if path.is_file():
            digest = blobs.put(path)
            if is_digest(artifact.content_hash) and digest != artifact.content_hash:
                raise IntegrityError(
                    f"{path} changed after it was logged "
                    f"(recorded {artifact.content_hash}, stored {digest})"
                )
            return attrs.evolve(artifact, meta={**artifact.meta, BLOB_DIGEST: digest})
        return None
