"""DuckDBTableStore: ingested Arrow rows in DuckDB tables, and the views over them."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from consist.domain.errors import InvalidInput
from consist.domain.sql_names import quote_identifier, validate_view_name

from ._connection import LeasedDatabase, attach_filesystem
from ._sql import database_of, reads_only, translated
from ._verify import unreadable_parts

__all__ = ["ARTIFACT_COLUMN", "DuckDBTableStore"]

ARTIFACT_COLUMN = "consist_artifact_id"
# Registered Arrow data is visible to this connection only, under this name.
_INCOMING = "__consist_incoming"

_INGESTED_TABLES = f"""
SELECT DISTINCT t.table_name
FROM duckdb_tables() AS t
JOIN duckdb_columns() AS c USING (database_name, schema_name, table_name)
WHERE t.database_name = current_database() AND t.schema_name = current_schema()
  AND c.column_name = '{ARTIFACT_COLUMN}'
ORDER BY t.table_name
"""
_COLUMNS = """
SELECT column_name FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = current_schema() AND table_name = ?
"""


def _as_arrow(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch) or hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise InvalidInput(
        f"write_rows takes Arrow data (pyarrow.Table, or anything with __arrow_c_stream__ "
        f"such as a polars DataFrame), not {type(data).__name__}; convert it with pa.table(...)"
    )


def _with_artifact_id(data: pa.Table, artifact_id: str) -> pa.Table:
    """Add the artifact column, or check that the one the caller put there is right."""
    index = data.schema.get_field_index(ARTIFACT_COLUMN)
    if index < 0:
        return data.append_column(ARTIFACT_COLUMN, pa.repeat(artifact_id, data.num_rows))
    column = data.column(index)
    others = pc.count(pc.filter(column, pc.not_equal(column, artifact_id)))
    if column.null_count or others.as_py():
        raise InvalidInput(
            f"column {ARTIFACT_COLUMN} holds values other than {artifact_id!r}; "
            "write one artifact's rows per call, or drop the column and let write_rows add it"
        )
    return data


def prepare_for_views(con: duckdb.DuckDBPyConnection) -> None:
    """Settings for every connection to a database holding views."""
    # Hybrid views re-read the same Parquet footers on every query; DuckDB
    # checks each file's modification time before reusing a cached one.
    con.execute("SET GLOBAL parquet_metadata_cache = true")


class DuckDBTableStore:
    """TableStore on one DuckDB database: ``duckdb:///abs/path.duckdb`` or ``duckdb://:memory:``.

    Each table holds the rows of many artifacts, told apart by the
    ``consist_artifact_id`` column; ``write_rows`` adds it when the data lacks
    it. A store of its own holds one connection and serves one call at a time;
    a store sharing a catalog's database (:meth:`sharing`) reads on the
    catalog's read cursor, so queries do not wait for catalog writes.

    Raises
    ------
    InvalidURI
        ``url`` is not a DuckDB URL.
    CatalogLocked
        Another process holds the database file.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._shared: LeasedDatabase | None = None
        # True when the tables live in a catalog's own database (see ``sharing``).
        self.shares_catalog = False
        # Our connection stays open, so no other process can write meanwhile:
        # counting our own writes is enough for ``change_token``.
        self._writes = 0
        with translated(f"opening {url}"):
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(database_of(url))
            prepare_for_views(self._con)

    @classmethod
    def sharing(cls, url: str, database: LeasedDatabase) -> DuckDBTableStore:
        """A store on a catalog's leased database, using its connections for each call.

        One connection per database file per process: DuckDB's in-process
        instance cache is not safe against one thread opening a file while
        another closes it, and two owners would also hold the file lock twice.
        The catalog prepares its connections with :func:`prepare_for_views`.
        """
        store = cls.__new__(cls)
        store.url = url
        store._lock = threading.RLock()
        store._con = None
        store._shared = database
        store._writes = 0
        store.shares_catalog = True
        return store

    @contextmanager
    def _use(self, *, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._shared is not None:
            lease = self._shared.lease() if write else self._shared.read_lease()
            with lease as con:
                yield con
            return
        with self._lock:
            if self._con is None:
                raise InvalidInput(f"table store {self.url} is closed; open a new one")
            try:
                yield self._con
            finally:
                if write:
                    self._writes += 1

    def register_filesystem(self, filesystem: Any) -> None:
        """Let SQL here read ``<protocol>://`` paths through an fsspec filesystem
        (``SupportsFsspecFiles``); one of the same protocol is replaced."""
        if self._shared is not None:
            self._shared.register_filesystem(filesystem)
            return
        with self._lock, translated("registering an fsspec filesystem"):
            if self._con is None:
                raise InvalidInput(f"table store {self.url} is closed; open a new one")
            attach_filesystem(self._con, filesystem)

    def change_token(self) -> Hashable:
        """Changes whenever a write may have been committed (``SupportsChangeToken``)."""
        return self._shared.change_token() if self._shared is not None else self._writes

    @staticmethod
    def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
        rows = con.execute(_COLUMNS, [table]).fetchall()
        # DuckDB matches column names without regard to case.
        return {name.lower() for (name,) in rows}

    def write_rows(self, table: str, data: Any, *, artifact_id: str) -> int:
        """Replace the rows of ``artifact_id`` in ``table`` with ``data``.

        Parameters
        ----------
        table
            A plain name (``[A-Za-z_][A-Za-z0-9_]*``); ``table_name_for_key``
            makes one from any artifact key. The table is created on first use.
        data
            A ``pyarrow.Table`` (or Arrow stream). Its ``consist_artifact_id``
            column is added when missing and must equal ``artifact_id`` when present.
        artifact_id
            Whose rows these are. Earlier rows of this artifact are deleted in
            the same transaction, so writing twice leaves one copy.

        Returns
        -------
        int
            The number of rows written.

        Raises
        ------
        UnsafeIdentifier
            ``table`` is not a plain name.
        InvalidInput
            ``data`` is not Arrow data, or its artifact column disagrees.
        CatalogError
            DuckDB refused the data (say, a column's type changed); nothing was written.
        """
        name = quote_identifier(validate_view_name(table))
        incoming = _with_artifact_id(_as_arrow(data), artifact_id)
        with (
            translated(f"writing artifact {artifact_id!r} to table {table!r}"),
            self._use(write=True) as con,
        ):
            con.register(_INCOMING, incoming)
            try:
                con.begin()
                try:
                    self._replace_rows(con, table, name, artifact_id)
                    con.commit()
                except BaseException:
                    con.rollback()
                    raise
            finally:
                con.unregister(_INCOMING)
        return int(incoming.num_rows)

    def _replace_rows(
        self, con: duckdb.DuckDBPyConnection, table: str, name: str, artifact_id: str
    ) -> None:
        existing = self._columns(con, table)
        if not existing:
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {_INCOMING}")
            return
        if ARTIFACT_COLUMN not in existing:
            raise InvalidInput(
                f"table {table!r} already exists and holds no ingested rows (it has no "
                f"{ARTIFACT_COLUMN} column; the catalog's own tables share this database); "
                "write to another name, such as table_name_for_key(key)"
            )
        for column, column_type, *_ in con.execute(
            f"DESCRIBE SELECT * FROM {_INCOMING}"
        ).fetchall():
            if column.lower() not in existing:
                con.execute(
                    f"ALTER TABLE {name} ADD COLUMN {quote_identifier(column)} {column_type}"
                )
        con.execute(f"DELETE FROM {name} WHERE {ARTIFACT_COLUMN} = ?", [artifact_id])
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {_INCOMING}")

    def has_rows(self, table: str, artifact_id: str) -> bool:
        """Whether ``table`` holds rows of ``artifact_id`` (False when there is no such table)."""
        name = quote_identifier(validate_view_name(table))
        with (
            translated(f"looking up artifact {artifact_id!r} in {table!r}"),
            self._use(write=False) as con,
        ):
            if ARTIFACT_COLUMN not in self._columns(con, table):
                return False
            sql = f"SELECT 1 FROM {name} WHERE {ARTIFACT_COLUMN} = ? LIMIT 1"
            # fetchall, not fetchone: DuckDB 2 refuses new statements on a
            # connection whose last result was not read to the end.
            return bool(con.execute(sql, [artifact_id]).fetchall())

    def create_view(self, name: str, select_sql: str) -> None:
        """Create or replace the view ``name`` as ``select_sql`` (trusted SQL text).

        Raises
        ------
        UnsafeIdentifier
            ``name`` is not a plain name.
        CatalogError
            DuckDB cannot bind ``select_sql`` (a missing file or table, a bad column).
        """
        quoted = quote_identifier(validate_view_name(name))
        with translated(f"creating view {name!r}"), self._use(write=True) as con:
            con.execute(f"CREATE OR REPLACE VIEW {quoted} AS {select_sql}")

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Rows of ``sql`` as a ``pyarrow.Table``; pass values as ``?`` parameters.

        Raises
        ------
        CatalogError
            The statement fails.
        """
        with translated("query"), self._use(write=not reads_only(sql)) as con:
            relation = con.sql(sql, params=list(params) if params else None)
            if relation is None:  # a statement without a result set
                return pa.table({})
            # DuckDB 1.4 renamed Relation.arrow() to to_arrow_table().
            fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
            return fetch()

    def check(self) -> list[str]:
        """Tables and indexes of the file that cannot be read (``SupportsIntegrityCheck``)."""
        with translated("checking the data file"), self._use(write=False) as con:
            return unreadable_parts(con)

    def tables(self) -> list[str]:
        """Names of the ingested tables (those with a ``consist_artifact_id`` column), sorted."""
        with translated("listing tables"), self._use(write=False) as con:
            return [name for (name,) in con.execute(_INGESTED_TABLES).fetchall()]

    def close(self) -> None:
        """Close the connection (a borrowed one stays with its owner); safe to call twice."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
