"""Reading a whole DuckDB file so that every block in use has its checksum verified."""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa

__all__ = ["unreadable_parts"]

_BAD_BLOCK = re.compile(r"checksum.*block at location (\d+)", re.IGNORECASE | re.DOTALL)


def unreadable_parts(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Read every table of the file and use every index, so DuckDB verifies the
    checksum of each block that holds something (free blocks hold nothing).

    Ingested tables and views share the file with the catalog, so they are
    read too. Each table is read on its own: one damaged block is reported
    with its table, and the others are still checked.
    """
    problems: list[str] = []
    broken: set[str] = set()
    tables = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
    ).fetchall()
    for (table,) in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        # Fetched in batches so a large ingested table is never held in memory whole;
        # a damaged block met while streaming surfaces through Arrow's reader.
        try:
            reader = conn.sql(f"SELECT * FROM {quoted}").to_arrow_reader(100_000)
            for _ in reader:
                pass
        except (duckdb.Error, OSError, pa.ArrowException) as exc:
            problems.append(f"table {table} is unreadable: {_first_line(exc)}")
            broken.add(table)
    indexes = conn.execute(
        "SELECT index_name, table_name, expressions FROM duckdb_indexes() "
        "WHERE database_name = current_database() ORDER BY index_name"
    ).fetchall()
    for name, table, expressions in indexes:
        if table in broken:
            continue
        # An index is loaded from its blocks on first use; an equality lookup on
        # its first column is such a use.
        column = str(expressions).strip("[]").split(",")[0].strip()
        quoted = '"' + table.replace('"', '""') + '"'
        first = f"(SELECT {column} FROM {quoted} LIMIT 1)"
        lookup = f"SELECT count(*) FROM {quoted} WHERE {column} = {first}"
        try:
            conn.execute(lookup).fetchall()
        except duckdb.Error as exc:
            problems.append(f"index {name} on {table} is unreadable: {_first_line(exc)}")
    return problems


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    bad = _BAD_BLOCK.search(text)
    if bad is not None:
        return f"the block at byte {bad.group(1)} fails its checksum"
    return text.splitlines()[0] if text else type(exc).__name__
