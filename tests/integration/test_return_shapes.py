"""What a step returns, and what log_dataframe writes, keeps its shape and format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import consist
from consist.domain.errors import InvalidInput

SKIMS = xr.Dataset(
    {
        "time": (("o", "d"), np.arange(4.0).reshape(2, 2)),
        "cost": (("o", "d"), np.ones((2, 2))),
    },
    coords={"o": [1, 2], "d": [1, 2]},
)


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    with consist.Tracker(run_dir="./runs", db_path="./provenance.duckdb") as made:
        yield made


def test_a_returned_dataset_is_one_zarr_output(tracker: Any) -> None:
    result = tracker.run(lambda: SKIMS, name="skims", outputs=["skims"])
    assert list(result.outputs) == ["skims"]
    skims = result.outputs["skims"]
    assert skims.driver == "zarr" and skims.path.endswith("skims.zarr")
    xr.testing.assert_identical(consist.load(skims).load(), SKIMS)


def test_a_returned_dataset_without_declared_outputs_is_keyed_by_the_step(tracker: Any) -> None:
    def skims() -> xr.Dataset:
        return SKIMS

    result = tracker.run(skims)
    assert list(result.outputs) == ["skims"]


def test_log_dataframe_writes_csv_when_asked(tracker: Any, tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with tracker.start_run("tables") as run:
        as_csv = consist.log_dataframe(df, "persons", driver="csv")
        elsewhere = consist.log_dataframe(df, "copy", path="exports/copy.csv", driver="csv")
        parquet_at = consist.log_dataframe(df, "pq", path=Path("pq_here.parquet"))
    assert as_csv.driver == "csv"
    assert Path(as_csv.path) == run.run_dir / "persons.csv"
    assert Path(as_csv.path).read_text() == "a,b\n1,x\n2,y\n"
    assert Path(elsewhere.path) == tmp_path / "exports" / "copy.csv"
    assert (parquet_at.driver, Path(parquet_at.path)) == ("parquet", tmp_path / "pq_here.parquet")
    pd.testing.assert_frame_equal(consist.load_df(as_csv), df)
    pd.testing.assert_frame_equal(consist.load(parquet_at), df)


def test_log_dataframe_refuses_an_unknown_driver(tracker: Any) -> None:
    with tracker.start_run("bad") as run:
        with pytest.raises(InvalidInput, match=r"driver.*'xlsx'"):
            consist.log_dataframe(pd.DataFrame({"a": [1]}), "t", driver="xlsx")
        assert run.outputs == {}
