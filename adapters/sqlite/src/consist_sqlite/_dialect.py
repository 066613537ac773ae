"""SQLite's side of the shared relational layout: timestamps as sortable text, booleans as 0/1."""

from __future__ import annotations

import datetime as dt

from consist.relational import ARTIFACT_COLUMNS, RUN_COLUMNS, Dialect, RecordRows

__all__ = ["SQLITE", "new_rows", "timestamp"]

SQLITE = Dialect(
    name="SQLite",
    scheme="sqlite",
    suffix=".sqlite",
    package="consist-sqlite",
    options=("lock_timeout",),
    lock_markers=("database is locked", "database table is locked", "busy"),
    corrupt_markers=("file is not a database", "malformed", "corrupt", "not a database"),
    held="stayed locked by another writer",
    unlock_advice="Find the process holding a long transaction on it",
    run_select=RUN_COLUMNS,
    artifact_select=ARTIFACT_COLUMNS,
    read_time=dt.datetime.fromisoformat,
)


def timestamp(value: dt.datetime | None) -> str | None:
    """Fixed-width UTC ISO 8601, so text order is time order (naive times count as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def new_rows() -> RecordRows:
    return RecordRows(store_time=timestamp, bool_as_int=True)
