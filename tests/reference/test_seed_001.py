"""seed-001-architecture.md: the Python examples (views, matrix, events, context stack)
and the data model's fields, run as written.

The behaviour tables live beside this file: ``test_seed_001_caching.py`` (what
breaks a cache hit, cache modes, configuration strategies),
``test_seed_001_ghost.py`` (Ghost Mode, DB fallback) and ``test_seed_001_paths.py``
(mount URIs, portable snapshots).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sqlmodel import Field, SQLModel, select

import consist
from consist import Artifact, Run, Tracker


@pytest.fixture
def person_table_free() -> Iterator[None]:
    """The example declares ``Person(SQLModel, table=True)``: a ``person`` table another
    test module declared is forgotten first, and the example's is forgotten after it."""
    if "person" in SQLModel.metadata.tables:
        SQLModel.metadata.remove(SQLModel.metadata.tables["person"])
    yield
    if "person" in SQLModel.metadata.tables:
        SQLModel.metadata.remove(SQLModel.metadata.tables["person"])


def test_sql_views_example_queries_one_year_across_runs(
    workdir: Path, person_table_free: None
) -> None:
    """``tracker.views.Person`` spans every run (hot rows and cold files) and filters by year."""

    class Person(SQLModel, table=True):
        person_id: int = Field(primary_key=True)
        age: int

    tracker = Tracker(schemas=[Person])

    # Context: three runs wrote Person rows; two in 2030 (one ingested, one left as a file).
    for run_id, year, ages, ingest in (
        ("y2030a", 2030, [30, 31], True),
        ("y2030b", 2030, [40], False),
        ("y2040", 2040, [50], True),
    ):
        with tracker.start_run(run_id, model="population", year=year):
            ids = [hash((run_id, a)) % 10_000 for a in ages]
            frame = pd.DataFrame({"person_id": ids, "age": ages})
            artifact = tracker.log_dataframe(frame, key="person")
            if ingest:
                tracker.ingest(artifact)

    # Access the view
    VPerson = tracker.views.Person

    # Query across all runs
    query = select(VPerson).where(VPerson.consist_year == 2030)

    rows = consist.run_query(query, tracker=tracker)
    assert sorted(rows["age"]) == [30, 31, 40]
    assert set(rows["consist_run_id"]) == {"y2030a", "y2030b"}
    for column in ("consist_run_id", "consist_scenario_id", "consist_year", "consist_artifact_id"):
        assert column in rows.columns
    assert tracker.run_dir == workdir / "runs"  # Tracker() without run_dir: ./runs
    tracker.close()


def test_matrix_example_concatenates_runs_lazily(workdir: Path) -> None:
    """``tracker.matrix.load`` gives dims (run_id, origin, destination), year as a coordinate."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    zones = [1, 2, 3]
    for year in (2030, 2040):
        with tracker.start_run(f"skims_{year}", model="skims", year=year) as run:
            times = np.full((3, 3), float(year - 2000))
            skims = xr.Dataset(
                {
                    "travel_time": (("origin", "destination"), times),
                    "distance": (("origin", "destination"), times * 2),
                },
                coords={"origin": zones, "destination": zones},
            )
            store = run.workspace / "skims.zarr"
            skims.to_zarr(store)
            tracker.log_artifact(store, key="skim_matrices")

    ds = tracker.matrix.load("skim_matrices", variables=["travel_time"])
    # ds is an xarray.Dataset with dims: (run_id, origin, destination)

    assert isinstance(ds, xr.Dataset)
    assert ds["travel_time"].dims == ("run_id", "origin", "destination")
    assert list(ds.data_vars) == ["travel_time"]
    assert sorted(ds["year"].values.tolist()) == [2030, 2040]
    assert ds["travel_time"].chunks is not None  # lazy: dask-backed, nothing read yet
    by_year = ds.swap_dims(run_id="year")["travel_time"].sel(year=2040).values
    assert (by_year == 40.0).all()
    tracker.close()


def test_event_hooks_example_calls_the_callbacks(workdir: Path) -> None:
    """The two registrations of the example fire on completion and on failure."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    notified: list[Any] = []
    reported: list[BaseException] = []

    def notify_slack(run_id: str) -> None:
        notified.append(run_id)

    def log_to_sentry(error: BaseException) -> None:
        reported.append(error)

    tracker.events.on_run_complete(lambda run, artifacts: notify_slack(run.id))
    tracker.events.on_run_failed(lambda run, error: log_to_sentry(error))

    with tracker.start_run("fine", model="m"):
        pass
    boom = RuntimeError("boom")
    with pytest.raises(RuntimeError), tracker.start_run("broken", model="m"):
        raise boom
    assert notified == ["fine"]
    assert reported == [boom]
    tracker.close()


def _complete_hook_sees_outputs(tracker: Any, calls: list[tuple[Any, ...]]) -> None:
    tracker.events.on_run_complete(lambda run, artifacts: calls.append((run, artifacts)))
    with tracker.start_run("ok", model="m"):
        tracker.log_dataframe(pd.DataFrame({"x": [1]}), key="table")


def _failed_hook_sees_the_exception(tracker: Any, calls: list[tuple[Any, ...]]) -> None:
    tracker.events.on_run_failed(lambda run, error: calls.append((run, error)))
    with pytest.raises(KeyError), tracker.start_run("bad", model="m"):
        raise KeyError("missing")


@pytest.mark.parametrize(
    ("event", "register_and_run", "check"),
    [
        (
            "on_run_complete",
            _complete_hook_sees_outputs,
            lambda run, second: (
                run.id == "ok"
                and isinstance(second, list)
                and [type(a) for a in second] == [Artifact]
                and second[0].key == "table"
            ),
        ),
        (
            "on_run_failed",
            _failed_hook_sees_the_exception,
            lambda run, second: (
                run.id == "bad" and isinstance(second, KeyError) and run.status == "failed"
            ),
        ),
    ],
)
def test_event_hook_table_signatures(
    workdir: Path, event: str, register_and_run: Any, check: Any
) -> None:
    """Table "Event Hooks": on_run_complete(Run, list[Artifact]); on_run_failed(Run, Exception)."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    calls: list[tuple[Any, ...]] = []
    register_and_run(tracker, calls)
    assert len(calls) == 1, event
    run, second = calls[0]
    assert isinstance(run, Run)
    assert check(run, second)
    tracker.close()


def test_a_failing_hook_is_logged_not_raised(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ "Hook failures are logged but do not crash the run"."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    def broken_hook(run: Run, artifacts: list[Artifact]) -> None:
        raise RuntimeError("slack is down")

    tracker.events.on_run_complete(broken_hook)
    with caplog.at_level(logging.WARNING, logger="consist"), tracker.start_run("survives"):
        pass
    assert tracker.get_run("survives").status == "completed"
    assert any("slack is down" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    tracker.close()


def test_context_stack_example_finds_the_tracker(workdir: Path) -> None:
    """``sc.step(name=...)`` is a traced step: log_dataframe needs no tracker= inside it."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    df = pd.DataFrame({"zone": [1, 2], "trips": [10, 20]})

    import consist
    from consist import use_tracker

    with use_tracker(tracker):  # noqa: SIM117 (the example's own nesting)
        with consist.scenario("baseline") as sc:
            # consist.log_artifact() finds the active tracker automatically
            with sc.step(name="simulate"):
                consist.log_dataframe(df, key="results")  # No tracker= needed

    steps = tracker.find_runs(parent_run_id="baseline")
    assert [s.model for s in steps] == ["simulate"]
    outputs = tracker.get_artifacts_for_run(steps[0].id).outputs
    assert list(outputs) == ["results"]
    assert consist.load_df(outputs["results"], tracker=tracker).equals(df)
    assert sc.coupler.get("results").id == outputs["results"].id
    tracker.close()


def test_data_model_artifact_hash_is_the_sha256_of_the_bytes(workdir: Path) -> None:
    """Data model: ``Artifact.hash`` is the SHA-256 content hash; Run keeps parent, year,
    tags; a RunArtifactLink ties them with its direction."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    Path("land_use.csv").write_text("zone,jobs\n1,10\n")
    with (
        consist.scenario("baseline", tracker=tracker) as sc,
        sc.step(name="prepare", year=2030, tags=["draft"]) as step,
    ):
        artifact = tracker.log_artifact("land_use.csv", key="land_use", direction="input")
    expected = hashlib.sha256(Path("land_use.csv").read_bytes()).hexdigest()
    assert artifact.hash == expected
    run = tracker.get_run(step.run.id)
    assert (run.parent_run_id, run.year, list(run.tags)) == ("baseline", 2030, ["draft"])
    links = tracker.get_artifacts_for_run(run.id)
    assert links.inputs["land_use"].hash == expected  # read back from the catalog
    (link,) = tracker.get_record(run.id).links  # RunArtifactLink: run, artifact, direction
    assert (link.run_id, link.artifact_id, link.direction, link.key) == (
        run.id,
        artifact.id,
        "input",
        "land_use",
    )
    tracker.close()
