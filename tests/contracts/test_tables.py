"""The TableStore contract, run against every table-store adapter in the workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consist.container import build_tables
from consist.testing.table_contracts import TableStoreContract

TABLE_URLS = ["duckdb://:memory:", "duckdb://{tmp}/tables.duckdb"]


@pytest.fixture(params=TABLE_URLS)
def tables(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    store = build_tables(request.param.format(tmp=tmp_path))
    yield store
    store.close()


class TestTableStore(TableStoreContract):
    pass
