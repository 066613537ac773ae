"""SHA-256 digests as names of blobs, and which blob holds a file artifact's bytes."""

from __future__ import annotations

import re
from typing import TypeGuard

from consist.domain.artifact import Artifact
from consist.domain.errors import InvalidInput

BLOB_DIGEST = "blob_digest"  # artifact meta key: the blob an archived file was stored as
_HEX64 = re.compile(r"[0-9a-f]{64}")


def is_digest(value: object) -> TypeGuard[str]:
    """A lower-case SHA-256 hex digest (what a blob is named by)."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def check_digest(digest: str) -> str:
    if not is_digest(digest):
        raise InvalidInput(f"{digest!r} is not a lower-case hex SHA-256 digest")
    return digest


def file_blob_digest(artifact: Artifact) -> str | None:
    """The blob that holds a file artifact's bytes: the archived digest, else its
    content hash when that is a SHA-256 digest; None when neither is."""
    digest = artifact.meta.get(BLOB_DIGEST) or artifact.content_hash
    return digest if is_digest(digest) else None
