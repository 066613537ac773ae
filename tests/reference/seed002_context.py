"""Context the seed 002 examples assume (functions and classes they name but do not define).

Shared by the seed 002 test modules: the Scenarios example, which the query
examples build on, runs from here as written.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def population_schemas() -> tuple[type, type]:
    """The Population and Person schema classes the Scenarios example names."""
    from pydantic import BaseModel

    class Population(BaseModel):
        person_id: int
        household_id: int

    class Person(BaseModel):
        person_id: int
        age: int
        number_of_trips: int

    return Population, Person


def load_population() -> pd.DataFrame:
    return pd.DataFrame({"person_id": [1, 2, 3], "household_id": [10, 10, 11]})


def run_model(year: int) -> pd.DataFrame:
    """Persons of one simulated year: more trips in later years."""
    return pd.DataFrame(
        {
            "person_id": [1, 2, 3],
            "age": [30, 40, 50],
            "number_of_trips": [year - 2019, year - 2018, year - 2017],
        }
    )


def scenario_example(tracker: Any) -> None:
    """The Scenarios example as written (``tracker`` is the one the guide built above)."""
    Population, Person = population_schemas()

    import consist
    from consist import Tracker

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    with consist.scenario("baseline", tracker=tracker, model="travel_demand") as sc:
        with sc.trace(name="initialize", run_id="baseline_init"):
            df_pop = load_population()
            consist.log_dataframe(df_pop, key="population", schema=Population)

        for year in [2020, 2030, 2040]:
            with sc.trace(name="simulate", run_id=f"baseline_{year}", year=year):
                df_result = run_model(year)
                consist.log_dataframe(df_result, key="persons", schema=Person)
    tracker.close()
