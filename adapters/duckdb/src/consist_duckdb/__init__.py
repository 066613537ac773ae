"""DuckDB adapters for Consist: the embedded default catalog and the table store.

Names load on first use so that finding the entry point does not import DuckDB
before it is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DuckDBCatalog": "consist_duckdb._catalog",
    "DuckDBTableStore": "consist_duckdb._tables",
    "LeasedTableStore": "consist_duckdb._lease",
    "open_table_store": "consist_duckdb._lease",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'consist_duckdb' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
