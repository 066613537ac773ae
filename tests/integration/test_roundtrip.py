"""Tables survive a trip through Consist: the pandas index, the library, and ``as_``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import polars.testing
import pyarrow as pa
import pytest

import consist
from consist.domain.errors import InvalidInput

TRIPS = pd.DataFrame(
    {
        "zone": [1, 2, 1, 3, 2],
        "purpose": ["work", "shop", "work", "school", "shop"],
        "trips": [10, 20, 30, 40, 50],
        "minutes": [5.0, 7.5, 6.0, 12.0, 8.5],
    }
)


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Any]:
    with consist.Tracker(
        tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", code_identity="function"
    ) as made:
        yield made


def grouped_trips() -> pd.DataFrame:
    return TRIPS.groupby("zone").sum(numeric_only=True)


def test_a_grouped_frame_keeps_its_index_through_a_step(tmp_path: Path, tracker: Any) -> None:
    """``return trips.groupby("zone").sum()`` comes back from ``consist.load`` with ``zone``."""
    result = tracker.run(grouped_trips, outputs=["by_zone"])
    expected = grouped_trips()
    back = consist.load(result.outputs["by_zone"], tracker=tracker)
    pd.testing.assert_frame_equal(back, expected)
    with consist.Tracker(tmp_path / "runs", db_path=tmp_path / "provenance.duckdb") as later:
        artifact = later.get_artifact(result.outputs["by_zone"].id)
        again = consist.load(artifact, tracker=later)
    assert again.index.name == "zone"
    pd.testing.assert_frame_equal(again, expected)


@pytest.mark.parametrize(
    "frame",
    [
        TRIPS.groupby(["zone", "purpose"]).sum(),
        TRIPS.set_index("purpose"),
        TRIPS.set_index(pd.Index(["a", "b", "c", "d", "e"], name="trip_id")),
        TRIPS.iloc[2:],
        TRIPS,
    ],
    ids=["multiindex", "named", "string-index", "sliced-range", "default"],
)
def test_log_dataframe_round_trips_any_pandas_index(tracker: Any, frame: pd.DataFrame) -> None:
    """A MultiIndex, a named index, a sliced RangeIndex: each is restored as it was."""
    with tracker.start_run("write"):
        artifact = tracker.log_dataframe(frame, "table")
    pd.testing.assert_frame_equal(consist.load(artifact, tracker=tracker), frame)


def test_polars_and_arrow_tables_come_back_as_what_they_were(tracker: Any) -> None:
    """Without ``as_``, a table is returned as the library it was written from."""
    polars_frame = pl.from_pandas(TRIPS)
    arrow_table = pa.Table.from_pandas(TRIPS, preserve_index=False)
    with tracker.start_run("write"):
        as_polars = tracker.log_dataframe(polars_frame, "polars_trips")
        as_arrow = tracker.log_dataframe(arrow_table, "arrow_trips")
    back = consist.load(as_polars, tracker=tracker)
    assert isinstance(back, pl.DataFrame)
    polars.testing.assert_frame_equal(back, polars_frame)
    table = consist.load(as_arrow, tracker=tracker)
    assert isinstance(table, pa.Table)
    assert table.equals(arrow_table)
    assert isinstance(consist.load_df(as_polars, tracker=tracker), pl.DataFrame)


SOURCES = {
    "pandas": lambda: TRIPS,
    "polars": lambda: pl.from_pandas(TRIPS),
    "arrow": lambda: pa.Table.from_pandas(TRIPS, preserve_index=False),
}
WANTED = {
    "pandas": pd.DataFrame,
    "polars": pl.DataFrame,
    "arrow": pa.Table,
    "pyarrow": pa.Table,
    pl.DataFrame: pl.DataFrame,
    pa.Table: pa.Table,
    pd.DataFrame: pd.DataFrame,
}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("as_", list(WANTED), ids=str)
def test_as_picks_the_kind_of_table(tracker: Any, source: str, as_: Any) -> None:
    """``as_`` names a library or a class; the rows are the same whatever comes back."""
    with tracker.start_run("write"):
        artifact = tracker.log_dataframe(SOURCES[source](), "trips")
    back = consist.load(artifact, tracker=tracker, as_=as_)
    assert isinstance(back, WANTED[as_])
    rows = back.to_pandas() if not isinstance(back, pd.DataFrame) else back
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), TRIPS)


def test_as_applies_to_files_consist_did_not_write(tmp_path: Path) -> None:
    """A CSV on disk is read as pandas by default and as polars or Arrow on request."""
    path = tmp_path / "trips.csv"
    TRIPS.to_csv(path, index=False)
    assert isinstance(consist.load(path), pd.DataFrame)
    polars.testing.assert_frame_equal(consist.load(path, as_="polars"), pl.from_pandas(TRIPS))
    assert consist.load(path, as_="arrow").num_rows == len(TRIPS)


def test_a_bad_as_is_a_clear_error(tmp_path: Path, tracker: Any) -> None:
    """An unknown kind, or ``as_`` on an array file, names what is accepted."""
    with tracker.start_run("write"):
        artifact = tracker.log_dataframe(TRIPS, "trips")
    with pytest.raises(InvalidInput, match="as_ must be one of"):
        consist.load(artifact, tracker=tracker, as_="excel")
    grid = tmp_path / "grid.npy"
    np.save(grid, np.arange(4))
    with pytest.raises(InvalidInput, match="applies to tables"):
        consist.load(grid, as_="polars")


def make_trips() -> pl.DataFrame:
    return pl.from_pandas(TRIPS)


def wants_pandas(trips: pd.DataFrame) -> pd.DataFrame:
    return _kind_seen(trips)


def wants_polars(trips: pl.DataFrame) -> pd.DataFrame:
    return _kind_seen(trips)


def wants_arrow(trips: pa.Table) -> pd.DataFrame:
    return _kind_seen(trips)


def wants_optional_pandas(trips: pd.DataFrame | None = None) -> pd.DataFrame:
    return _kind_seen(trips)


def unhinted(trips):  # type: ignore[no-untyped-def]
    return _kind_seen(trips)


def _kind_seen(trips: Any) -> pd.DataFrame:
    return pd.DataFrame({"kind": [type(trips).__module__.split(".")[0]]})


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        (wants_pandas, "pandas"),
        (wants_polars, "polars"),
        (wants_arrow, "pyarrow"),
        (wants_optional_pandas, "pandas"),
        (unhinted, "polars"),
    ],
    ids=["pandas", "polars", "arrow", "optional-pandas", "no-hint"],
)
def test_a_step_input_follows_its_parameters_type_hint(tracker: Any, step: Any, kind: str) -> None:
    """The hint on a step's parameter picks the kind; without one, the kind it was written as."""
    made = tracker.run(make_trips, outputs=["trips"])
    seen = tracker.run(step, inputs={"trips": made.outputs["trips"]}, outputs=["seen"])
    assert consist.load(seen.outputs["seen"], tracker=tracker)["kind"].item() == kind


@pytest.mark.parametrize("from_file", [False, True], ids=["frame", "file"])
def test_ingested_rows_keep_a_grouped_frames_key(tracker: Any, from_file: bool) -> None:
    """Ingesting a grouped frame (or its file) keeps ``zone`` as a column; row positions
    of a filtered frame do not become a column."""
    with tracker.start_run("ingest"):
        grouped = tracker.log_dataframe(grouped_trips(), "by_zone")
        filtered = tracker.log_dataframe(TRIPS[TRIPS["trips"] > 15], "busy")
        tracker.ingest(grouped, None if from_file else grouped_trips())
        tracker.ingest(filtered, None if from_file else TRIPS[TRIPS["trips"] > 15])
    rows = consist.load_df(grouped, db_fallback="always", tracker=tracker)
    pd.testing.assert_frame_equal(
        rows.sort_values("zone").reset_index(drop=True)[["zone", "trips", "minutes"]],
        grouped_trips().reset_index(),
    )
    busy = consist.load_df(filtered, db_fallback="always", tracker=tracker)
    assert list(busy.columns) == list(TRIPS.columns)
