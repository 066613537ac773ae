"""The TableStore port: ingested rows and the SQL views over them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


class TableStore(Protocol):
    """Tables of ingested rows keyed by artifact, and SQL over them.

    Data travels as Arrow (``pyarrow.Table``); adapters never insert row by row.
    Table and view names reach SQL only quoted; an unsafe name raises
    ``UnsafeIdentifier``. Storage trouble raises ``CatalogError``.
    """

    def write_rows(self, table: str, data: Any, *, artifact_id: str) -> int:
        """Replace the rows of ``artifact_id`` in ``table`` with ``data`` (an Arrow table).

        Creates the table on first use and adds columns that new data brings
        (older rows read NULL there). Idempotent per artifact. Returns the row count.
        """
        ...

    def has_rows(self, table: str, artifact_id: str) -> bool: ...

    def create_view(self, name: str, select_sql: str) -> None:
        """Create or replace a view named ``name`` as ``select_sql``."""
        ...

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Rows as a ``pyarrow.Table``. Raises ``CatalogError`` for a failing statement."""
        ...

    def tables(self) -> list[str]:
        """Names of the ingested tables."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class SupportsFsspecFiles(Protocol):
    """A table store whose SQL can read files of registered fsspec filesystems."""

    def register_filesystem(self, filesystem: Any) -> None:
        """Let SQL read ``<protocol>://...`` paths through ``filesystem``; registering
        a filesystem of the same protocol again replaces the earlier one."""
        ...


@runtime_checkable
class SupportsSharedCatalog(Protocol):
    """A table store that may live in the catalog's own database."""

    @property
    def shares_catalog(self) -> bool:
        """True when it does: SQL over catalog tables and data views then runs on it."""
        ...
