"""The BlobStore port: content-addressed bytes (files and directory manifests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable


class BlobStore(Protocol):
    """Bytes addressed by their SHA-256 digest. Knows nothing about runs.

    Digests are lower-case hex SHA-256 strings. Adapters raise
    ``BlobNotFound`` (a ``NotFound``) for a digest they do not hold and
    ``IntegrityError`` when stored bytes no longer hash to their digest.
    """

    def put(self, path: Path) -> str:
        """Store a file's bytes, streaming them; returns their digest. Idempotent.

        Raises ``MissingFile`` if ``path`` does not exist.
        """
        ...

    def get(self, digest: str, destination: Path) -> Path:
        """Write the blob to ``destination`` atomically (temp file + rename), verified.

        Raises ``BlobNotFound`` or ``IntegrityError``; on either, ``destination``
        is left untouched.
        """
        ...

    def open(self, digest: str) -> BinaryIO:
        """A binary file object for reading the blob. Raises ``BlobNotFound``."""
        ...

    def exists(self, digest: str) -> bool: ...

    def delete(self, digest: str) -> None:
        """Remove the blob; removing an absent blob is not an error."""
        ...

    def digests(self) -> Iterator[str]:
        """Every digest stored."""
        ...


@runtime_checkable
class SupportsNamedObjects(Protocol):
    """A store that also keeps small objects under names (published run snapshots).

    Names are relative POSIX paths such as ``snapshots/<run_id>.json``; a name
    that is absolute or climbs with ``..`` raises ``InvalidURI``.
    """

    def write_named(self, name: str, data: bytes) -> None: ...

    def read_named(self, name: str) -> bytes:
        """Raises ``NotFound`` for an unknown name."""
        ...

    def list_named(self, prefix: str = "") -> Iterator[str]: ...


@runtime_checkable
class SupportsNamedVersions(Protocol):
    """A named-object store that tells, from one listing, which objects were rewritten.

    Lets ``pull`` skip downloading snapshots it imported before and that have
    not been published again since.
    """

    def named_versions(self, prefix: str = "") -> dict[str, str | None]:
        """Every name starting with ``prefix``, with an opaque version token.

        The token changes whenever the object is written again (an ETag, a
        generation, a modification time with an inode, ...); equal tokens mean
        the same bytes. None where the store cannot tell. Raises ``InvalidURI``
        for a bad prefix.
        """
        ...


@runtime_checkable
class SupportsInPlaceReads(Protocol):
    """A store whose blobs other engines can read where they lie, through fsspec."""

    def fsspec_location(self, digest: str) -> tuple[Any, str]:
        """The fsspec filesystem holding the blob, and the blob's URL on it.

        The URL carries the filesystem's protocol (``s3://bucket/.../<digest>``),
        or is a plain absolute path for a local store.
        """
        ...
