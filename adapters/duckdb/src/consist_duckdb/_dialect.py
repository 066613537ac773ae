"""DuckDB's side of the shared relational layout: timestamps, tag lists, error texts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from consist.relational import ARTIFACT_COLUMNS, RUN_COLUMNS, Dialect

__all__ = ["DUCKDB"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _from_us(value: int) -> dt.datetime:
    # Timestamps are read as epoch microseconds: datetimes with zones need pytz.
    return _EPOCH + dt.timedelta(microseconds=value)


def _has_all_tags(tags: Sequence[str]) -> tuple[list[str], list[Any]]:
    return ["list_has_all(CAST(tags AS VARCHAR[]), ?::VARCHAR[])"], [list(tags)]


def _unnested(values: Sequence[str]) -> tuple[str, list[Any]]:
    return "(SELECT unnest(?::VARCHAR[]))", [list(values)]


DUCKDB = Dialect(
    name="DuckDB",
    scheme="duckdb",
    suffix=".duckdb",
    package="consist-duckdb",
    options=("lock_timeout", "keep_open"),
    # "different configuration": this process has the file open read-only for a
    # moment (another program holds it) while a write tries to open it; transient.
    lock_markers=(
        "could not set lock",
        "conflicting lock",
        "conflict on",
        "different configuration",
    ),
    corrupt_markers=(
        "not a valid duckdb database file",
        "could not read enough bytes",
        "corrupt",
        "checksum",
        "failed to load metadata",
        "invalid block",
        "serialization error",
    ),
    held="is held by another process",
    unlock_advice=("Close the other program using it (a DuckDB shell, a notebook, a long query)"),
    run_select=RUN_COLUMNS.replace("created_at", "epoch_us(created_at)").replace(
        "ended_at", "epoch_us(ended_at)"
    ),
    artifact_select=ARTIFACT_COLUMNS.replace("created_at", "epoch_us(created_at)"),
    read_time=_from_us,
    tags_filter=_has_all_tags,
    value_list=_unnested,  # one list parameter, so one query for any number of values
    max_values=1_000_000,
    # DuckDB plans ORDER BY over the whole table and then skips the ART index
    # (about 10 ms at 20k runs instead of 1 ms), so when an indexed filter
    # already narrows the rows they are sorted in Python instead.
    sort_narrowed_in_python=True,
)
