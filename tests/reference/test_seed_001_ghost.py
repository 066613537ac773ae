"""seed-001-architecture.md, "Ghost Mode": a deleted, ingested output stays usable as an
input, and ``load_df``'s ``db_fallback`` modes (the table of docs/data-virtualization.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist import Tracker
from consist.domain.errors import MissingFile, MissingInputFile


def test_ghost_mode_example_reads_a_deleted_input_from_the_database(workdir: Path) -> None:
    """2035 writes and ingests its dispatch; the file is deleted; 2036 runs the example."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    dispatch = pd.DataFrame({"hour": list(range(24)), "mw": [100.0 + h for h in range(24)]})
    with tracker.start_run("2035_dispatch", model="grid_sim", year=2035):
        dispatch.to_parquet("year_2035_dispatch.parquet", index=False)
        produced = tracker.log_artifact("year_2035_dispatch.parquet", key="dispatch")
        tracker.ingest(produced)
    tracker.close()
    Path("year_2035_dispatch.parquet").unlink()  # reclaim the space

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")  # a later session

    with tracker.start_run("2036_dispatch", model="grid_sim"):
        artifact = tracker.log_artifact(
            "year_2035_dispatch.parquet", key="dispatch", direction="input"
        )
        df = consist.load_df(artifact, db_fallback="always")  # (1)!

    assert artifact.id == produced.id and artifact.hash == produced.hash
    pd.testing.assert_frame_equal(df[["hour", "mw"]], dispatch)
    assert tracker.get_producer(artifact).id == "2035_dispatch"
    assert tracker.get_artifacts_for_run("2036_dispatch").inputs["dispatch"].id == produced.id
    assert tracker.get_run("2036_dispatch").status == "completed"
    tracker.close()


def test_a_missing_input_nobody_recorded_is_still_an_error(workdir: Path) -> None:
    """Ghost Mode needs the catalog to know the URI; an unknown missing file is refused."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    with (
        tracker.start_run("2036_dispatch", model="grid_sim"),
        pytest.raises(MissingInputFile, match=r"never_written\.parquet"),
    ):
        tracker.log_artifact("never_written.parquet", key="dispatch", direction="input")
    tracker.close()


FILE_ROWS = [1, 2]
DB_ROWS = [1, 2, 3]  # ingested as given data, so the source of each answer shows


@pytest.mark.parametrize(
    ("db_fallback", "file_present", "ingested", "expected"),
    [
        ("never", True, True, FILE_ROWS),
        ("never", False, True, MissingFile),
        ("never", False, False, MissingFile),
        ("if_missing", True, True, FILE_ROWS),
        ("if_missing", False, True, DB_ROWS),
        ("if_missing", False, False, MissingFile),
        ("always", True, True, DB_ROWS),
        ("always", True, False, FILE_ROWS),
        ("always", False, True, DB_ROWS),
        ("always", False, False, MissingFile),
    ],
)
def test_db_fallback_modes(
    workdir: Path, db_fallback: str, file_present: bool, ingested: bool, expected: Any
) -> None:
    """``consist.load_df(artifact, db_fallback=...)``: file or ingested rows, or MissingFile."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    with tracker.start_run("producer", model="m"):
        pd.DataFrame({"trip": FILE_ROWS}).to_parquet("trips.parquet", index=False)
        artifact = tracker.log_artifact("trips.parquet", key="trips")
        if ingested:
            tracker.ingest(artifact, data=[{"trip": t} for t in DB_ROWS])
    if not file_present:
        Path("trips.parquet").unlink()
    if expected is MissingFile:
        with pytest.raises(MissingFile, match="trips"):
            consist.load_df(artifact, db_fallback=db_fallback, tracker=tracker)
    else:
        df = consist.load_df(artifact, db_fallback=db_fallback, tracker=tracker)
        assert df["trip"].tolist() == expected
    tracker.close()
