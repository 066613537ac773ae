"""Where things live inside a store's root, and which object names are acceptable."""

from __future__ import annotations

import re
import uuid

from consist.domain.digests import is_digest
from consist.domain.errors import InvalidURI

_DRIVE = re.compile(r"^[A-Za-z]:")

BLOBS_DIR = "sha256"
NAMED_DIR = "named"
TEMP_DIR = "tmp"


def blob_key(root: str, digest: str) -> str:
    """``<root>/sha256/ab/cd/abcd...``: two fan-out levels keep directories small."""
    return f"{root}/{BLOBS_DIR}/{digest[:2]}/{digest[2:4]}/{digest}"


def digest_of_key(key: str) -> str | None:
    """The digest a listed key stores, or None for anything not laid out by this store."""
    parts = key.rstrip("/").split("/")
    if len(parts) < 3:
        return None
    first, second, digest = parts[-3:]
    if is_digest(digest) and first == digest[:2] and second == digest[2:4]:
        return digest
    return None


def named_key(root: str, name: str) -> str:
    return f"{root}/{NAMED_DIR}/{check_name(name)}"


def temp_key(root: str) -> str:
    return f"{root}/{TEMP_DIR}/{uuid.uuid4().hex}"


def check_name(name: str, *, prefix: bool = False) -> str:
    """Return ``name`` if it is a relative POSIX path that stays inside the store.

    Parameters
    ----------
    name
        Such as ``snapshots/run-1.json``.
    prefix
        Accept the empty string and a trailing ``/`` (for listings).

    Raises
    ------
    InvalidURI
        The name is empty, absolute, climbs with ``..``, or holds a backslash,
        a NUL, a drive letter or a URL scheme.
    """
    if not isinstance(name, str):
        raise InvalidURI(f"object names are strings, not {type(name).__name__}")
    if prefix and name == "":
        return name
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or "://" in name
        or _DRIVE.match(name)
    ):
        raise InvalidURI(f"{name!r} is not a relative POSIX path such as 'snapshots/run.json'")
    parts = name.split("/")
    if prefix and parts[-1] == "":
        parts = parts[:-1]
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidURI(f"{name!r} must not contain empty, '.' or '..' segments")
    return name
