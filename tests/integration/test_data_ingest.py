"""Ingestion: every input kind, strict mode, system columns, load_df's database fallback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from pydantic import BaseModel

import consist
from consist.domain.errors import CatalogError, MissingFile, SchemaValidationError


class Trip(BaseModel):
    trip_id: int
    mode: str
    minutes: float


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Any]:
    tracker = consist.Tracker(
        tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", code_identity="function"
    )
    yield tracker
    tracker.close()


ROWS = [
    {"trip_id": 1, "mode": "car", "minutes": 12.5},
    {"trip_id": 2, "mode": "bus", "minutes": 30.0},
]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ROWS,
        lambda: pd.DataFrame(ROWS),
        lambda: pl.DataFrame(ROWS),
        lambda: pa.Table.from_pylist(ROWS),
    ],
    ids=["rows", "pandas", "polars", "arrow"],
)
def test_every_kind_of_data_is_ingested_with_system_columns(
    make_tracker: Callable[..., Any], make: Callable[[], Any]
) -> None:
    """Rows, pandas, polars and Arrow all land with the catalog's system columns."""
    tracker = make_tracker()
    with tracker.start_run("r", year=2035, iteration=2, parent_run_id="sc") as run:
        path = run.workspace / "trips.csv"
        pd.DataFrame(ROWS).to_csv(path, index=False)
        artifact = tracker.log_artifact(path, "trips")
        tracker.ingest(artifact, make(), schema=Trip)
    df = tracker.read_ingested(artifact)
    assert df.to_dict("records") == ROWS
    system = tracker.tables.query(
        "SELECT DISTINCT consist_run_id, consist_scenario_id, consist_year, consist_iteration, "
        "consist_artifact_id FROM hot_trips"
    ).to_pylist()
    assert system == [
        {
            "consist_run_id": "r",
            "consist_scenario_id": "sc",
            "consist_year": 2035,
            "consist_iteration": 2,
            "consist_artifact_id": artifact.id,
        }
    ]


def test_data_none_reads_the_artifacts_own_file(duck: Any) -> None:
    """Parquet and CSV files are read as Arrow when no data is given."""
    with duck.start_run("files") as run:
        csv = run.workspace / "t.csv"
        pd.DataFrame(ROWS).to_csv(csv, index=False)
        from_csv = duck.ingest(duck.log_artifact(csv, "trips_csv"))
        from_parquet = duck.ingest(duck.log_dataframe(pd.DataFrame(ROWS), "trips_pq"))
    assert (from_csv.rows, from_parquet.rows) == (2, 2)
    assert from_csv.columns == ("trip_id", "mode", "minutes")


def test_strict_mode_names_row_and_field_and_writes_nothing(duck: Any) -> None:
    """One bad row stops the whole ingest: no table, no registry entry."""
    bad = [*ROWS, {"trip_id": "three", "mode": "walk", "minutes": 5.0}]
    with duck.start_run("strict"):
        artifact = duck.log_dataframe(pd.DataFrame(ROWS), "trips")
        with pytest.raises(SchemaValidationError) as caught:
            duck.ingest(artifact, bad, schema=Trip)
    message = str(caught.value)
    assert "row 2" in message and "trip_id" in message and "three" in message
    assert duck.ingestion_of(artifact) is None
    assert "hot_trips" not in duck.tables.tables()


def test_a_registered_schema_makes_ingestion_strict(tmp_path: Path) -> None:
    """The artifact key matching a registered schema turns strict mode on by itself."""
    tracker = consist.Tracker(tmp_path / "runs", schemas=[Trip], code_identity="function")
    with tracker, tracker.start_run("auto"):
        artifact = tracker.log_dataframe(pd.DataFrame({"trip_id": ["x"]}), "trip")
        with pytest.raises(SchemaValidationError, match="trip_id"):
            tracker.ingest(artifact)
        good = tracker.log_dataframe(pd.DataFrame(ROWS), "trip")
        assert tracker.ingest(good).schema == "Trip"


def test_a_type_change_between_ingests_is_refused_cleanly(duck: Any) -> None:
    """Quick mode infers; a later artifact with a clashing type is refused, not mangled."""
    with duck.start_run("a"):
        duck.ingest(duck.log_dataframe(pd.DataFrame({"v": [1, 2]}), "vals"))
        clash = duck.log_dataframe(pd.DataFrame({"v": [[1], [2]]}), "vals")
        with pytest.raises(CatalogError):
            duck.ingest(clash)
    assert duck.tables.query("SELECT count(*) AS n FROM hot_vals").to_pylist() == [{"n": 2}]


def test_load_df_falls_back_to_ingested_rows_after_the_file_is_deleted(duck: Any) -> None:
    """Ghost mode: the file is gone, the rows come back from the database."""
    with duck.start_run("ghost"):
        artifact = duck.log_dataframe(pd.DataFrame(ROWS), "trips")
        duck.ingest(artifact)
    os.remove(duck.artifact_path(artifact))
    back = consist.load_df(artifact, db_fallback="if_missing", tracker=duck)
    assert back.to_dict("records") == ROWS
    assert consist.load_df(artifact.id, db_fallback="always", tracker=duck).shape == (2, 3)
    with pytest.raises(MissingFile, match="db_fallback='never'") as caught:
        consist.load_df(artifact, db_fallback="never", tracker=duck)
    assert "trips" in str(caught.value) and "ghost" in str(caught.value)


def test_load_df_without_ingested_rows_names_the_remedies(duck: Any) -> None:
    """A deleted file that was never ingested is a clear error, not an empty frame."""
    with duck.start_run("lost"):
        artifact = duck.log_dataframe(pd.DataFrame(ROWS), "trips")
    assert consist.load_df(artifact, tracker=duck).shape == (2, 3)
    os.remove(duck.artifact_path(artifact))
    with pytest.raises(MissingFile, match="no ingested rows") as caught:
        consist.load_df(artifact, db_fallback="always", tracker=duck)
    assert "'lost'" in str(caught.value) and "ingest outputs" in str(caught.value)


def test_another_process_can_use_the_catalog_while_a_tracker_is_open(
    duck: Any, tmp_path: Path
) -> None:
    """The data tables share the catalog file but hold it only briefly."""
    import subprocess
    import sys
    import time

    with duck.start_run("first"):
        duck.ingest(duck.log_dataframe(pd.DataFrame(ROWS), "trips"))
    time.sleep(1.0)  # past the idle close of both catalog and table store
    code = (
        "import consist, sys; "
        f"t = consist.Tracker({str(tmp_path / 'runs')!r}, "
        f"db_path={str(tmp_path / 'provenance.duckdb')!r}, code_identity='function'); "
        "t.create_view('v_trips', 'trips'); "
        "print(consist.run_query('SELECT count(*) AS n FROM v_trips', tracker=t)['n'].item()); "
        "t.close()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "2"
