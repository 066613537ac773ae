"""Bad values are refused everywhere: cache modes of start_run, strict ingest, log_dataframe.

Each refusal raises our own error naming what is wrong, and writes nothing:
no run, no ingested rows, no Parquet file, no artifact.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

import consist
from consist.domain.errors import InvalidCacheMode, SchemaColumnError, SchemaValidationError


class TableRider(SQLModel, table=True):
    __tablename__ = "rider"
    rider_id: int = Field(primary_key=True)
    age: int
    fare: float | None = None


class Rider(BaseModel):
    rider_id: int
    age: int
    fare: float | None = None


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Any]:
    with consist.Tracker(tmp_path / "runs", db_path=tmp_path / "provenance.duckdb") as made:
        yield made


def test_start_run_refuses_an_unknown_cache_mode_and_records_nothing(tracker: Any) -> None:
    """start_run(cache_mode="bogus") raises as run() does; no run, no folder."""
    with (
        pytest.raises(InvalidCacheMode, match=r"cache_mode.*'bogus'") as raised,
        tracker.start_run("r1", model="m", cache_mode="bogus"),
    ):
        pytest.fail("the block must not run")
    assert isinstance(raised.value, ValueError)
    assert not tracker.run_exists("r1")
    assert not (tracker.run_dir / "r1").exists()
    with pytest.raises(InvalidCacheMode, match="cache_mode"):
        tracker.run(lambda: None, cache_mode="bogus")


@pytest.mark.parametrize("mode", ["reuse", "overwrite", "readonly"])
def test_start_run_takes_each_cache_mode_and_readonly_records_nothing(
    tracker: Any, mode: str
) -> None:
    """reuse/overwrite record the block's run; readonly is a sandbox that persists nothing."""
    with tracker.start_run("r1", model="m", cache_mode=mode):
        pass
    assert tracker.run_exists("r1") is (mode != "readonly")


BAD_ROWS = {
    "undeclared column": ([{"rider_id": 1, "age": 30, "colour": "red"}], "colour"),
    "missing column": ([{"rider_id": 1, "fare": 2.5}], "age"),
    "text for an int": ([{"rider_id": 1, "age": "old"}], "age"),
    "fraction for an int": ([{"rider_id": 1, "age": 30.5}], "age"),
}


@pytest.mark.parametrize("schema", [TableRider, Rider], ids=["sqlmodel", "pydantic"])
@pytest.mark.parametrize("form", ["rows", "dataframe"])
@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_strict_ingest_refuses_rows_that_break_the_schema(
    tracker: Any, schema: type, form: str, case: str
) -> None:
    """ingest(schema=...) names the offending column and ingests nothing."""
    rows, column = BAD_ROWS[case]
    data = rows if form == "rows" else pd.DataFrame(rows)
    with tracker.start_run("r1", model="m"):
        artifact = tracker.log_artifact(
            _csv(tracker.run_dir / "riders.csv", pd.DataFrame(rows)), key="rider"
        )
        with pytest.raises(SchemaValidationError, match=repr(column)) as raised:
            tracker.ingest(artifact=artifact, data=data, schema=schema)
        assert raised.value.field == column
    assert tracker.ingestion_of(artifact) is None
    good = [{"rider_id": 1, "age": 30, "fare": 2.5}]
    with tracker.start_run("r2", model="m"):
        artifact = tracker.log_artifact(_csv(tracker.run_dir / "ok.csv", pd.DataFrame(good)))
        assert tracker.ingest(artifact=artifact, data=good, schema=schema).rows == 1


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_log_dataframe_refuses_a_frame_that_breaks_its_schema(tracker: Any, case: str) -> None:
    """log_dataframe(schema=...) checks the columns first: no file, no artifact on failure."""
    rows, column = BAD_ROWS[case]
    with tracker.start_run("r1", model="m") as run:
        with pytest.raises(SchemaColumnError, match=repr(column)):
            consist.log_dataframe(pd.DataFrame(rows), key="rider", schema=Rider)
        assert not list(run.workspace.glob("*.parquet"))
        assert "rider" not in run.outputs
        logged = consist.log_dataframe(
            pd.DataFrame([{"rider_id": 1, "age": 30}]), key="rider", schema=Rider
        )
    assert logged.meta["schema"] == "Rider"


def test_strict_ingest_keeps_system_columns_and_optional_fields(tracker: Any) -> None:
    """consist_* columns are not "undeclared"; a missing optional field is fine."""
    rows = [{"rider_id": 1, "age": 30, "consist_year": 2030}]
    with tracker.start_run("r1", model="m"):
        artifact = tracker.log_artifact(_csv(tracker.run_dir / "r.csv", pd.DataFrame(rows)))
        assert tracker.ingest(artifact=artifact, data=rows, schema=Rider).rows == 1


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path
