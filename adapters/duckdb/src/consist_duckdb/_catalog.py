"""DuckDBCatalog: the embedded default catalog, one DuckDB file (or memory) per catalog."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from consist.domain import RunRecord
from consist.domain.errors import CatalogCorrupt
from consist.relational import PRUNE_FACETS, RecordRows, RelationalReads
from consist.relational.reads import Fetch

from ._connection import (
    DEFAULT_KEEP_OPEN,
    DEFAULT_LOCK_TIMEOUT,
    LeasedDatabase,
    parse_url,
)
from ._dialect import DUCKDB
from ._schema import MIGRATIONS, Migration, migrate, problems_in
from ._sql import reads_only
from ._tables import DuckDBTableStore, prepare_for_views
from ._writes import arrow_tables, write_new_rows

__all__ = ["MIGRATIONS", "DuckDBCatalog", "Migration", "migrate"]

T = TypeVar("T")


class DuckDBCatalog(RelationalReads):
    """Catalog in one DuckDB file, opened only for bursts so several processes can share it.

    Parameters
    ----------
    url
        ``duckdb:///abs/path.duckdb``, ``duckdb://relative/path.duckdb`` or
        ``duckdb://:memory:``. Options may follow as a query string:
        ``?lock_timeout=30&keep_open=0.5``.
    lock_timeout
        Seconds to retry (with jittered exponential backoff) while another
        process holds the file, before raising ``CatalogLocked``.
    keep_open
        Seconds an idle connection is kept before the file is released.

    Raises
    ------
    CatalogLocked
        If another process held the file for all of ``lock_timeout``.
    CatalogCorrupt
        If the file is not a readable DuckDB database.
    CatalogError
        If the file belongs to a newer Consist, or cannot be opened.

    Notes
    -----
    Besides the ``Catalog`` methods this class offers ``query_sql``,
    ``vacuum``, ``check`` and ``record_many`` (many records in one transaction,
    for bulk loads and ``consist db rebuild``).
    """

    dialect = DUCKDB

    def __init__(
        self,
        url: str,
        *,
        lock_timeout: float | None = None,
        keep_open: float | None = None,
    ) -> None:
        self.url = url
        path, options = parse_url(url)
        self._migrated = False
        self._db = LeasedDatabase(
            path,
            self._prepare,
            lock_timeout=_option(lock_timeout, options, "lock_timeout", DEFAULT_LOCK_TIMEOUT),
            keep_open=_option(keep_open, options, "keep_open", DEFAULT_KEEP_OPEN),
        )
        # A read opens (and migrates) the file, or reads beside another program
        # holding it read-only: writes then wait for it instead of failing here.
        with self._db.read_lease():
            pass

    @property
    def path(self) -> str:
        """The database file (``:memory:`` for an in-memory catalog)."""
        return self._db.path

    def _prepare(self, conn: duckdb.DuckDBPyConnection) -> None:
        prepare_for_views(conn)  # the file may also hold data tables and views
        if not self._migrated:
            migrate(conn, self._db.path)
            self._migrated = True

    def table_store(self) -> DuckDBTableStore:
        """A TableStore on this catalog's own file and connection (``SupportsTableStore``)."""
        return DuckDBTableStore.sharing(self.url, self._db)

    def change_token(self) -> Hashable:
        """Changes with every write lease and every open of the file (``SupportsChangeToken``)."""
        return self._db.change_token()

    @contextmanager
    def _lease(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._db.lease() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for reads: they proceed while another thread writes."""
        with self._db.read_lease() as conn:
            yield conn

    # -- writing -------------------------------------------------------------

    def record(self, record: RunRecord) -> None:
        """Store one run with its artifacts and links in a single transaction."""
        self.record_many([record])

    def record_many(self, records: Iterable[RunRecord]) -> None:
        """Store many records in one transaction (bulk loads, rebuilds).

        Later records win over earlier ones with the same run or artifact id.
        """
        rows = RecordRows()
        for record in records:
            rows.add(record)
        if not rows.runs:
            return
        tables = arrow_tables(rows)
        with self._lease() as conn:
            for name, table in tables.items():
                conn.register(f"_new_{name}", table)
            try:
                conn.execute("BEGIN TRANSACTION")
                try:
                    write_new_rows(conn, {name for name, table in tables.items() if table.num_rows})
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            finally:
                for name in tables:
                    conn.unregister(f"_new_{name}")

    # -- reading (the queries are RelationalReads') --------------------------

    def _reading(self, read: Callable[[Fetch], T]) -> T:
        with self._read() as conn:
            return read(lambda sql, params: conn.execute(sql, params).fetchall())

    # -- capabilities --------------------------------------------------------

    def query_sql(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Rows of any SQL over the catalog tables, as a ``pyarrow.Table``.

        Raises
        ------
        CatalogError
            For a statement DuckDB rejects.
        """
        lease = self._read() if reads_only(sql) else self._lease()
        with lease as conn:
            relation = conn.sql(sql, params=list(params) if params is not None else None)
            # Statements without rows (DELETE, CREATE, ...) run and return None.
            table: pa.Table = pa.table({}) if relation is None else relation.to_arrow_table()
            return table

    def vacuum(self) -> None:
        """Drop facets no run or artifact uses any more, then checkpoint the file."""
        with self._lease() as conn:
            for statement in PRUNE_FACETS:
                conn.execute(statement)
            conn.execute("FORCE CHECKPOINT")

    def check(self) -> list[str]:
        """Problems in the stored catalog: unreadable blocks, dangling rows, wrong version."""
        try:
            with self._lease() as conn:
                return problems_in(conn)
        except CatalogCorrupt as exc:
            return [str(exc)]

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"DuckDBCatalog({self.url!r})"


def _option(given: float | None, options: Mapping[str, float], name: str, default: float) -> float:
    return given if given is not None else options.get(name, default)
