"""The demo workflow behind ``consist demo``: a small multi-year scenario sweep, run twice.

A synthetic population feeds a yearly travel simulation (each year reads the
year before), whose years are summarised per scenario. Scenarios sweep the fuel
price. The sweep runs twice on the embedded defaults (local files + DuckDB):
the first pass executes, the second is served from the cache. Every step does a
little real numpy/pandas work so the difference shows.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from consist.domain import Artifact

FUEL_PRICES: tuple[float, ...] = (3.0, 4.5, 6.0)
YEARS: tuple[int, ...] = (2020, 2025, 2030)
HOUSEHOLDS = 60_000
_WORK_ROUNDS = 12  # numpy rounds per step: about 0.2-0.4 s on a laptop


@attrs.frozen
class StepRow:
    """One step of one pass: what ran, and whether the cache served it."""

    demo_pass: int
    step: str
    scenario: str
    year: int | None
    cache_hit: bool
    seconds: float
    run_id: str

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class DemoReport:
    """What ``run_demo`` did: every step of both passes, the query answer, the paths."""

    workdir: Path
    run_dir: Path
    catalog: Path
    steps: tuple[StepRow, ...]
    pass_seconds: tuple[float, ...]
    query_rows: tuple[dict[str, Any], ...]
    results: tuple[dict[str, Any], ...]

    def hits(self, demo_pass: int) -> int:
        """Number of cache hits in pass ``demo_pass`` (1 or 2)."""
        return sum(1 for row in self.steps if row.demo_pass == demo_pass and row.cache_hit)

    def steps_in(self, demo_pass: int) -> list[StepRow]:
        return [row for row in self.steps if row.demo_pass == demo_pass]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workdir": str(self.workdir),
            "run_dir": str(self.run_dir),
            "catalog": str(self.catalog),
            "pass_seconds": list(self.pass_seconds),
            "hits": [self.hits(1), self.hits(2)],
            "steps": [row.to_dict() for row in self.steps],
            "query_rows": list(self.query_rows),
            "results": list(self.results),
        }


# ---------------------------------------------------------------------- the steps
def synthesize_population(zones: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Draw households over zones: size, income, cars, home zone."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(config["seed"])
    n = int(config["households"])
    weights = zones["jobs"].to_numpy(dtype=float) + zones["homes"].to_numpy(dtype=float)
    home = rng.choice(zones["zone"].to_numpy(), size=n, p=weights / weights.sum())
    income = rng.lognormal(mean=10.8, sigma=0.6, size=n)
    for _ in range(_WORK_ROUNDS):  # a stand-in for the slow part of a real synthesiser
        income = np.sort(income)[rng.permutation(n)]
    population = pd.DataFrame(
        {
            "household": np.arange(n),
            "zone": home,
            "size": rng.integers(1, 6, size=n),
            "income": income.round(0),
            "cars": rng.poisson(1.2, size=n),
        }
    )
    return {"population": population}


def simulate_year(population: Any, previous: Any = None, *, config: dict[str, Any]) -> Any:
    """Trips per household for one year, shaped by fuel price and last year's travel."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(config["year"])
    income = population["income"].to_numpy()
    base = population["size"].to_numpy() * 2.6 + population["cars"].to_numpy() * 0.8
    if previous is not None:
        base = 0.7 * base + 0.3 * previous["trips"].to_numpy()
    price_effect = np.exp(-0.08 * config["fuel_price"])
    trips = base * price_effect
    for _ in range(_WORK_ROUNDS):  # a few rounds of a logit-style equilibrium
        utility = np.log1p(trips) - config["fuel_price"] / np.log(income)
        trips = 0.5 * trips + 0.5 * base * price_effect / (1 + np.exp(-utility))
        trips = np.sort(trips)[np.argsort(np.argsort(trips))]
    km = trips * rng.gamma(2.0, 4.5, size=trips.size)
    return pd.DataFrame(
        {"household": population["household"], "trips": trips.round(3), "km": km.round(2)}
    )


def summarize(config: dict[str, Any], **years: Any) -> Any:
    """One row per year: trips, kilometres and fuel spending across households."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    rows = []
    for key in sorted(years):
        frame = years[key]
        km = frame["km"].to_numpy()
        # A bootstrap interval for kilometres per household: the summary's real work.
        draws = rng.integers(0, km.size, size=(_WORK_ROUNDS * 4, km.size))
        low, high = np.percentile(km[draws].mean(axis=1), [2.5, 97.5])
        rows.append(
            {
                "year": int(key.rsplit("_", 1)[1]),
                "trips": round(float(frame["trips"].sum())),
                "km": round(float(km.sum())),
                "km_per_household_ci": f"{low:.2f}-{high:.2f}",
                "fuel_cost": round(float(km.sum()) * 0.07 * config["fuel_price"]),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- the workflow
def write_zones(path: Path) -> Path:
    """The raw input: a small zone table, identical bytes every time."""
    lines = ["zone,homes,jobs"] + [
        f"{z},{(z * 37) % 500 + 100},{(z * 53) % 800 + 50}" for z in range(1, 41)
    ]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _scenario_name(fuel_price: float) -> str:
    return f"fuel-{fuel_price:g}"


def run_sweep(
    tracker: Any,
    zones: Path,
    demo_pass: int,
    fuel_prices: Sequence[float] = FUEL_PRICES,
    years: Sequence[int] = YEARS,
    on_step: Callable[[StepRow], None] | None = None,
) -> list[StepRow]:
    """One pass: for each fuel price a scenario (parent run) with every step inside."""
    rows: list[StepRow] = []
    batch = uuid.uuid4().hex[:6]

    def step(scenario: str, parent: str, year: int | None, fn: Any, **options: Any) -> Any:
        started = time.perf_counter()
        result = tracker.run(fn, parent_run_id=parent, year=year, tags=["demo"], **options)
        row = StepRow(
            demo_pass,
            options.get("name") or fn.__name__,
            scenario,
            year,
            result.cache_hit,
            time.perf_counter() - started,
            result.run_id,
        )
        rows.append(row)
        if on_step is not None:
            on_step(row)
        return result

    for fuel_price in fuel_prices:
        scenario = _scenario_name(fuel_price)
        parent_id = f"{scenario}-pass{demo_pass}-{batch}"
        with tracker.start_run(
            parent_id, "scenario", tags=["demo", scenario], config={"fuel_price": fuel_price}
        ) as parent:
            population = step(
                scenario,
                parent.id,
                None,
                synthesize_population,
                inputs={"zones": zones},
                config={"households": HOUSEHOLDS, "seed": 42},
            ).outputs["population"]
            previous: Artifact | None = None
            trips: dict[str, Artifact] = {}
            for year in years:
                inputs: dict[str, Artifact] = {"population": population}
                if previous is not None:
                    inputs["previous"] = previous
                previous = step(
                    scenario,
                    parent.id,
                    year,
                    simulate_year,
                    inputs=inputs,
                    config={"fuel_price": fuel_price, "year": year},
                    outputs=["trips"],
                ).outputs["trips"]
                trips[f"trips_{year}"] = previous
            step(
                scenario,
                parent.id,
                None,
                summarize,
                inputs=trips,
                config={"fuel_price": fuel_price},
                outputs=["summary"],
            )
    return rows


CROSS_RUN_SQL = """
SELECT r.model AS step,
       count(*) AS runs,
       sum(CASE WHEN r.cache_hit THEN 1 ELSE 0 END) AS cache_hits,
       round(sum(epoch(r.ended_at) - epoch(r.created_at)), 2) AS recorded_seconds
FROM runs r
WHERE r.status = 'completed' AND r.parent_run_id IS NOT NULL
  AND list_contains(CAST(r.tags AS VARCHAR[]), 'demo')
GROUP BY r.model ORDER BY min(r.created_at)
"""


def cross_run_results(tracker: Any) -> list[dict[str, Any]]:
    """Each scenario's newest summary, read back through the catalog: fuel price x year."""
    import consist

    rows: list[dict[str, Any]] = []
    for parent in tracker.find_runs(model="scenario", status="completed"):
        fuel_price = parent.config.get("fuel_price")
        if fuel_price is None or any(r["fuel_price"] == fuel_price for r in rows):
            continue
        summaries = tracker.find_runs(parent_run_id=parent.id, model="summarize")
        if not summaries:
            continue
        outputs = tracker.get_artifacts_for_run(summaries[0].id).outputs
        frame = consist.load(outputs["summary"], tracker=tracker)
        for record in frame.to_dict("records"):
            rows.append({"fuel_price": fuel_price, **record})
    return sorted(rows, key=lambda r: (r["fuel_price"], r["year"]))


def run_demo(
    workdir: str | os.PathLike[str] = "consist-demo",
    *,
    fuel_prices: Sequence[float] = FUEL_PRICES,
    years: Sequence[int] = YEARS,
    on_step: Callable[[StepRow], None] | None = None,
) -> DemoReport:
    """Run the demo sweep twice in ``workdir`` and query across every run it made.

    Parameters
    ----------
    workdir
        Holds ``inputs/``, ``runs/`` and ``provenance.duckdb``; created if missing.
        Running the demo again in the same folder serves every step from the cache.
    fuel_prices, years
        The sweep: one scenario per fuel price, one simulated year each.
    on_step
        Called after every step (the CLI prints progress with it).

    Returns
    -------
    DemoReport
        Both passes step by step, their timings, and the cross-run query answers.

    Raises
    ------
    ConsistError
        If the catalog cannot be opened (another process holding it, say).
    """
    from consist.tracking import Tracker

    root = Path(os.path.abspath(os.fspath(workdir)))
    run_dir, catalog = root / "runs", root / "provenance.duckdb"
    zones = write_zones(root / "inputs" / "zones.csv")
    with Tracker(run_dir, db_path=catalog, code_identity="module", project_dir=root) as tracker:
        steps: list[StepRow] = []
        seconds: list[float] = []
        for demo_pass in (1, 2):
            started = time.perf_counter()
            steps += run_sweep(tracker, zones, demo_pass, fuel_prices, years, on_step)
            tracker.flush()
            seconds.append(time.perf_counter() - started)
        query = tracker.sql(CROSS_RUN_SQL).to_pylist()
        results = cross_run_results(tracker)
    return DemoReport(
        root, run_dir, catalog, tuple(steps), tuple(seconds), tuple(query), tuple(results)
    )
