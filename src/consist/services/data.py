"""Data virtualization on the Tracker: SQL over the catalog (and, later, views of data)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from consist.domain.errors import InvalidInput
from consist.ports import Catalog, SupportsSQL


class DataVirtualization:
    """Mixed into the Tracker: the SQL side of Consist."""

    # Provided by the Tracker this is mixed into.
    catalog: Catalog
    flush: Callable[[], None]

    @property
    def sql_dialect(self) -> str:
        """``sqlite`` for SQLite catalogs, ``postgresql`` (DuckDB-compatible) otherwise."""
        return "sqlite" if type(self.catalog).__name__.startswith("SQLite") else "postgresql"

    def sql(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run SQL against the catalog tables; rows as a ``pyarrow.Table``.

        Raises
        ------
        InvalidInput
            If the catalog cannot answer SQL (the in-memory one).
        """
        self.flush()
        if not isinstance(self.catalog, SupportsSQL):
            raise InvalidInput(
                f"{type(self.catalog).__name__} cannot answer SQL; use a DuckDB or SQLite "
                "catalog (db_path=... or catalog='duckdb:///...')"
            )
        return self.catalog.query_sql(sql, params)
