"""The report reads the same graph from every catalog: one SQL statement on DuckDB and SQLite,
one record per run on the in-memory catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.many_runs import many_run_records

from consist.memory import InMemoryCatalog
from consist.ports import Catalog
from consist.ports.catalog import SupportsSQL
from consist.report import gather


def _catalog(kind: str, tmp_path: Path) -> Catalog:
    if kind == "duckdb":
        from consist_duckdb import DuckDBCatalog

        return DuckDBCatalog(f"duckdb://{tmp_path}/c.duckdb")
    from consist_sqlite import SQLiteCatalog

    return SQLiteCatalog(f"sqlite://{tmp_path}/c.sqlite")


def _stable(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != "generated_at"}


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_sql_catalogs_give_the_report_the_in_memory_catalogs_answer(
    kind: str, tmp_path: Path
) -> None:
    records = many_run_records(3, 12)
    memory = InMemoryCatalog()
    for record in records:
        memory.record(record)
    catalog = _catalog(kind, tmp_path)
    try:
        catalog.record_many(records)  # type: ignore[attr-defined]
        assert isinstance(catalog, SupportsSQL) and not isinstance(memory, SupportsSQL)
        for level in ("run", "scenario-step"):
            assert _stable(gather(catalog, level=level)) == _stable(gather(memory, level=level))
        scoped = gather(catalog, scenario="scenario-001")
        assert set(scoped["links"]) <= {r["id"] for r in scoped["runs"]}
        assert scoped["links"]
    finally:
        catalog.close()
