"""Views never show pandas' row-position columns; named index levels stay columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from sqlmodel import Field, SQLModel

import consist


class Reading(SQLModel, table=True):
    sensor: int = Field(primary_key=True)
    value: float


def _filtered(seed: float) -> pd.DataFrame:
    values = [0.9 + seed, 0.8 + seed, 0.1, 0.7 + seed, 0.6 + seed, 0.2]
    frame = pd.DataFrame({"sensor": range(6), "value": values})
    return frame[frame["value"] > 0.5]  # rows 0, 1, 3, 4: not a range


def test_views_hide_unnamed_index_and_keep_named_levels(tmp_path: Path) -> None:
    tracker = consist.Tracker(tmp_path / "runs", db_path=tmp_path / "p.duckdb", schemas=[Reading])
    try:
        frames = {}
        for seed in (0, 1):
            with tracker.start_run(f"run{seed}", model="m"):
                frames[seed] = _filtered(seed * 0.25)
                logged = tracker.log_dataframe(frames[seed], "reading", schema=Reading)
                by_zone = frames[seed].assign(zone=frames[seed]["sensor"] % 2)
                tracker.log_dataframe(by_zone.groupby("zone")[["value"]].sum(), "zones")
        # The file still carries the index, so load gives the frame back as it was.
        pd.testing.assert_frame_equal(consist.load(logged, tracker=tracker), frames[1])

        tracker.views.Reading  # noqa: B018 - builds the view
        tracker.create_view("v_zones", "zones")
        readings = consist.run_query("SELECT * FROM v_reading", tracker=tracker)
        zones = consist.run_query("SELECT * FROM v_zones", tracker=tracker)
        mapped = {c.name for c in tracker.views.Reading.__table__.columns}
    finally:
        tracker.close()

    assert not [c for c in readings.columns if c.startswith("__index_level")]
    assert {"sensor", "value", "consist_run_id"} <= set(readings.columns)
    assert len(readings) == len(frames[0]) + len(frames[1])
    assert not [c for c in mapped if c.startswith("__")]
    assert not [c for c in zones.columns if c.startswith("__index_level")]
    assert sorted(zones["zone"].tolist()) == [0, 0, 1, 1]


def test_files_of_unknown_schema_hide_positions_too(tmp_path: Path) -> None:
    """Files whose columns are not known up front (archived blobs) are filtered by pattern."""
    from consist.services.data.hybrid_views import ColdFile, hybrid_view_sql
    from consist_duckdb import DuckDBTableStore

    files = []
    for seed in (0, 1):
        path = tmp_path / f"r{seed}.parquet"
        _filtered(seed * 0.25).to_parquet(path)  # pandas writes __index_level_0__
        assert "__index_level_0__" in pq.read_schema(path).names
        files.append(ColdFile(f"a{seed}", str(path), "parquet", f"run{seed}"))
    store = DuckDBTableStore("duckdb://:memory:")
    try:
        store.create_view("v", hybrid_view_sql(None, files))
        columns = store.query("SELECT * FROM v").column_names
    finally:
        store.close()
    assert columns[:2] == ["sensor", "value"]
    assert not [c for c in columns if c.startswith("__")]
