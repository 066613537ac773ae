"""Outputs archived in the blob store, and run snapshots shared through it.

Archiving: when a run completes, the outputs it produced are stored in the
tracker's blob store (files as blobs, directories as ``put_tree`` manifests)
and the digest is recorded in the artifact's ``meta``: ``blob_digest`` for a
file, ``blob_manifest`` for a directory. An artifact's id and ``content_hash``
are not changed, so archiving never changes a signature. Archiving failures
are logged and the run completes anyway: its files are still on disk.

Sharing: :func:`push` publishes run snapshots as named objects
``snapshots/<run_id>.json`` in the same store; :func:`pull` imports them into
another machine's catalog and run directory, marking each imported run with
``meta["pulled_from"]`` (the store's URL, without user information or query)
and ``meta["pulled_version"]`` (the publication's version token, so that a
later pull skips it until it is published again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import Artifact, Direction, RunRecord, RunStatus
from consist.domain.digests import BLOB_DIGEST, file_blob_digest, is_digest
from consist.domain.errors import (
    CatalogCorrupt,
    ConsistError,
    IntegrityError,
    InvalidInput,
    MissingFile,
    RunNotFound,
    UntrustedSnapshot,
)
from consist.ports import SupportsURL
from consist.ports.blobs import BlobStore, SupportsNamedObjects, SupportsNamedVersions
from consist.services.sharing.archive import (
    get_tree,
    manifest_digest,
    put_tree,
    read_manifest,
)
from consist.services.sharing.pull_checks import check_known_artifacts, check_published
from consist.services.store.snapshots import check_run_id, snapshot_document

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.tracker import Tracker

__all__ = [
    "ARCHIVE_PENDING",
    "BLOB_DIGEST",
    "BLOB_MANIFEST",
    "PULLED_FROM",
    "PULLED_VERSION",
    "SNAPSHOT_PREFIX",
    "ArchiveReport",
    "ArchivedCopy",
    "PullReport",
    "PushReport",
    "archive_outputs",
    "archive_pending",
    "archived_copies",
    "check_archive",
    "file_blob_digest",
    "publishable",
    "pull",
    "push",
    "restore",
]

logger = logging.getLogger("consist.sharing")

BLOB_MANIFEST = "blob_manifest"
ARCHIVE_PENDING = "archive_pending"
PULLED_FROM = "pulled_from"
PULLED_VERSION = "pulled_version"
_PULL_MARKS = frozenset({PULLED_FROM, PULLED_VERSION})
SNAPSHOT_PREFIX = "snapshots/"
ARCHIVE_POLICIES = ("outputs", "none")
_USERINFO = re.compile(r"//[^/@]*@")

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


# -- archiving -----------------------------------------------------------------------


def archive_outputs(tracker: Tracker, active: ActiveRun) -> None:
    """Store the outputs ``active`` produced, as its archive policy says; never raises.

    Each archived artifact is linked again with its blob digest in ``meta``, so
    the run's final snapshot and catalog record carry it. The keys of outputs
    that could not be archived are listed in the run's ``meta["archive_pending"]``
    for :func:`archive_pending` to retry.
    """
    policy: ArchivePolicy = tracker.archive
    if tracker.blobs is None or policy == "none" or not active.persist:
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
            archived = _archive_one(tracker, tracker.blobs, artifact)
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


@attrs.frozen
class ArchiveReport:
    """What :func:`archive_pending` did: ``(run_id, output key)`` pairs."""

    archived: list[tuple[str, str]]
    pending: list[tuple[str, str]]  # failed again (store unreachable, file changed or gone)

    def to_dict(self) -> dict[str, list[list[str]]]:
        return {
            "archived": [list(pair) for pair in self.archived],
            "pending": [list(pair) for pair in self.pending],
        }


def archive_pending(tracker: Tracker, run_ids: Iterable[str] | None = None) -> ArchiveReport:
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
        The tracker has no blob store.
    """
    blobs = tracker.blobs
    if blobs is None:
        raise InvalidInput(
            "archiving needs a blob store: Tracker(..., blobs='s3://bucket/prefix') "
            "or --blobs on the command line"
        )
    ids = list(run_ids) if run_ids is not None else _local_run_ids(tracker)
    report = ArchiveReport([], [])
    # Across runs: a later run's record holds its own copy of an input archived
    # here, which must not overwrite the archived version.
    replaced: dict[str, Artifact] = {}
    for run_id in ids:
        record = _record_of(tracker, run_id)
        keys = record.run.meta.get(ARCHIVE_PENDING)
        if not keys or PULLED_FROM in record.run.meta:
            continue
        if record.run.status is not RunStatus.COMPLETED:
            continue  # re-opened: archived again when it ends
        outputs = record.artifacts_by_direction(Direction.OUTPUT)
        still = []
        for key in keys:
            artifact = outputs.get(key)
            if artifact is None:
                continue  # no such output any more: nothing to archive
            if BLOB_DIGEST in artifact.meta or BLOB_MANIFEST in artifact.meta:
                continue  # archived meanwhile
            try:
                archived = _archive_one(tracker, blobs, artifact)
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
        if still == list(keys):
            continue
        meta = {k: v for k, v in record.run.meta.items() if k != ARCHIVE_PENDING}
        if still:
            meta[ARCHIVE_PENDING] = still
        tracker.save_record(
            attrs.evolve(
                record,
                run=attrs.evolve(record.run, meta=meta),
                artifacts=[replaced.get(a.id, a) for a in record.artifacts],
            )
        )
    return report


def _archive_one(tracker: Tracker, blobs: BlobStore, artifact: Artifact) -> Artifact | None:
    try:
        path = tracker.resolve_path(artifact)
    except ConsistError:
        return None  # not a file on this machine (a table, a remote URI)
    if path.is_dir():
        digest = put_tree(blobs, path)
        expected = artifact.content_hash or ""
        if expected.startswith("dir:") and tracker.hasher.strategy == "full":
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


def tree_identity(blobs: BlobStore, manifest: str) -> str:
    """The ``dir:`` content hash (full strategy) of the directory a manifest describes."""
    hasher = hashlib.sha256()
    for rel, entry in sorted(read_manifest(blobs, manifest).items()):
        hasher.update(f"{rel}\x00{entry.digest}\n".encode())
    return f"dir:{hasher.hexdigest()}"


# -- fetching --------------------------------------------------------------------------


def restore(tracker: Tracker, artifact: Artifact, destination: Path) -> Path | None:
    """Fetch an artifact's bytes from the blob store to ``destination``, verified.

    Returns None when there is no blob store or it does not hold the artifact.

    Raises
    ------
    IntegrityError
        The stored bytes do not match their digest; ``destination`` is untouched.
    """
    blobs = tracker.blobs
    if blobs is None:
        return None
    manifest = artifact.meta.get(BLOB_MANIFEST)
    digest = file_blob_digest(artifact)
    try:
        if is_digest(manifest):
            if not blobs.exists(manifest):
                return None
            return get_tree(blobs, manifest, destination)
        if digest is None or not blobs.exists(digest):
            return None
        return blobs.get(digest, destination)
    except IntegrityError:
        logger.warning(
            "artifact %r (%s): the blob store returned corrupted bytes; they were refused",
            artifact.key,
            artifact.uri,
        )
        raise


# -- push and pull ---------------------------------------------------------------------


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


@attrs.frozen
class PullReport:
    """What :func:`pull` did, by run id."""

    imported: list[str]
    unchanged: list[str]
    conflicts: list[str]  # a local run of this id that was not pulled; left alone
    refused: list[str]  # published snapshots that failed a check (services/sharing/pull_checks.py)
    reasons: dict[str, str] = attrs.field(factory=dict)  # refused run id -> field: why

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def publishable(record: RunRecord) -> bytes:
    """The bytes published for a run: canonical JSON, without the ``pulled_*`` marks.

    A pulled run therefore publishes exactly what was pulled, which keeps
    pushing back to the same store a no-op.
    """
    meta = {k: v for k, v in record.run.meta.items() if k not in _PULL_MARKS}
    run = attrs.evolve(record.run, meta=meta)
    document = snapshot_document(attrs.evolve(record, run=run))
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def push(tracker: Tracker, run_ids: Iterable[str] | None = None) -> PushReport:
    """Publish run snapshots to the blob store (all runs, or ``run_ids``); idempotent.

    Outputs whose archiving failed when their run ended are archived first
    (:func:`archive_pending`), so that what is published records their blobs.

    Raises
    ------
    InvalidInput
        No blob store, or one that cannot keep named objects.
    RunNotFound
        A run id that this tracker does not know.
    """
    store = _named_store(tracker, "push")
    ids = list(run_ids) if run_ids is not None else _local_run_ids(tracker)
    retried = archive_pending(tracker, ids)
    existing = set(store.list_named(SNAPSHOT_PREFIX))
    published, unchanged, skipped = [], [], []
    for run_id in ids:
        record = _record_of(tracker, run_id)
        if record.run.status is RunStatus.RUNNING:
            skipped.append(run_id)
            continue
        name = f"{SNAPSHOT_PREFIX}{check_run_id(run_id)}.json"
        payload = publishable(tracker.redactor.record(record))  # also for older snapshots
        if name in existing and store.read_named(name) == payload:
            unchanged.append(run_id)
            continue
        store.write_named(name, payload)
        published.append(run_id)
    return PushReport(published, unchanged, skipped, retried.archived, retried.pending)


def pull(tracker: Tracker, run_ids: Iterable[str] | None = None) -> PullReport:
    """Import published snapshots (all, or ``run_ids``) into this tracker's catalog.

    Each is written as a local snapshot (so ``db rebuild`` keeps it) with
    ``meta["pulled_from"]``, and, when the store can tell
    (``SupportsNamedVersions``), the publication's version token in
    ``meta["pulled_version"]``. Runs of this machine with the same id are
    never replaced; a pulled run whose publication changed is updated. A
    pulled run whose publication still has the version it was imported at
    is not downloaded again.

    Raises
    ------
    InvalidInput
        No blob store, or one that cannot keep named objects.
    """
    store = _named_store(tracker, "pull")
    wanted = set(run_ids) if run_ids is not None else None
    source = source_of(store)
    if isinstance(store, SupportsNamedVersions):
        listed = store.named_versions(SNAPSHOT_PREFIX)
    else:
        listed = dict.fromkeys(store.list_named(SNAPSHOT_PREFIX))
    report = PullReport([], [], [], [])
    for name, version in sorted(listed.items()):
        run_id = name[len(SNAPSHOT_PREFIX) :].removesuffix(".json")
        if not name.endswith(".json") or (wanted is not None and run_id not in wanted):
            continue
        local = _local_record(tracker, run_id)
        if local is not None and version is not None and _pulled_at(local, source) == version:
            report.unchanged.append(run_id)  # imported from this very publication
            continue
        payload = store.read_named(name)
        record = _parse(tracker, payload, run_id, report)
        if record is None:
            continue
        if local is not None and publishable(local) == payload:
            if version is not None and _pulled_at(local, source) is not None:
                _import(
                    tracker, local, source, version
                )  # remember the version: no download next time
            report.unchanged.append(run_id)
        elif local is not None and PULLED_FROM not in local.run.meta:
            logger.warning("pull: run %r exists here and was not pulled; kept as is", run_id)
            report.conflicts.append(run_id)
        else:
            _import(tracker, record, source, version)
            report.imported.append(run_id)
    return report


def _local_record(tracker: Tracker, run_id: str) -> RunRecord | None:
    try:
        check_run_id(run_id)
    except InvalidInput:
        return None  # _parse refuses it
    return tracker.snapshots.read(run_id) if tracker.snapshots.exists(run_id) else None


def _pulled_at(local: RunRecord, source: str) -> str | None:
    """The publication version a run was pulled at from ``source``: "" if it was pulled
    from there before versions were recorded, None if it was not pulled from there."""
    if local.run.meta.get(PULLED_FROM) != source:
        return None
    version = local.run.meta.get(PULLED_VERSION)
    return version if isinstance(version, str) else ""


def _import(tracker: Tracker, record: RunRecord, source: str, version: str | None) -> None:
    meta = {k: v for k, v in record.run.meta.items() if k not in _PULL_MARKS}
    meta[PULLED_FROM] = source
    if version is not None:
        meta[PULLED_VERSION] = version
    tracker.save_record(attrs.evolve(record, run=attrs.evolve(record.run, meta=meta)))


def source_of(store: object) -> str:
    """A store's URL for the record: user information and query string removed."""
    url = store.url if isinstance(store, SupportsURL) and store.url else type(store).__name__
    return _USERINFO.sub("//", url).partition("?")[0].partition("#")[0]


def _parse(tracker: Tracker, payload: bytes, run_id: str, report: PullReport) -> RunRecord | None:
    try:
        record = check_published(payload, run_id)
        check_known_artifacts(record, tracker.get_artifact)
        return record
    except UntrustedSnapshot as exc:
        logger.warning("pull: %s", exc)
        report.refused.append(run_id)
        report.reasons[run_id] = f"{exc.field}: {exc.reason}"
        return None


def _named_store(tracker: Tracker, action: str) -> Any:
    store = tracker.blobs
    if store is None:
        raise InvalidInput(
            f"{action} needs a blob store: Tracker(..., blobs='s3://bucket/prefix') "
            "or --blobs on the command line"
        )
    if not isinstance(store, SupportsNamedObjects):
        raise InvalidInput(f"{type(store).__name__} cannot keep named objects; {action} needs one")
    return store


def _local_run_ids(tracker: Tracker) -> list[str]:
    return [path.parent.name for path in tracker.snapshots.paths()]


def _record_of(tracker: Tracker, run_id: str) -> RunRecord:
    if tracker.snapshots.exists(run_id):
        try:
            return tracker.snapshots.read(run_id)
        except CatalogCorrupt:
            pass
    try:
        return tracker.get_record(run_id)
    except RunNotFound:
        raise RunNotFound(run_id) from None


# -- local copies that are safe to delete ------------------------------------------


@attrs.frozen
class ArchivedCopy:
    """A local output file or directory whose exact bytes the blob store holds."""

    run_id: str
    step: str | None
    key: str
    path: Path
    digest: str


def archived_copies(tracker: Tracker, artifacts: Iterable[Artifact]) -> list[ArchivedCopy]:
    """The local copies among ``artifacts`` (outputs) that may be deleted and fetched back.

    A copy qualifies when the artifact records a blob digest, the local bytes
    still hash to it, and the store holds that digest (for a directory: its
    manifest, read and verified, and every file the manifest lists).
    """
    blobs = tracker.blobs
    if blobs is None:
        return []
    found = []
    for artifact in artifacts:
        manifest = artifact.meta.get(BLOB_MANIFEST)
        digest = manifest if is_digest(manifest) else artifact.meta.get(BLOB_DIGEST)
        if not is_digest(digest) or artifact.producer_run_id is None:
            continue
        try:
            path = tracker.resolve_path(artifact)
            if not _local_matches(tracker, path, digest, is_dir=digest == manifest):
                continue
            if not _stored(blobs, digest, tree=digest == manifest):
                continue
            run = tracker.get_run(artifact.producer_run_id)
        except (ConsistError, OSError):
            continue
        found.append(ArchivedCopy(run.id, run.model, artifact.key, path, digest))
    return found


def _local_matches(tracker: Tracker, path: Path, digest: str, *, is_dir: bool) -> bool:
    if is_dir:
        return path.is_dir() and manifest_digest(path, tracker.hasher.content_hash) == digest
    return path.is_file() and tracker.hasher.content_hash(path) == digest


def _stored(blobs: BlobStore, digest: str, *, tree: bool) -> bool:
    if not blobs.exists(digest):
        return False
    if not tree:
        return True
    return all(blobs.exists(entry.digest) for entry in read_manifest(blobs, digest).values())
