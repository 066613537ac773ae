"""DataVirtualization works from the stores and lookups it is handed: no Tracker is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from consist.domain import Artifact, Run
from consist.domain.errors import InvalidInput, NotFound
from consist.memory import InMemoryCatalog
from consist.services.data.tracker_data import DataVirtualization
from consist.services.runs.queries import RunQueries
from consist.services.store.catalog_reader import LayeredCatalog


class Files:
    """Every artifact's file is under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve_path(self, artifact: Artifact) -> Path:
        return self.root / artifact.uri.split("://", 1)[1]

    def artifact_path(self, artifact: Artifact) -> Path:
        return self.resolve_path(artifact)


class NoRemote:
    def stat(self, url: str):
        raise AssertionError("no URL artifact in these tests")

    def filesystem(self, url: str):
        raise AssertionError("no URL artifact in these tests")


def _data(tmp_path: Path, tables=None, run_in_progress=lambda: None) -> DataVirtualization:
    reader = LayeredCatalog(InMemoryCatalog(), recent=InMemoryCatalog())
    flushed: list[bool] = []
    data = DataVirtualization(
        catalog=InMemoryCatalog(),
        tables=tables,
        blobs=None,
        schemas=[],
        runs=RunQueries(reader),
        files=Files(tmp_path),
        remote=NoRemote(),
        flush=lambda: flushed.append(True),
        change_token=lambda: None,
        run_in_progress=run_in_progress,
    )
    data.flushed = flushed  # type: ignore[attr-defined]
    return data


def test_without_a_table_store_ingest_names_what_is_missing(tmp_path):
    data = _data(tmp_path)
    artifact = Artifact(id="a1", key="persons", uri="workspace://p.csv")
    with pytest.raises(InvalidInput, match="ingest needs a table store"):
        data.ingest(artifact, [{"x": 1}])
    assert data.ingestion_of(artifact) is None


def test_sql_on_a_catalog_without_sql_is_our_error_after_a_flush(tmp_path):
    """``sql`` first waits for pending catalog writes, then refuses clearly."""
    data = _data(tmp_path)
    with pytest.raises(InvalidInput, match="cannot answer SQL"):
        data.sql("SELECT 1")
    assert data.flushed == [True]  # type: ignore[attr-defined]


def test_rows_of_the_run_in_progress_get_its_year_and_iteration(tmp_path):
    """The producer is the run being tracked: the catalog does not hold it yet."""
    pytest.importorskip("consist_duckdb")
    from consist_duckdb import DuckDBTableStore

    store = DuckDBTableStore(f"duckdb:///{tmp_path / 'data.duckdb'}")
    running = Run("r-2030", "assign", year=2030, iteration=2)
    data = _data(tmp_path, store, lambda: running)
    artifact = Artifact(id="a1", key="persons", uri="workspace://p.csv", producer_run_id="r-2030")
    try:
        record = data.ingest(artifact, [{"person": 1}, {"person": 2}])
        assert record.rows == 2
        rows = data.read_ingested(artifact, "arrow").to_pylist()
        assert rows == [{"person": 1}, {"person": 2}]
        hot = store.query(f"SELECT DISTINCT consist_year, consist_iteration FROM {record.table}")
        assert hot.to_pylist() == [{"consist_year": 2030, "consist_iteration": 2}]
        with pytest.raises(NotFound, match="not ingested"):
            data.read_ingested(Artifact(id="a2", key="other", uri="workspace://o.csv"))
    finally:
        store.close()
