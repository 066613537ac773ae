"""`consist preview`, in a later process, of tables as steps return them: a grouped
pandas frame shows its key, polars and Arrow tables preview like any other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa

import consist


def per_zone() -> pd.DataFrame:
    return pd.DataFrame({"zone": [1, 1, 2], "trips": [3, 4, 5]}).groupby("zone").sum()


def as_polars() -> pl.DataFrame:
    return pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})


def as_arrow() -> pa.Table:
    return pa.table({"a": [1, 2]})


def _preview(root: Path, ref: str, *options: str) -> subprocess.CompletedProcess[str]:
    consist_cli = Path(sys.executable).with_name("consist")
    return subprocess.run(
        [str(consist_cli), "preview", ref, *options],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "80", "PATH": str(consist_cli.parent)},
    )


def test_preview_shows_index_keys_and_every_table_kind(tmp_path: Path) -> None:
    with consist.Tracker(tmp_path / "runs", db_path=tmp_path / "provenance.duckdb") as tracker:
        ids = {
            key: tracker.run(fn, outputs=[key]).run_id
            for key, fn in (("by_zone", per_zone), ("pol", as_polars), ("arr", as_arrow))
        }

    def picture(key: str) -> Any:
        done = _preview(tmp_path, f"{ids[key]}:{key}", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert picture("by_zone")["columns"] == ["zone", "trips"]
    assert picture("by_zone")["rows"] == [[1, 7], [2, 5]]
    assert picture("pol")["rows"] == [[1, "x"], [2, "y"]]
    assert picture("arr")["columns"] == ["a"] and picture("arr")["shape"] == [2, 1]

    shown = _preview(tmp_path, f"{ids['by_zone']}:by_zone")
    assert shown.returncode == 0, shown.stderr
    # The heading is one line, not wrapped to the width of a narrow table.
    assert "by_zone (workspace://by_zone.parquet): 2 rows x 2 columns" in shown.stdout
