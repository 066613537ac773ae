"""Helpers given an artifact a tracker returned work after ``use_tracker`` has ended."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import Artifact, Tracker, use_tracker
from consist.domain.errors import NoActiveTracker


def _clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw[raw["value"] > 1]


@pytest.fixture
def raw_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"value": [1, 2, 3]}).to_csv("raw.csv", index=False)
    return tmp_path / "raw.csv"


def test_load_df_after_the_block_uses_the_tracker_that_returned_the_artifact(
    raw_csv: Path,
) -> None:
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    with use_tracker(tracker):
        result = consist.run(fn=_clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
    cleaned = result.outputs["cleaned"]
    assert consist.load_df(cleaned)["value"].tolist() == [2, 3]
    tracker.ingest(cleaned)
    Path(cleaned.path).unlink()  # only the tracker knows the ingested rows now
    assert consist.load_df(cleaned, db_fallback="always")["value"].tolist() == [2, 3]
    tracker.close()


def test_load_after_the_block_resolves_through_the_owner_not_the_recorded_path(
    raw_csv: Path,
) -> None:
    """The run folder moved with its mount: only the owning tracker can find the file."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    with use_tracker(tracker):
        result = consist.run(fn=_clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
    listed = tracker.get_artifacts_for_run(result.run.id).outputs["cleaned"]
    moved = Artifact.from_dict({**listed.to_dict(), "abs_path": "/nowhere/cleaned.parquet"})
    assert consist.load(moved)["value"].tolist() == [2, 3]
    assert consist.ingest(moved) is not None
    tracker.close()


def test_an_artifact_no_tracker_returned_still_needs_one(raw_csv: Path) -> None:
    stranger = Artifact(id="never-logged", key="x", uri="inputs://x.parquet", driver="parquet")
    with pytest.raises(NoActiveTracker, match=r"consist\.load_df"):
        consist.load_df(stranger)


def test_a_dropped_tracker_is_not_kept_alive_by_its_artifacts(raw_csv: Path) -> None:
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    with use_tracker(tracker):
        result = consist.run(fn=_clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
    cleaned = result.outputs["cleaned"]
    tracker.close()
    del tracker, result
    gc.collect()
    with pytest.raises(NoActiveTracker):
        consist.load_df(cleaned)
