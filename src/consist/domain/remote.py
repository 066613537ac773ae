"""Artifacts that live at an object-store URL (``s3://bucket/key``) rather than on a disk.

Such an artifact keeps its URL as its URI. Its identity comes from what the
store says about the object (a version id or ETag, plus the size), so a cache
check never downloads it; the content hash is computed only when asked for.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable

import attrs

from consist.domain.errors import InvalidURI
from consist.domain.mount import URI_PATTERN, MountTable

# URL schemes read through fsspec in place. A mount of the same name wins.
REMOTE_SCHEMES = frozenset(
    {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory", "http", "https"}
)
# Prefix of an identity taken from the store's version token rather than the bytes.
OBJECT_IDENTITY_PREFIX = "object:"


def remote_scheme(value: object, mounts: MountTable | None = None) -> str | None:
    """The scheme of ``value`` when it is an object-store URL (not a mount), else None."""
    if not isinstance(value, str):
        return None
    match = URI_PATTERN.match(value)
    if match is None:
        return None
    scheme = match["scheme"].lower()
    if mounts is not None and scheme in mounts.mounts:
        return None
    return scheme if scheme in REMOTE_SCHEMES else None


def is_remote(value: object, mounts: MountTable | None = None) -> bool:
    """True for ``s3://...``, ``gs://...``, ``memory://...`` and the other remote schemes."""
    return remote_scheme(value, mounts) is not None


def check_remote_url(url: str) -> str:
    """``url`` itself when it names an object (``s3://bucket/key``); InvalidURI otherwise."""
    scheme = remote_scheme(url)
    if scheme is None:
        raise InvalidURI(
            f"{url!r} is not an object-store URL; use one of {', '.join(sorted(REMOTE_SCHEMES))}"
        )
    rest = url.split("://", 1)[1]
    if "@" in rest.split("/", 1)[0]:
        raise InvalidURI(
            f"{scheme}://***@{rest.split('@', 1)[1]} holds credentials before '@', which "
            "would be recorded with the artifact; pass them in storage_options instead"
        )
    if not rest.strip("/") or "\x00" in rest:
        raise InvalidURI(f"{url!r} names no object: give bucket and key, e.g. s3://bucket/x.csv")
    if rest.endswith("/"):
        raise InvalidURI(
            f"{url!r} ends with '/'; name a folder without it ({url.rstrip('/')!r}), "
            "so that it is recorded under one URL"
        )
    return url


def object_name(url: str) -> str:
    """The last part of the URL's path: ``zones.parquet`` for ``s3://b/data/zones.parquet``."""
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    return posixpath.basename(rest.rstrip("/")) or "object"


@attrs.frozen
class ObjectStat:
    """What an object store says about one object, without reading it.

    ``version`` is the store's change token: a version id, else the ETag (S3,
    Azure), generation (GCS) or modification time; None when the store gives
    none, in which case only the bytes can identify the object.
    """

    url: str
    size: int
    version: str | None
    # A folder (a prefix holding objects, such as a Zarr store): its size is the sum of
    # its objects' sizes and its version a digest of their names, versions and sizes.
    is_folder: bool = False

    @property
    def identity(self) -> str | None:
        """``object:<version>:<size>``, or None when the store reports no version."""
        if self.version is None:
            return None
        return f"{OBJECT_IDENTITY_PREFIX}{self.version}:{self.size}"


def folder_version(objects: Iterable[tuple[str, str | None, int]]) -> str:
    """A folder's version token from its objects' (relative name, version, size)."""
    listing = hashlib.sha256()
    for name, version, size in sorted(objects, key=lambda entry: entry[0]):
        listing.update(f"{name}\x00{version}\x00{size}\n".encode())
    return f"tree={listing.hexdigest()}"


def manifest_identity(files: Iterable[tuple[str, str]]) -> str:
    """``dir:<sha256>`` over sorted (relative posix name, file identity) pairs: the
    identity of a folder's content, the same for a local folder and a folder in a store."""
    manifest = hashlib.sha256()
    for name, identity in sorted(files):
        manifest.update(f"{name}\x00{identity}\n".encode())
    return f"dir:{manifest.hexdigest()}"
