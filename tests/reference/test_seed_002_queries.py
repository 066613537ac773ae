"""Seed 002 (usage guide), Querying Results: find_run/find_runs, loading, views.

The examples query what the Scenarios example of the same guide recorded, so
each test first runs that example as written (``scenario_example``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from tests.reference.seed002_context import run_model, scenario_example


@pytest.fixture
def tracker(workdir: Path) -> Iterator[Any]:
    """The guide's tracker, after its Scenarios example ran (baseline 2020/2030/2040)."""
    from consist import Tracker

    scenario_example(None)
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    yield tracker
    tracker.close()


def test_finding_runs_example_finds_one_run_and_indexes_by_year(tracker: Any) -> None:
    """find_run gives the one 2030 simulate step; find_runs(index_by="year") maps years."""
    import consist

    # Find a specific run
    run = consist.find_run(
        tracker=tracker,
        parent_id="baseline",  # Scenario ID
        year=2030,
        model="simulate",
    )

    # Get multiple runs indexed by a field
    runs_by_year = consist.find_runs(
        tracker=tracker, parent_id="baseline", model="simulate", index_by="year"
    )
    result_2030 = runs_by_year[2030]

    assert run.id == "baseline_2030"
    assert (run.parent_run_id, run.year, run.model) == ("baseline", 2030, "simulate")
    assert sorted(runs_by_year) == [2020, 2030, 2040]
    assert {year: r.id for year, r in runs_by_year.items()} == {
        2020: "baseline_2020",
        2030: "baseline_2030",
        2040: "baseline_2040",
    }
    assert result_2030.id == run.id


def test_loading_artifacts_example_reads_the_persons_table(tracker: Any) -> None:
    """get_artifacts_for_run(run.id).outputs["persons"], then consist.load(...) with no tracker."""
    run = consist.find_run(tracker=tracker, parent_id="baseline", year=2030, model="simulate")

    # Get artifacts for a run
    artifacts = tracker.get_artifacts_for_run(run.id)
    persons_artifact = artifacts.outputs["persons"]

    # Load the data
    df = consist.load(persons_artifact)

    pd.testing.assert_frame_equal(df, run_model(2030))


@pytest.fixture
def clean_sqlmodel_metadata() -> Iterator[None]:
    """The example declares ``Person(SQLModel, table=True)``: a ``person`` table another
    test declared is forgotten first, and tables this test declares after it."""
    from sqlmodel import SQLModel

    if "person" in SQLModel.metadata.tables:
        SQLModel.metadata.remove(SQLModel.metadata.tables["person"])
    before = set(SQLModel.metadata.tables)
    yield
    for name in set(SQLModel.metadata.tables) - before:
        SQLModel.metadata.remove(SQLModel.metadata.tables[name])


def run_scenarios(tracker: Any, Person: type) -> dict[tuple[str, int], float]:
    """Two scenarios logging persons per year (the "After running scenarios..." of the guide).

    Returns the mean number of trips per (scenario, year), computed here.
    """
    expected = {}
    for scenario_id, extra_trips in [("baseline", 0), ("high_gas", -1), ("other", 5)]:
        with consist.scenario(scenario_id, tracker=tracker) as sc:
            for year in [2020, 2030]:
                with sc.trace(name="simulate", year=year):
                    df = run_model(year).assign(
                        number_of_trips=lambda f, extra=extra_trips: f.number_of_trips + extra
                    )
                    consist.log_dataframe(df, key="persons", schema=Person)
                expected[(scenario_id, year)] = float(df["number_of_trips"].mean())
    return expected


def test_views_example_averages_trips_per_scenario_and_year(
    workdir: Path, clean_sqlmodel_metadata: None
) -> None:
    """tracker.views.Person spans every run, with consist_scenario_id and consist_year."""
    from sqlmodel import SQLModel, Field, select, func
    from consist import Tracker

    class Person(SQLModel, table=True):
        person_id: int = Field(primary_key=True)
        age: int
        number_of_trips: int

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb", schemas=[Person])

    # After running scenarios...
    expected = run_scenarios(tracker, Person)
    VPerson = tracker.views.Person

    query = (
        select(
            VPerson.consist_scenario_id,
            VPerson.consist_year,
            func.avg(VPerson.number_of_trips).label("avg_trips"),
        )
        .where(VPerson.consist_scenario_id.in_(["baseline", "high_gas"]))
        .group_by(VPerson.consist_scenario_id, VPerson.consist_year)
    )

    results = consist.run_query(query, tracker=tracker)

    assert list(results.columns) == ["consist_scenario_id", "consist_year", "avg_trips"]
    got = {
        (row.consist_scenario_id, int(row.consist_year)): float(row.avg_trips)
        for row in results.itertuples()
    }
    assert got == {key: value for key, value in expected.items() if key[0] != "other"}
    assert got[("baseline", 2030)] == 12.0
    assert got[("high_gas", 2030)] == 11.0
    tracker.close()
