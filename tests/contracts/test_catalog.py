"""The Catalog contract, run against every catalog adapter in the workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consist.container import build_catalog
from consist.testing.contracts import CatalogContract

CATALOG_URLS = [
    "memory://",
    "duckdb:///{tmp}/c.duckdb",
    "duckdb://:memory:",
    "sqlite:///{tmp}/c.sqlite",
]


@pytest.fixture(params=CATALOG_URLS)
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    cat = build_catalog(request.param.format(tmp=tmp_path))
    yield cat
    cat.close()


class TestCatalog(CatalogContract):
    pass
