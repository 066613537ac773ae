"""What an object listing says about each object: a version token and a modification time."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

__all__ = ["modified_at", "version_of"]


# Listing fields that change whenever an object is written again, by backend:
# S3 / Azure ETag, GCS generation and md5, modification times, a local inode.
_VERSION_FIELDS = (
    "ETag",
    "etag",
    "generation",
    "md5Hash",
    "VersionId",
    "version_id",
    "mtime",
    "LastModified",
    "last_modified",
    "updated",
    "created",
    "ino",
)


def version_of(info: dict[str, Any]) -> str | None:
    """A listed object's version token: its changing fields and its size; None without any."""
    parts = [f"{field}={info[field]}" for field in _VERSION_FIELDS if info.get(field)]
    if not parts:
        return None
    return ";".join([*parts, f"size={info.get('size')}"])


def modified_at(info: dict[str, Any]) -> float | None:
    """When a listed file was last written (POSIX seconds), from whichever field
    its filesystem reports; None if it reports none."""
    for field in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(field)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.timestamp()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
