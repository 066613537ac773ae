"""A small multi-year travel demand study with a fuel-price sweep, run twice.

Each fuel price is a scenario: synthesize a population once, then for every
model year build skims and run mode choice. The second pass over the same
study calls no model function: every cached step is a hit. At the end the
sweep parameters (facets) are pivoted into a table and joined with run
metadata. Usage:

    python docs/examples/travel_demand_scenario.py [WORKDIR]
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import column, select, table

import consist

YEARS = (2025, 2035, 2045)
FUEL_PRICES = (1.5, 2.5, 3.5)  # dollars per litre: the sweep
CALLS: Counter[str] = Counter()  # how often each model function really ran


def write_land_use(folder: Path) -> Path:
    """Synthetic zones: households and jobs per zone, written once as the raw input."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "land_use.csv"
    if not path.exists():
        zones = pd.DataFrame(
            {
                "zone": range(1, 6),
                "households": [120, 80, 200, 60, 150],
                "jobs": [300, 50, 90, 10, 40],
            }
        )
        zones.to_csv(path, index=False)
    return path


def synthesize_population(land_use: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """One row per person, living in a zone, with an income draw."""
    CALLS["synthesize_population"] += 1
    rng = np.random.default_rng(config["seed"])
    homes = np.repeat(land_use["zone"].to_numpy(), land_use["households"].to_numpy() // 10)
    return pd.DataFrame(
        {
            "person": np.arange(len(homes)),
            "home_zone": homes,
            "income": rng.lognormal(10.5, 0.4, len(homes)).round(),
        }
    )


def build_skims(land_use: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Zone-to-zone car and transit times; congestion grows with the year."""
    CALLS["build_skims"] += 1
    zones = land_use["zone"].to_numpy()
    origin, destination = np.meshgrid(zones, zones, indexing="ij")
    distance = np.abs(origin - destination) * 3.0 + 2.0
    congestion = 1.0 + 0.01 * (config["year"] - 2025)
    return pd.DataFrame(
        {
            "origin": origin.ravel(),
            "destination": destination.ravel(),
            "car_minutes": (distance * 1.2 * congestion).ravel(),
            "transit_minutes": (distance * 2.0 + 8.0).ravel(),
        }
    )


def mode_choice(persons: pd.DataFrame, skims: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Logit choice between car and transit for a trip to the busiest zone."""
    CALLS["mode_choice"] += 1
    to_work = skims[skims["destination"] == 1].set_index("origin")
    times = to_work.loc[persons["home_zone"]]
    distance_km = times["car_minutes"].to_numpy() / 1.2
    car = -0.05 * times["car_minutes"].to_numpy() - 0.08 * config["fuel_price"] * distance_km
    transit = -0.05 * times["transit_minutes"].to_numpy() + config["transit_bonus"]
    p_car = 1.0 / (1.0 + np.exp(transit - car))
    return persons.assign(p_car=p_car.round(4), year=config["year"])


def run_study(tracker: consist.Tracker, land_use: Path) -> dict[str, list[bool]]:
    """Every scenario of the sweep; returns the cache_hit flags of each scenario's steps."""
    hits: dict[str, list[bool]] = {}
    for fuel_price in FUEL_PRICES:
        name = f"fuel_{fuel_price:.1f}".replace(".", "_")
        with consist.scenario(name, tracker=tracker, model="travel_demand") as sc:
            sc.require_outputs("persons", "trips", description={"trips": "mode choice, last year"})
            sc.run(
                "synthesize_population",
                synthesize_population,
                inputs={"land_use": land_use},
                config={"seed": 42},
                outputs=["persons"],
            )
            for year in YEARS:
                sc.run(
                    "skims", build_skims, inputs={"land_use": land_use},
                    config={"year": year}, outputs=["skims"], year=year,
                )  # fmt: skip
                params = {"fuel_price": fuel_price, "transit_bonus": 0.3, "year": year}
                sc.run(
                    "mode_choice",
                    mode_choice,
                    inputs=["persons", "skims"],
                    config=params,
                    facet={"fuel_price": fuel_price, "transit_bonus": 0.3},
                    outputs=["trips"],
                    year=year,
                )
                # A trace always runs: cheap reporting that should happen every pass.
                with sc.trace("report", year=year, inputs=["trips"]):
                    trips = consist.load(sc.coupler.require("trips"))
                    summary = pd.DataFrame({"car_share": [trips["p_car"].mean()]})
                    consist.log_dataframe(summary, key="car_share")
        hits[name] = [step["cache_hit"] for step in sc.steps if step["kind"] == "run"]
    return hits


def car_share_table(tracker: consist.Tracker) -> pd.DataFrame:
    """The sweep's parameters (pivoted facets) joined with each run's year and scenario."""
    params = consist.pivot_facets("mode_choice", ["fuel_price", "transit_bonus"], tracker=tracker)
    runs = table("runs", column("id"), column("parent_run_id"), column("year"))
    query = (
        select(runs.c.parent_run_id.label("scenario"), runs.c.year, runs.c.id, params.c.fuel_price)
        .join(params, params.c.run_id == runs.c.id)
        .order_by(params.c.fuel_price, runs.c.year)
    )
    rows = consist.run_query(query, tracker=tracker).drop_duplicates(["scenario", "year"])
    shares = []
    for run_id in rows["id"]:
        trips = tracker.get_artifacts_for_run(run_id).outputs["trips"]
        shares.append(round(float(consist.load(trips, tracker=tracker)["p_car"].mean()), 3))
    return rows.drop(columns="id").assign(car_share=shares).reset_index(drop=True)


def main(workdir: Path) -> dict[str, Any]:
    land_use = write_land_use(workdir / "inputs")
    passes = []
    for _ in range(2):  # as if the script were run twice
        with consist.Tracker(workdir / "runs", db_path=workdir / "provenance.duckdb") as tracker:
            before = sum(CALLS.values())
            hits = run_study(tracker, land_use)
            passes.append({"hits": hits, "calls": sum(CALLS.values()) - before})
            table_ = car_share_table(tracker)
    return {"passes": passes, "car_share": table_}


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    result = main(folder)
    for number, done in enumerate(result["passes"], start=1):
        print(f"pass {number}: {done['calls']} model calls, hits per scenario {done['hits']}")
    print(result["car_share"].to_string(index=False))
