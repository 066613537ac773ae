"""User-chosen view names cannot shadow ours, and a view that fails leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist.domain.errors import CatalogError, ReservedName

pytestmark = pytest.mark.parametrize("catalog_url", ["duckdb", "sqlite"], indirect=True)


@pytest.fixture
def with_persons(tracker: Any) -> Any:
    with tracker.start_run("r1", model="m"):
        tracker.log_dataframe(pd.DataFrame({"a": [1, 2]}), key="persons")
    return tracker


@pytest.mark.parametrize(
    "name", ["runs", "Runs", "artifacts", "run_config_kv", "schema_version", "consist_x"]
)
def test_view_named_like_a_catalog_table_is_refused(with_persons: Any, name: str) -> None:
    """On SQLite create_view('runs') used to be accepted and shadow the runs table."""
    with pytest.raises(ReservedName, match="reserved"):
        with_persons.create_view(name, "persons")
    assert name not in with_persons.views.names
    ids = consist.run_query("SELECT id FROM runs", tracker=with_persons)["id"].tolist()
    assert ids == ["r1"]


def test_failed_create_view_leaves_nothing_registered(with_persons: Any) -> None:
    """On DuckDB one failed create_view used to break every later query, even SELECT 1."""
    with_persons.ingest(with_persons.find_artifacts(key="persons")[0])
    table = next(t for t in with_persons.tables.tables() if "persons" in t)
    with pytest.raises(CatalogError):
        with_persons.create_view(table, "persons")  # an ingested table's own name
    assert table not in with_persons.views.names
    assert consist.run_query("SELECT 1 AS x", tracker=with_persons)["x"].tolist() == [1]
    assert with_persons.create_view("people", "persons") == "people"
    rows = consist.run_query("SELECT a FROM people ORDER BY a", tracker=with_persons)
    assert rows["a"].tolist() == [1, 2]


def test_a_view_over_a_file_gone_bad_does_not_block_other_queries(
    with_persons: Any, tmp_path: Path
) -> None:
    with_persons.create_view("people", "persons")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet PAR1")
    with with_persons.start_run("r2", model="m"):
        with_persons.log_output(broken, key="persons", driver="parquet")
    assert consist.run_query("SELECT 1 AS x", tracker=with_persons)["x"].tolist() == [1]
    ids = consist.run_query("SELECT id FROM runs ORDER BY id", tracker=with_persons)
    assert ids["id"].tolist() == ["r1", "r2"]
    with pytest.raises(CatalogError):
        with_persons.create_view("people_again", "persons")
    assert "people_again" not in with_persons.views.names
