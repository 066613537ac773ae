"""log_dataframe(driver="csv") keeps a grouped frame's key as columns, never row positions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import consist


def test_csv_keeps_named_index_levels_and_drops_positions(tmp_path: Path) -> None:
    df = pd.DataFrame({"zone": [1, 1, 2, 2], "mode": list("abab"), "trips": [3, 4, 5, 6]})
    with consist.Tracker(tmp_path / "runs", db_path=tmp_path / "p.duckdb") as tracker:
        with tracker.start_run("r1", model="m"):
            grouped = consist.log_dataframe(df.groupby("zone")[["trips"]].sum(), "g", driver="csv")
            multi = consist.log_dataframe(df.groupby(["zone", "mode"]).sum(), "m", driver="csv")
            kept = consist.log_dataframe(df.iloc[[0, 1, 3]], "f", driver="csv")
        texts = {a.key: tracker.resolve_path(a).read_text() for a in (grouped, multi, kept)}

    assert texts["g"].splitlines() == ["zone,trips", "1,7", "2,11"]
    assert texts["m"].splitlines()[0] == "zone,mode,trips"
    assert texts["f"].splitlines() == ["zone,mode,trips", "1,a,3", "1,b,4", "2,b,6"]
    back = consist.load(grouped)
    assert back["zone"].tolist() == [1, 2] and back["trips"].tolist() == [7, 11]
