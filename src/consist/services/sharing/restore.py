"""Archived outputs fetched back from the blob store, and local copies safe to delete."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from consist.domain import Artifact, Run
from consist.domain.digests import BLOB_DIGEST, file_blob_digest, is_digest
from consist.domain.errors import ConsistError, IntegrityError
from consist.ports.blobs import BlobStore
from consist.services.sharing.archive import get_tree, manifest_digest, read_manifest
from consist.services.sharing.archiving import BLOB_MANIFEST

__all__ = ["ArchivedCopy", "archived_copies", "restore"]

logger = logging.getLogger("consist.sharing")


def restore(blobs: BlobStore | None, artifact: Artifact, destination: Path) -> Path | None:
    """Fetch an artifact's bytes from the blob store to ``destination``, verified.

    Returns None when there is no blob store or it does not hold the artifact.

    Raises
    ------
    IntegrityError
        The stored bytes do not match their digest; ``destination`` is untouched.
    """
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


@attrs.frozen
class ArchivedCopy:
    """A local output file or directory whose exact bytes the blob store holds."""

    run_id: str
    step: str | None
    key: str
    path: Path
    digest: str


def archived_copies(
    blobs: BlobStore | None,
    artifacts: Iterable[Artifact],
    *,
    resolve_path: Callable[[Artifact], Path],
    content_hash: Callable[[Path], str],
    get_run: Callable[[str], Run],
) -> list[ArchivedCopy]:
    """The local copies among ``artifacts`` (outputs) that may be deleted and fetched back.

    A copy qualifies when the artifact records a blob digest, the local bytes
    still hash to it (``content_hash``: SHA-256 of a file), and the store holds
    that digest (for a directory: its manifest, read and verified, and every
    file the manifest lists).
    """
    if blobs is None:
        return []
    found = []
    for artifact in artifacts:
        manifest = artifact.meta.get(BLOB_MANIFEST)
        digest = manifest if is_digest(manifest) else artifact.meta.get(BLOB_DIGEST)
        if not is_digest(digest) or artifact.producer_run_id is None:
            continue
        is_dir = digest == manifest
        try:
            path = resolve_path(artifact)
            if is_dir:
                matches = path.is_dir() and manifest_digest(path, content_hash) == digest
            else:
                matches = path.is_file() and content_hash(path) == digest
            if not matches or not _stored(blobs, digest, tree=is_dir):
                continue
            run = get_run(artifact.producer_run_id)
        except (ConsistError, OSError):
            continue
        found.append(ArchivedCopy(run.id, run.model, artifact.key, path, digest))
    return found


def _stored(blobs: BlobStore, digest: str, *, tree: bool) -> bool:
    if not blobs.exists(digest):
        return False
    if not tree:
        return True
    return all(blobs.exists(entry.digest) for entry in read_manifest(blobs, digest).values())
