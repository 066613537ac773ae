"""SQL for hybrid views: ingested (hot) rows UNION ALL BY NAME files read in place (cold).

Pure text generation for DuckDB's dialect; nothing here opens a database.

Cold files are read in batches of up to ``FILES_PER_SCAN``: one scan
(``read_parquet([...])`` or ``read_csv([...])`` with ``union_by_name=true``)
per batch, so a view over fifty files is two scans, not fifty. The system
columns of a cold row come from the catalog, never from the file: a file's
own ``consist_*`` columns are dropped and the catalog's values are looked up
by DuckDB's ``file_index`` virtual column in a constant list. DuckDB builds
that list afresh for every vector of rows, so its cost grows with its length;
batching keeps the lists short (a view over 500 files reads at the same speed
per row as one over 50). Columns missing from some files or from the hot
table read NULL.

A cold file with a column named ``file_index`` would hide DuckDB's virtual
column and mislabel rows, so such a view fails when DuckDB binds it (a
"Duplicate named argument" error) instead of answering wrongly.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import attrs

from consist.domain.errors import InvalidInput, InvalidURI
from consist.services.sql_names import quote_identifier, quote_literal

__all__ = ["DRIVERS", "FILES_PER_SCAN", "SYSTEM_COLUMNS", "ColdFile", "hybrid_view_sql"]

SYSTEM_COLUMNS = (
    "consist_run_id",
    "consist_scenario_id",
    "consist_year",
    "consist_iteration",
    "consist_artifact_id",
)
DRIVERS = {"parquet": "read_parquet", "csv": "read_csv"}
# Measured with DuckDB 2.0: 32 keeps a view within a few percent of a bare scan
# from 50 to 500 files; longer lists cost more per row, shorter ones more scans.
FILES_PER_SCAN = 32

_GUARD = "__consist_guard"
_GLOB_CHARS = frozenset("*?[")


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

    @driver.validator
    def _known_driver(self, _: Any, value: str) -> None:
        if value not in DRIVERS:
            raise InvalidInput(
                f"artifact {self.artifact_id!r} has driver {value!r}; hybrid views read "
                f"{', '.join(sorted(DRIVERS))} files in place (ingest other formats)"
            )


def _text_list(values: Sequence[str | None]) -> str:
    items = ", ".join("NULL" if v is None else quote_literal(v) for v in values)
    return f"CAST([{items}] AS VARCHAR[])"


def _int_list(values: Sequence[int | None]) -> str:
    items = ", ".join("NULL" if v is None else str(int(v)) for v in values)
    return f"CAST([{items}] AS BIGINT[])"


def _system_value(values: Sequence[Any], as_list: Callable[[Sequence[Any]], str]) -> str:
    """A constant when every file agrees, else a per-row lookup by file position."""
    if len(set(values)) == 1:
        return f"{as_list(values[:1])}[1]"
    return f"{as_list(values)}[file_index::BIGINT + 1]"


def _cold_select(driver: str, files: Sequence[ColdFile]) -> str:
    for f in files:
        if _GLOB_CHARS.intersection(f.path):
            raise InvalidURI(
                f"cold file {f.path!r} of artifact {f.artifact_id!r} contains a glob "
                "character (* ? [); DuckDB would expand it, so rename the file or ingest it"
            )
    paths = ", ".join(quote_literal(f.path) for f in files)
    system = {
        "consist_run_id": _system_value([f.run_id for f in files], _text_list),
        "consist_scenario_id": _system_value([f.scenario_id for f in files], _text_list),
        "consist_year": _system_value([f.year for f in files], _int_list),
        "consist_iteration": _system_value([f.iteration for f in files], _int_list),
        "consist_artifact_id": _system_value([f.artifact_id for f in files], _text_list),
    }
    dropped = ", ".join(quote_literal(c) for c in SYSTEM_COLUMNS)
    columns = ",\n    ".join(f"{expr} AS {quote_identifier(name)}" for name, expr in system.items())
    # Unused, so never computed; binding it fails when a file column is named file_index.
    guard = f"struct_pack(file_index := NULL, *COLUMNS(*)) AS {_GUARD}"
    return (
        f"SELECT * EXCLUDE ({_GUARD}) FROM (\n  SELECT COLUMNS(lambda c: c NOT IN ({dropped})),\n"
        f"    {columns},\n    {guard}\n"
        f"  FROM {DRIVERS[driver]}([{paths}], union_by_name = true)\n)"
    )


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
        _cold_select(driver, files[start : start + FILES_PER_SCAN])
        for driver, files in sorted(by_driver.items())
        for start in range(0, len(files), FILES_PER_SCAN)
    ]
    if not parts:
        return _empty_select()
    return "\nUNION ALL BY NAME\n".join(parts)
