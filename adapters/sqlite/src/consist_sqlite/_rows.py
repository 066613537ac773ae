"""SQLite's side of the shared relational layout: timestamps as sortable text, booleans as 0/1."""

from __future__ import annotations

import datetime as dt
from typing import Any

from consist import relational
from consist.domain import Artifact, Run
from consist.relational import ARTIFACT_COLUMNS, RUN_COLUMNS, RecordRows, schema_rows

__all__ = [
    "ARTIFACT_COLUMNS",
    "RUN_COLUMNS",
    "artifact_from_row",
    "new_rows",
    "run_from_row",
    "schema_rows",
    "timestamp",
]


def timestamp(value: dt.datetime | None) -> str | None:
    """Fixed-width UTC ISO 8601, so text order is time order (naive times count as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def new_rows() -> RecordRows:
    return RecordRows(store_time=timestamp, bool_as_int=True)


def run_from_row(row: tuple[Any, ...]) -> Run:
    return relational.run_from_row(row, dt.datetime.fromisoformat)


def artifact_from_row(row: tuple[Any, ...]) -> Artifact:
    return relational.artifact_from_row(row, dt.datetime.fromisoformat)
