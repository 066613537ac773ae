"""Matrix views over Zarr/NetCDF outputs, and schema export round trips."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import consist


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Any]:
    tracker = consist.Tracker(
        tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", code_identity="function"
    )
    yield tracker
    tracker.close()


def _skims(seed: int) -> xr.Dataset:
    zones = np.arange(4)
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "travel_time": (("origin", "destination"), rng.random((4, 4)) + seed),
            "distance": (("origin", "destination"), rng.random((4, 4))),
        },
        coords={"origin": zones, "destination": zones},
    )


def _three_runs(tracker: Any, fmt: str = "zarr") -> list[Any]:
    artifacts = []
    for i, (year, scenario) in enumerate([(2030, "base"), (2040, "base"), (2030, "high")]):
        with tracker.start_run(f"skim{i}", year=year, iteration=i, parent_run_id=scenario) as run:
            if fmt == "zarr":
                path = run.workspace / "skims.zarr"
                _skims(i).chunk({"origin": 2}).to_zarr(path, consolidated=False)
            else:
                path = run.workspace / "skims.nc"
                _skims(i).to_netcdf(path)
            artifacts.append(tracker.log_artifact(path, "skims"))
    return artifacts


def test_matrix_view_stacks_three_runs_along_run_id(duck: Any) -> None:
    """dims (run_id, origin, destination) with year/iteration/scenario coordinates."""
    _three_runs(duck)
    ds = duck.matrix.load("skims", variables=["travel_time"])
    assert ds["travel_time"].dims == ("run_id", "origin", "destination")
    assert list(ds.data_vars) == ["travel_time"]
    assert ds["run_id"].values.tolist() == ["skim0", "skim2", "skim1"]  # by year, iteration
    assert ds["year"].values.tolist() == [2030, 2030, 2040]
    assert ds["scenario"].values.tolist() == ["base", "high", "base"]
    means = ds["travel_time"].mean(dim=("origin", "destination")).values
    assert means[0] < 1 < means[2] < 2 < means[1]
    only_high = duck.matrix.load("skims", scenario="high")
    assert only_high.sizes["run_id"] == 1 and set(only_high.data_vars) == {
        "travel_time",
        "distance",
    }


def test_matrix_view_reads_nothing_until_computed(duck: Any) -> None:
    """The data is dask-backed: a chunk deleted after load fails only on compute."""
    artifacts = _three_runs(duck)
    ds = duck.matrix.load("skims", variables=["travel_time"])
    assert type(ds["travel_time"].data).__module__.startswith("dask")
    store = duck.artifact_path(artifacts[1])
    chunk_dir = store / "travel_time" / "c"
    assert chunk_dir.is_dir()
    shutil.rmtree(chunk_dir)
    # The other runs' chunks are intact and still readable lazily.
    assert float(ds["travel_time"].sel(run_id="skim0").sum().compute()) > 0
    # Zarr reads a missing chunk as the fill value (NaN): the deleted data is visibly gone,
    # which proves it was never loaded at load() time.
    gone = ds["travel_time"].sel(run_id="skim1").compute()
    assert bool(np.isnan(gone.values).all()) or float(gone.sum()) == 0.0


def test_matrix_view_opens_netcdf_too(duck: Any) -> None:
    _three_runs(duck, fmt="netcdf")
    ds = duck.matrix.load("skims", variables=["distance"], year=2030)
    assert ds["distance"].dims == ("run_id", "origin", "destination")
    assert ds.sizes["run_id"] == 2


def test_matrix_view_errors_name_the_problem(duck: Any) -> None:
    _three_runs(duck)
    with pytest.raises(LookupError, match="no run"):
        duck.matrix.load("nothing")
    with pytest.raises(ValueError, match="no variables"):
        duck.matrix.load("skims", variables=["speed"])


def _import(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


AWKWARD = pd.DataFrame(
    {
        "person_id": [1, 2],
        "Trip Count (2030)": [3, 4],
        "class": ["a", "b"],
        "2nd_home": [True, False],
        "income-$": [1.5, 2.5],
    }
)


def test_schema_export_from_ingested_table_round_trips(duck: Any, tmp_path: Path) -> None:
    """The stub imports, validates the data by its original names, and is a view schema."""
    with duck.start_run("src"):
        duck.ingest(duck.log_dataframe(AWKWARD, "household"))
    target = tmp_path / "stubs" / "household_schema.py"
    source = consist.export_schema("household", tracker=duck, path=target)
    assert target.read_text() == source
    assert "ingested table hot_household" in source
    module = _import(target, "household_schema")
    model = module.Household
    for row in AWKWARD.to_dict("records"):
        model.model_validate(row)
    fields = set(model.model_fields)
    assert {"person_id", "trip_count_2030", "class_", "col_2nd_home", "income"} <= fields
    with pytest.raises(ValueError, match=r"trip_count_2030|Trip Count"):
        model.model_validate({"Trip Count (2030)": "many"})
    # Registering the exported class gives a view over the key it came from.
    with consist.Tracker(
        duck.run_dir, db_path=tmp_path / "provenance.duckdb", schemas=[model]
    ) as again:
        df = consist.run_query('SELECT sum("Trip Count (2030)") AS s FROM v_household',
                               tracker=again)  # fmt: skip
        assert df["s"].item() == 7


def test_schema_export_from_the_file_profile_as_sqlmodel(duck: Any, tmp_path: Path) -> None:
    """Without ingestion the catalog's file profile is used; the SQLModel stub imports."""
    with duck.start_run("profiled") as run:
        path = run.workspace / "persons.csv"
        AWKWARD.to_csv(path, index=False)
        duck.log_artifact(path, "persons", profile_file_schema=True)
    path.unlink()  # the profile lives on in the catalog
    target = tmp_path / "persons_model.py"
    source = consist.export_schema("persons", tracker=duck, path=target, sqlmodel=True)
    assert "file schema profile" in source and "table=True" in source
    model = _import(target, "persons_model").Persons
    assert model.__tablename__ == "persons"
    for row in AWKWARD.to_dict("records"):
        model.model_validate(row)


def test_schema_export_of_an_unknown_key_says_what_to_do(duck: Any) -> None:
    with pytest.raises(LookupError, match="profile_file_schema=True"):
        consist.export_schema("nope", tracker=duck)
