"""Seed 002 (usage guide): runs, legacy tools, scenarios, the coupler, facets.

Each test runs one Python example of ``../shared/reference/seed-002-usage-guide.md``
as written, after the least context it assumes (the files it reads, the
functions and schema classes it names), then checks what the guide says of it.
Queries and views are in ``test_seed_002_queries.py``, the hydration options in
``test_seed_002_hydration.py``, the container example in
``test_seed_002_container.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from tests.reference.seed002_context import scenario_example


@pytest.fixture
def raw_csv(workdir: Path) -> Path:
    """The raw.csv the Runs example reads: a ``value`` column either side of 0.5."""
    path = workdir / "raw.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "value": [0.1, 0.5, 0.7, 0.2]}).to_csv(path, index=False)
    return path


@pytest.fixture
def read_csv_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every ``pd.read_csv`` call: how the tests see whether a step's body ran."""
    calls: list[Any] = []
    original = pd.read_csv

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else kwargs.get("filepath_or_buffer"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", counting)
    return calls


def test_runs_example_cleans_raw_csv_and_hits_the_cache_on_rerun(
    raw_csv: Path, read_csv_calls: list[Any]
) -> None:
    """Runs: ``tracker.run(fn=clean_data, ...)`` keeps rows >= threshold; a rerun is a hit."""
    from consist import Tracker
    from pydantic import BaseModel
    from pathlib import Path
    import pandas as pd

    class CleaningConfig(BaseModel):
        threshold: float = 0.5
        remove_outliers: bool = True

    tracker = Tracker(
        run_dir="./runs",
        db_path="./provenance.duckdb",
    )

    @tracker.define_step(outputs=["cleaned"])
    def clean_data(raw_file: Path, config: CleaningConfig):
        df = pd.read_csv(raw_file)
        df = df[df["value"] >= config.threshold]
        return {"cleaned": df}

    result = tracker.run(
        fn=clean_data,
        inputs={"raw_file": Path("raw.csv")},
        config=CleaningConfig(threshold=0.5),
        load_inputs=True,
    )

    cleaned_artifact = result.outputs["cleaned"]

    assert isinstance(cleaned_artifact, consist.Artifact)
    assert result.cache_hit is False
    assert [Path(p).name for p in read_csv_calls] == ["raw.csv"]
    cleaned = consist.load(cleaned_artifact, tracker=tracker)
    assert cleaned["value"].tolist() == [0.5, 0.7]
    assert cleaned["id"].tolist() == [2, 3]
    assert (tracker.run_dir / result.run.id).is_dir()

    again = tracker.run(
        fn=clean_data,
        inputs={"raw_file": Path("raw.csv")},
        config=CleaningConfig(threshold=0.5),
        load_inputs=True,
    )
    assert again.cache_hit is True
    assert again.cached_from == result.run.id
    assert len(read_csv_calls) == 1, "a cache hit must not call the function"
    assert again.outputs["cleaned"].content_hash == cleaned_artifact.content_hash

    stricter = tracker.run(
        fn=clean_data,
        inputs={"raw_file": Path("raw.csv")},
        config=CleaningConfig(threshold=0.6),
        load_inputs=True,
    )
    assert stricter.cache_hit is False, "another config value is another signature"
    assert consist.load(stricter.outputs["cleaned"], tracker=tracker)["value"].tolist() == [0.7]
    tracker.close()


LEGACY_MODEL = '''\
"""A legacy tool: reads its files from the working directory, writes CSVs to ./outputs."""
from pathlib import Path

CALLS = []


def run():
    CALLS.append(1)
    factor = len(Path("config.yaml").read_text().splitlines())
    rows = Path("input.csv").read_text().splitlines()
    out = Path("outputs")
    out.mkdir(exist_ok=True)
    (out / "trips.csv").write_text("trip_id,count\\n1," + str(len(rows) * factor) + "\\n")
    (out / "persons.csv").write_text("person_id\\n1\\n2\\n")
    (out / "notes.txt").write_text("not a csv")
'''


@pytest.fixture
def legacy_model(workdir: Path) -> Iterator[Any]:
    """The ``legacy_model`` module the example imports, with the files it reads."""
    (workdir / "legacy_model.py").write_text(LEGACY_MODEL)
    (workdir / "input.csv").write_text("id\n1\n2\n")
    (workdir / "config.yaml").write_text("year: 2030\nscale: 1\n")
    (workdir / "parameters.json").write_text('{"alpha": 1}\n')
    sys.path.insert(0, str(workdir))
    try:
        import legacy_model

        yield legacy_model
    finally:
        sys.path.remove(str(workdir))
        sys.modules.pop("legacy_model", None)


def test_legacy_example_captures_csvs_written_by_the_tool(workdir: Path, legacy_model: Any) -> None:
    """Wrapping legacy code: CSVs under ``outputs`` become outputs; depends_on files count."""
    from consist import Tracker

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    def run_legacy_model(upstream_artifact, ctx):
        import legacy_model

        legacy_model.run()
        ctx.capture_outputs(Path("outputs"), pattern="*.csv")

    tracker.run(
        fn=run_legacy_model,
        inputs={"upstream_artifact": Path("input.csv")},
        depends_on=["config.yaml", "parameters.json"],
        inject_context="ctx",
    )

    assert legacy_model.CALLS == [1]
    (first,) = consist.find_runs(tracker=tracker, model="run_legacy_model")
    recorded = tracker.get_artifacts_for_run(first.id)
    assert sorted(recorded.outputs) == ["persons", "trips"], "*.csv only, keyed by stem"
    assert consist.load(recorded.outputs["trips"], tracker=tracker)["count"].tolist() == [6]
    assert "upstream_artifact" in recorded.inputs

    tracker.run(
        fn=run_legacy_model,
        inputs={"upstream_artifact": Path("input.csv")},
        depends_on=["config.yaml", "parameters.json"],
        inject_context="ctx",
    )
    assert legacy_model.CALLS == [1], "same inputs and depends_on files: a cache hit"

    (workdir / "parameters.json").write_text('{"alpha": 2}\n')
    tracker.run(
        fn=run_legacy_model,
        inputs={"upstream_artifact": Path("input.csv")},
        depends_on=["config.yaml", "parameters.json"],
        inject_context="ctx",
    )
    assert legacy_model.CALLS == [1, 1], "a changed depends_on file breaks the cache"
    tracker.close()


def test_scenario_example_groups_steps_under_one_scenario_id(workdir: Path) -> None:
    """Scenarios: every step shares the scenario's id; one persons table per year."""
    scenario_example(None)

    tracker = consist.Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    header = tracker.get_run("baseline")
    assert header.model == "travel_demand"
    steps = consist.find_runs(tracker=tracker, parent_id="baseline")
    assert sorted(r.id for r in steps) == [
        "baseline_2020",
        "baseline_2030",
        "baseline_2040",
        "baseline_init",
    ]
    by_year = {r.year: r for r in steps if r.model == "simulate"}
    assert sorted(by_year) == [2020, 2030, 2040]
    persons = tracker.get_artifacts_for_run("baseline_2040").outputs["persons"]
    assert consist.load(persons, tracker=tracker)["number_of_trips"].tolist() == [21, 22, 23]
    population = tracker.get_artifacts_for_run("baseline_init").outputs["population"]
    assert consist.load(population, tracker=tracker)["household_id"].tolist() == [10, 10, 11]
    tracker.close()


def preprocess_data() -> pd.DataFrame:
    return pd.DataFrame({"zone": [1, 2, 3], "jobs": [100, 250, 80]})


def test_coupler_example_passes_the_artifact_to_the_next_step(workdir: Path) -> None:
    """Passing data between steps: ``coupler.require("data")`` loads what preprocess logged."""
    import consist
    from consist import Tracker

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    seen: list[pd.DataFrame] = []

    with consist.scenario(
        "baseline",
        tracker=tracker,
        step_cache_hydration="inputs-missing",
    ) as sc:
        coupler = sc.coupler

        with sc.trace(name="preprocess"):
            df = preprocess_data()
            art = consist.log_dataframe(df, key="processed")
            coupler.set("data", art)

        # Declare upstream artifacts as step inputs so caching and provenance are correct.
        # `input_keys=[...]` avoids repeating `coupler.require(...)` in `inputs=[...]`.
        # Use `optional_input_keys=[...]` to include artifacts only if they already exist.
        with sc.trace(name="simulate", input_keys=["data"]):
            df = consist.load(coupler.require("data"))
            # ... simulation logic ...
            seen.append(df)

    assert seen[0]["jobs"].tolist() == [100, 250, 80]
    (simulate,) = consist.find_runs(tracker=tracker, parent_id="baseline", model="simulate")
    inputs = tracker.get_artifacts_for_run(simulate.id).inputs
    assert inputs["data"].id == art.id, "input_keys records the coupler artifact as an input"

    # optional_input_keys: included only when the coupler holds them.
    with consist.scenario("optional", tracker=tracker) as sc:
        sc.coupler.set("data", art)
        with sc.trace(name="report", optional_input_keys=["data", "not_yet"]) as step:
            pass
    assert sorted(step.inputs) == ["data"]
    tracker.close()


def test_pivot_facets_example_builds_a_wide_table_without_a_tracker(workdir: Path) -> None:
    """pivot_facets: called without ``tracker=``; run_query(..., tracker=tracker) runs it."""
    import consist
    from consist import Tracker

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    with consist.scenario("sweep", tracker=tracker) as sc:
        for alpha, beta, mode in [(0.1, 1, "car"), (0.2, 2, "bus")]:
            with sc.trace(name="simulate", facet={"alpha": alpha, "beta": beta, "mode": mode}):
                pass

    from sqlmodel import select
    import consist

    params = consist.pivot_facets(
        namespace="simulate",
        keys=["alpha", "beta", "mode"],
        value_columns={"mode": "value_str"},
    )

    rows = consist.run_query(
        select(params.c.run_id, params.c.alpha, params.c.beta, params.c.mode),
        tracker=tracker,
    )

    assert list(rows.columns) == ["run_id", "alpha", "beta", "mode"]
    table = rows.sort_values("alpha").reset_index(drop=True)
    assert table["alpha"].tolist() == [0.1, 0.2]
    assert table["beta"].tolist() == [1, 2]
    assert table["mode"].tolist() == ["car", "bus"]
    simulate_ids = {r.id for r in consist.find_runs(tracker=tracker, model="simulate")}
    assert set(table["run_id"]) == simulate_ids
    tracker.close()


def test_pivot_facets_without_any_tracker_names_what_is_missing_when_run_alone(
    workdir: Path,
) -> None:
    """The selectable needs a tracker only when run: run_query without one says so."""
    params = consist.pivot_facets(namespace="simulate", keys=["alpha"])
    with pytest.raises(consist.ConsistError, match="run_query"):
        consist.run_query(params)


@pytest.fixture
def network_geojson(workdir: Path) -> Path:
    path = workdir / "network.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {"link": 1, "lanes": 2}, "geometry": null},'
        '{"type": "Feature", "properties": {"link": 2, "lanes": 3}, "geometry": null}]}'
    )
    return path


def test_mixing_runs_and_scenarios_caches_the_run_and_fills_the_coupler(
    network_geojson: Path,
) -> None:
    """tracker.run inside a scenario is its own cached step; its outputs reach sc.coupler."""
    import json

    from consist import Tracker

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    calls: list[Path] = []

    def expensive_preprocessing(network_file: Path):
        calls.append(network_file)
        features = json.loads(Path(network_file).read_text())["features"]
        processed_df = pd.DataFrame([f["properties"] for f in features])
        return {"processed": processed_df}

    def scenario() -> Any:
        with consist.scenario("baseline", tracker=tracker) as sc:
            preprocess = tracker.run(
                fn=expensive_preprocessing,
                inputs={"network_file": Path("network.geojson")},
                outputs=["processed"],
                load_inputs=True,
            )
            sc.coupler.update(preprocess.outputs)
        return sc, preprocess

    sc, preprocess = scenario()
    assert preprocess.cache_hit is False
    assert len(calls) == 1
    assert sc.coupler.require("processed").id == preprocess.outputs["processed"].id
    processed = consist.load(sc.coupler.require("processed"), tracker=tracker)
    assert processed["lanes"].tolist() == [2, 3]

    sc, again = scenario()
    assert again.cache_hit is True
    assert len(calls) == 1, "cached independently: not called on the second pass"
    assert sc.coupler.require("processed").content_hash == (
        preprocess.outputs["processed"].content_hash
    )
    tracker.close()


class BeamPreprocessor:
    """The object whose bound ``run`` method the sc.run example calls."""

    def __init__(self) -> None:
        self.calls = 0

    def run(self, data: pd.DataFrame | Path, output_paths: dict[str, Path]) -> None:
        self.calls += 1
        frame = pd.read_parquet(data)
        frame.assign(jobs_per_zone=frame["jobs"] / 10).to_parquet(output_paths["beam_inputs"])


def test_sc_run_example_skips_the_bound_method_on_a_cache_hit(workdir: Path) -> None:
    """Function-shaped steps: ``sc.run(fn=beamPreprocessor.run)`` is not called on a hit,
    yet ``sc.coupler.require("beam_inputs")`` still gives the cached output."""
    from consist import Tracker

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    beamPreprocessor = BeamPreprocessor()

    def seeded_scenario() -> Any:
        with consist.scenario("baseline", tracker=tracker) as sc:
            with sc.trace(name="preprocess"):
                sc.coupler.set("data", consist.log_dataframe(preprocess_data(), key="data"))
            sc.run(
                name="beam_preprocess",
                fn=beamPreprocessor.run,  # imported function or bound method
                inputs={"data": "data"},
                output_paths={"beam_inputs": "beam_inputs.parquet"},
                load_inputs=False,
            )
            beam_inputs = sc.coupler.require("beam_inputs")
        return beam_inputs

    beam_inputs = seeded_scenario()
    assert beamPreprocessor.calls == 1
    loaded = consist.load(beam_inputs, tracker=tracker)
    assert loaded["jobs_per_zone"].tolist() == [10.0, 25.0, 8.0]

    cached = seeded_scenario()
    assert beamPreprocessor.calls == 1, "a cache hit does not call the bound method"
    assert cached.content_hash == beam_inputs.content_hash

    # sc.trace, by contrast, runs its block even when it matches an earlier run.
    blocks = []
    for _ in range(2):
        with (
            consist.scenario("traced", tracker=tracker) as sc,
            sc.trace(name="beam_preprocess", inputs={"data": beam_inputs}) as step,
        ):
            blocks.append(step.cache_hit)
    assert blocks == [False, True], "the block ran twice; the second time as a cache hit"
    tracker.close()
