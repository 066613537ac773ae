"""The TableStore contract, run against every table-store adapter in the workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consist.container import build_catalog, build_tables
from consist.testing.table_contracts import TableStoreContract

TABLE_URLS = [
    "duckdb://:memory:",
    "duckdb://{tmp}/tables.duckdb",
    # The store a DuckDB catalog lends for its own file (what consist.Tracker uses).
    "catalog+duckdb:///{tmp}/catalog.duckdb",
]


@pytest.fixture(params=TABLE_URLS)
def tables(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    url = request.param.format(tmp=tmp_path)
    if url.startswith("catalog+"):
        catalog = build_catalog(url.removeprefix("catalog+"))
        yield catalog.table_store()
        catalog.close()
        return
    store = build_tables(url)
    yield store
    store.close()


class TestTableStore(TableStoreContract):
    pass
