"""SQL for hybrid views: ingested (hot) rows UNION ALL BY NAME files read in place (cold).

Pure text generation for DuckDB's dialect; nothing here opens a database.

Cold files of one format are read by one scan (``read_parquet([...])`` or
``read_csv([...])``) per column schema: files known to share their columns and
types are scanned together without ``union_by_name``, so DuckDB reads one
footer to bind the view, not all; files whose schema is not known are scanned
together with ``union_by_name``. Columns missing from some files or from the
hot table read NULL.

The system columns of a cold row come from the catalog, never from the file:
a file's own ``consist_*`` columns are dropped, and so are the
``__index_level_N__`` columns holding an unnamed pandas index (row positions;
``consist.load`` reads them, a view has no use for them). A value every file of a scan
shares is a literal; the others are looked up by DuckDB's ``file_index``
virtual column in lists held by a one-row relation joined to the scan
(``__consist_labels``, its columns named as the system columns). Held there,
the lists are built once per query; as constants in the expression, DuckDB
would build them again for every vector of rows, and a view over 500 files
read 1.8x slower than a bare scan.

A cold file with a column named ``file_index`` would hide DuckDB's virtual
column and mislabel rows, so such a view fails when DuckDB binds it (a
"Duplicate named argument" error) instead of answering wrongly. The name
``__consist_guard`` is reserved the same way.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import attrs

from consist.domain.errors import InvalidInput, InvalidURI
from consist.domain.sql_names import quote_identifier, quote_literal

__all__ = ["DRIVERS", "SYSTEM_COLUMNS", "ColdFile", "hybrid_view_sql"]

SYSTEM_COLUMNS = (
    "consist_run_id",
    "consist_scenario_id",
    "consist_year",
    "consist_iteration",
    "consist_artifact_id",
)
DRIVERS = {"parquet": "read_parquet", "csv": "read_csv"}

_GUARD = "__consist_guard"
_LABELS = "__consist_labels"
_GLOB_CHARS = frozenset("*?[")
_PANDAS_POSITION = r"__index_level_\d+__"


@attrs.frozen
class ColdFile:
    """One file of a view read in place, with the system values the catalog holds for it."""

    artifact_id: str
    path: str
    driver: str = attrs.field()
    run_id: str | None = None
    scenario_id: str | None = None
    year: int | None = None
    iteration: int | None = None
    # (name, type) of every column, when known; files sharing one schema skip union_by_name.
    schema: tuple[tuple[str, str], ...] | None = None

    @driver.validator
    def _known_driver(self, _: Any, value: str) -> None:
        if value not in DRIVERS:
            raise InvalidInput(
                f"artifact {self.artifact_id!r} has driver {value!r}; hybrid views read "
                f"{', '.join(sorted(DRIVERS))} files in place (ingest other formats)"
            )


def _text_literal(value: str | None) -> str:
    return "CAST(NULL AS VARCHAR)" if value is None else quote_literal(value)


def _int_literal(value: int | None) -> str:
    return f"CAST({'NULL' if value is None else int(value)} AS BIGINT)"


def _text_list(values: Sequence[str | None]) -> str:
    items = ", ".join("NULL" if v is None else quote_literal(v) for v in values)
    return f"CAST([{items}] AS VARCHAR[])"


def _int_list(values: Sequence[int | None]) -> str:
    items = ", ".join("NULL" if v is None else str(int(v)) for v in values)
    return f"CAST([{items}] AS BIGINT[])"


def _system_values(files: Sequence[ColdFile]) -> dict[str, tuple[list[Any], bool]]:
    """Each system column's value per file, and whether it is text."""
    return {
        "consist_run_id": ([f.run_id for f in files], True),
        "consist_scenario_id": ([f.scenario_id for f in files], True),
        "consist_year": ([f.year for f in files], False),
        "consist_iteration": ([f.iteration for f in files], False),
        "consist_artifact_id": ([f.artifact_id for f in files], True),
    }


def _cold_select(driver: str, files: Sequence[ColdFile], *, by_name: bool) -> str:
    for f in files:
        if _GLOB_CHARS.intersection(f.path):
            raise InvalidURI(
                f"cold file {f.path!r} of artifact {f.artifact_id!r} contains a glob "
                "character (* ? [); DuckDB would expand it, so rename the file or ingest it"
            )
    paths = ", ".join(quote_literal(f.path) for f in files)
    columns, lists = [], []
    for name, (values, text) in _system_values(files).items():
        quoted = quote_identifier(name)
        if len(set(values)) == 1:
            value = _text_literal(values[0]) if text else _int_literal(values[0])
        else:
            lists.append(f"{_text_list(values) if text else _int_list(values)} AS {quoted}")
            value = f"{_LABELS}.{quoted}[file_index::BIGINT + 1]"
        columns.append(f"{value} AS {quoted}")
    scan = f"{DRIVERS[driver]}([{paths}]{', union_by_name = true' if by_name else ''})"
    if lists:
        scan += f",\n    (SELECT {', '.join(lists)}) AS {_LABELS}"
    # The labels' columns share the system columns' names, so this drops them too.
    # It also drops the row positions an unnamed pandas index leaves in a Parquet
    # file (a named level, a groupby key, stays): by name when every file's
    # columns are known, else by pattern (a little more binding work per query).
    dropped = ", ".join(map(quote_literal, (*SYSTEM_COLUMNS, *_positions(files))))
    unknown = any(f.schema is None for f in files)
    pattern = f" AND NOT regexp_full_match(c, {quote_literal(_PANDAS_POSITION)})"
    file_columns = f"COLUMNS(lambda c: c NOT IN ({dropped}){pattern if unknown else ''})"
    # Unused, so never computed; binding it fails when a file column is named file_index.
    guard = f"struct_pack(file_index := NULL, *{file_columns}) AS {_GUARD}"
    listed = ",\n    ".join(columns)
    return (
        f"SELECT * EXCLUDE ({_GUARD}) FROM (\n  SELECT {file_columns},\n"
        f"    {listed},\n    {guard}\n  FROM {scan}\n)"
    )


def _positions(files: Sequence[ColdFile]) -> list[str]:
    """Row-position columns of an unnamed pandas index in the files' known schemas."""
    names = {
        name for f in files for name, _ in f.schema or () if re.fullmatch(_PANDAS_POSITION, name)
    }
    return sorted(names)


def _scans(files: Sequence[ColdFile]) -> list[tuple[list[ColdFile], bool]]:
    """Files grouped into scans, each with whether it must match columns by name."""
    by_schema: dict[tuple[tuple[str, str], ...], list[ColdFile]] = {}
    unknown = []
    for f in files:
        if f.schema is None:
            unknown.append(f)
        else:
            by_schema.setdefault(f.schema, []).append(f)
    scans = [(group, False) for group in by_schema.values()]
    if unknown:
        scans.append((unknown, len(unknown) > 1))
    return scans


def _empty_select() -> str:
    types = {"consist_year": "BIGINT", "consist_iteration": "BIGINT"}
    cols = ", ".join(
        f"CAST(NULL AS {types.get(c, 'VARCHAR')}) AS {quote_identifier(c)}" for c in SYSTEM_COLUMNS
    )
    return f"SELECT {cols} WHERE false"


def hybrid_view_sql(
    hot_table: str | None,
    cold_files: Sequence[ColdFile],
    *,
    hot_artifact_ids: Collection[str] = (),
) -> str:
    """The ``SELECT`` of a view over ingested rows and files read in place.

    Parameters
    ----------
    hot_table
        The table holding the ingested rows (with their system columns), or
        None when nothing has been ingested for this view.
    cold_files
        Files to read in place. A file whose artifact is in
        ``hot_artifact_ids`` is left out, as is a repeat of an artifact already
        listed, so no row appears twice.
    hot_artifact_ids
        Artifacts whose rows are in ``hot_table``. The view is a snapshot of
        this list: build it again after ingesting more.

    Returns
    -------
    str
        One ``SELECT`` statement for ``TableStore.create_view``; with neither hot
        table nor cold files, one that returns no rows but has the system columns.

    Raises
    ------
    InvalidURI
        A cold path contains a glob character.
    UnsafeIdentifier
        A name or value contains a NUL character.
    """
    hot_ids = set(hot_artifact_ids)
    by_driver: dict[str, list[ColdFile]] = {}
    seen: set[str] = set()
    for f in cold_files:
        if f.artifact_id in hot_ids or f.artifact_id in seen:
            continue
        seen.add(f.artifact_id)
        by_driver.setdefault(f.driver, []).append(f)
    parts = [f"SELECT * FROM {quote_identifier(hot_table)}"] if hot_table is not None else []
    parts += [
        _cold_select(driver, scan, by_name=by_name)
        for driver, files in sorted(by_driver.items())
        for scan, by_name in _scans(files)
    ]
    if not parts:
        return _empty_select()
    return "\nUNION ALL BY NAME\n".join(parts)
