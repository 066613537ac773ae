"""Seed 003 (usage guide): advanced patterns, ``sc.run`` vs ``sc.trace``, facets, queries.

Each test is one example of ``../shared/reference/seed-003-usage-guide-patterns.md``
run as written, after the least context it assumes; the hydration options the
guide lists are one parametrized test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist import Tracker, use_tracker

POPULATION = pd.DataFrame({"person_id": [1, 2, 3], "age": [30, 41, 12]})
calls: dict[str, list[Any]] = {}


def called(name: str, *args: Any) -> None:
    calls.setdefault(name, []).append(args)


def load_population() -> pd.DataFrame:
    called("load_population")
    return POPULATION.copy()


def run_model(year: int, df_pop: pd.DataFrame) -> pd.DataFrame:
    called("run_model", year)
    return df_pop.assign(year=year, trips=df_pop["age"] // 10 + (year - 2020) // 10)


def load_zones(path: Any) -> list[dict[str, Any]]:
    called("load_zones", str(path))
    return [{"zone": 1, "area": 2.5}, {"zone": 2, "area": 4.0}]


def expensive_preprocessing(network_file: Path) -> pd.DataFrame:
    called("expensive_preprocessing", network_file)
    return pd.DataFrame({"link": [1, 2], "length": [len(Path(network_file).read_text()), 1]})


@pytest.fixture(autouse=True)
def _fresh_calls() -> Iterator[None]:
    calls.clear()
    yield
    calls.clear()


@pytest.fixture
def tracker(workdir: Path) -> Iterator[Tracker]:
    made = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    yield made
    made.close()


def baseline_years(tracker: Tracker) -> Any:
    """Context: the guide's coupler example, which the query examples look back on."""
    with use_tracker(tracker):
        with consist.scenario("baseline", model="travel_demand") as sc:
            coupler = sc.coupler
            with sc.trace(name="initialize", run_id="baseline_init"):
                consist.log_dataframe(load_population(), key="population")
            for year in [2020, 2030, 2040]:
                with sc.trace(
                    name="simulate", run_id=f"baseline_{year}", year=year, inputs=["population"]
                ):
                    df_pop = consist.load(coupler.require("population"))
                    consist.log_dataframe(run_model(year, df_pop), key="persons")
    return sc


# -- Cache hydration ------------------------------------------------------------------


def test_cache_hydration_inputs_missing_in_a_scenario(workdir: Path) -> None:
    """A later pass whose ``population`` file was deleted gets it back before the step.

    Context: the scenario ran before (the coupler example) on a tracker that archives
    outputs to a blob store, so the deleted file has a copy to come back from.
    """
    tracker = Tracker(
        run_dir="./runs", db_path="./provenance.duckdb", blobs=f"file://{workdir}/blobs"
    )
    baseline_years(tracker)
    population = tracker.get_artifacts_for_run("baseline_init").outputs["population"]
    kept = Path(population.path).read_bytes()
    Path(population.path).unlink()  # (context: the file is gone; the catalog still knows it)
    seen = []

    # -- the example, as written --------------------------------------------------
    with use_tracker(tracker):
        with consist.scenario("baseline", step_cache_hydration="inputs-missing") as sc:
            coupler = sc.coupler
            # This step will backfill inputs if they're missing from disk
            with sc.trace(name="simulate", inputs=["population"]):
                df_pop = consist.load(coupler.require("population"))
                # ... rest of simulation ...
                seen.append(df_pop)  # (context: what the step read)
    # -----------------------------------------------------------------------------

    pd.testing.assert_frame_equal(seen[0], POPULATION)
    assert Path(population.path).read_bytes() == kept
    tracker.close()


class Step:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, config: dict[str, Any]) -> pd.DataFrame:
        self.calls += 1
        return pd.DataFrame({"x": [config["x"]] * 3})


@pytest.mark.parametrize("mode", ["outputs-requested", "outputs-all", "inputs-missing"])
def test_cache_hydration_options(tracker: Tracker, workdir: Path, mode: str) -> None:
    """The three options of the guide's list, each doing what its line says."""
    step = Step()
    with use_tracker(tracker):
        first = consist.run(fn=step, name="table", config={"x": 1}, outputs=["table"])
    produced = Path(first.outputs["table"].path)

    if mode == "outputs-requested":
        # "Copy only specific cached outputs to paths you provide"
        with use_tracker(tracker):
            hit = consist.run(
                fn=step, name="table", config={"x": 1}, outputs=["table"],
                cache_hydration="outputs-requested", hydration_paths={"table": "copy.parquet"},
            )  # fmt: skip
        assert hit.cache_hit and step.calls == 1
        assert hit.hydrated == {"table": Path("copy.parquet")}
        assert (workdir / "copy.parquet").read_bytes() == produced.read_bytes()
    elif mode == "outputs-all":
        # "Copy all cached outputs into a target directory": the one given, else the new
        # run's own directory.
        with use_tracker(tracker):
            into_dir = consist.run(
                fn=step, name="table", config={"x": 1}, outputs=["table"],
                cache_hydration="outputs-all", hydration_dir="copies",
            )  # fmt: skip
            into_run = consist.run(
                fn=step, name="table", config={"x": 1}, outputs=["table"],
                cache_hydration="outputs-all",
            )  # fmt: skip
        assert into_dir.cache_hit and into_run.cache_hit and step.calls == 1
        assert into_dir.hydrated["table"] == Path("copies") / produced.name
        own = tracker.run_dir / into_run.run.id / produced.name
        assert into_run.hydrated["table"] == own
        assert own.read_bytes() == produced.read_bytes() != b""
    else:
        # "When a cache miss occurs, backfill missing inputs from prior runs before executing"
        def consume(table: pd.DataFrame) -> pd.DataFrame:
            return table.assign(y=table["x"] * 2)

        with use_tracker(tracker):  # a prior run holding the same bytes
            twin = consist.run(fn=step, name="twin", config={"x": 1}, outputs=["table"])
        assert twin.outputs["table"].content_hash == first.outputs["table"].content_hash
        produced.unlink()
        with use_tracker(tracker):
            result = consist.run(
                fn=consume,
                inputs={"table": first.outputs["table"]},
                outputs=["doubled"],
                cache_hydration="inputs-missing",
            )
        assert produced.is_file() and step.calls == 2  # the first run and its twin
        assert consist.load(result.outputs["doubled"])["y"].tolist() == [2, 2, 2]


# -- Mixing runs and scenarios ----------------------------------------------------------


def test_mixing_runs_and_scenarios(tracker: Tracker) -> None:
    """``consist.run`` inside a scenario is its own cached run; its output feeds a trace."""
    Path("network.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    seen = []

    def mixed() -> Any:
        # -- the example, as written ----------------------------------------------
        with use_tracker(tracker):
            with consist.scenario("baseline") as sc:
                coupler = sc.coupler
                # Run expensive preprocessing independently
                preprocess = consist.run(
                    fn=expensive_preprocessing,
                    inputs={"network_file": Path("network.geojson")},
                    outputs=["processed"],
                )
                # Add outputs to coupler for downstream steps
                coupler.update(preprocess.outputs)

                # Later steps can use the preprocessed output
                with sc.trace(name="simulate", inputs=["processed"]):
                    network = consist.load(coupler.require("processed"))
                    # ... simulation ...
                    seen.append(network)  # (context: what the step read)
        # -------------------------------------------------------------------------
        return preprocess

    first = mixed()
    assert first.run.parent_run_id is None  # independent of the scenario
    assert seen[0]["length"].tolist() == [len(Path("network.geojson").read_text()), 1]
    second = mixed()
    assert second.cache_hit and len(calls["expensive_preprocessing"]) == 1
    assert len(seen) == 2


# -- When does code execute? sc.trace vs sc.run -----------------------------------------


def test_using_sc_trace_always_runs(tracker: Tracker, capsys: pytest.CaptureFixture[str]) -> None:
    """The block runs on every pass; the second pass is recorded as a cache hit."""
    Path("land_use.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    year = 2030  # (context: the block prints a ``year`` it does not define)

    def prepare() -> Any:
        # -- the example, as written ----------------------------------------------
        with use_tracker(tracker):
            with consist.scenario("baseline") as sc:
                # This block executes every time, even on cache hits
                with sc.trace(
                    name="prepare_land_use",
                    inputs={"geojson": Path("land_use.geojson")},
                    year=2030
                ):  # fmt: skip
                    # This code ALWAYS runs—useful if you log, print status, etc.
                    print(f"Processing land use for year {year}")
                    zones = load_zones("land_use.geojson")

                    # But Consist returns cached output if it exists
                    df_zones = pd.DataFrame(zones)
                    consist.log_dataframe(df_zones, key="zones")
        # -------------------------------------------------------------------------
        return sc

    first, second = prepare(), prepare()
    assert len(calls["load_zones"]) == 2
    assert capsys.readouterr().out == "Processing land use for year 2030\n" * 2
    assert [s["cache_hit"] for s in first.steps] == [False]
    assert [s["cache_hit"] for s in second.steps] == [True]
    pd.testing.assert_frame_equal(
        consist.load(second.coupler.require("zones")), pd.DataFrame(load_zones("x"))
    )


def test_using_sc_run_skips_on_a_cache_hit(
    tracker: Tracker, capsys: pytest.CaptureFixture[str]
) -> None:
    """The function runs once; the second pass is a hit and returns the cached ``zones``."""
    Path("land_use.geojson").write_text('{"type": "FeatureCollection", "features": []}')

    def prepare() -> Any:
        # -- the example, as written ----------------------------------------------
        with use_tracker(tracker):
            with consist.scenario("baseline") as sc:

                def prepare_land_use(geojson_path: Path) -> pd.DataFrame:
                    # This function ONLY runs on cache miss
                    # On cache hit, Consist returns cached output without calling it
                    print(f"Processing land use")  # Only prints on first run
                    zones = load_zones(geojson_path)
                    return pd.DataFrame(zones)

                result = sc.run(
                    name="prepare_land_use",
                    fn=prepare_land_use,
                    inputs={"geojson_path": Path("land_use.geojson")},
                    outputs=["zones"],
                    load_inputs=True,  # Auto-load Path → argument
                )
                # Outputs are synced to the coupler automatically
        # -------------------------------------------------------------------------
        return sc, result

    (_, first), (sc, second) = prepare(), prepare()
    assert calls["load_zones"] == [(str(Path("land_use.geojson").resolve()),)]
    assert capsys.readouterr().out == "Processing land use\n"
    assert not first.cache_hit and second.cache_hit
    assert sc.coupler.require("zones").id == first.outputs["zones"].id


def test_alternative_log_file_outputs_inside_the_step(tracker: Tracker) -> None:
    """The function gets the raw path, writes in its run folder and logs ``beam_inputs``."""
    pd.DataFrame({"trip": [1, 2, 3]}).to_parquet("data.parquet")
    received = []

    # -- the example, as written --------------------------------------------------
    def beam_preprocess(data_file, _consist_ctx) -> None:
        out_path = _consist_ctx.run_dir / "beam_inputs.parquet"
        # ... write out_path ...
        received.append(data_file)  # (context: filling in the placeholder above)
        pd.read_parquet(data_file).assign(mode="car").to_parquet(out_path)
        _consist_ctx.log_output(out_path, key="beam_inputs")

    with use_tracker(tracker):
        with consist.scenario("baseline") as sc:
            sc.run(
                name="beam_preprocess",
                fn=beam_preprocess,
                inputs={"data_file": Path("data.parquet")},
                load_inputs=False,
                runtime_kwargs={"data_file": Path("data.parquet")},
                inject_context=True,
            )
    # -----------------------------------------------------------------------------

    assert received == [Path("data.parquet")]
    beam_inputs = sc.coupler.require("beam_inputs")
    step = tracker.get_run(beam_inputs.producer_run_id)
    assert Path(beam_inputs.path) == tracker.run_dir / step.id / "beam_inputs.parquet"
    assert consist.load(beam_inputs)["mode"].tolist() == ["car"] * 3
    assert list(tracker.get_artifacts_for_run(step.id).inputs) == ["data_file"]


# -- pivot_facets ---------------------------------------------------------------------------


def test_query_facets_with_pivot_facets(tracker: Tracker) -> None:
    """One row per ``simulate`` run with its alpha, beta and mode facets as columns."""
    facets = [
        {"alpha": 0.1, "beta": 2, "mode": "car"},
        {"alpha": 0.5, "beta": 3, "mode": "bus"},
    ]
    ids = {}
    for facet in facets:  # (context: runs of a step named "simulate" that logged facets)
        result = tracker.run(
            fn=lambda config: pd.DataFrame({"v": [config["alpha"]]}),
            name="simulate", config=facet, facet=facet, outputs=["v"],
        )  # fmt: skip
        ids[result.run.id] = facet

    # -- the example, as written --------------------------------------------------
    from sqlmodel import select
    import consist

    # Pivot config facets into columns
    params = consist.pivot_facets(
        namespace="simulate",
        keys=["alpha", "beta", "mode"],
        value_columns={"mode": "value_str"},
    )

    rows = consist.run_query(
        select(params.c.run_id, params.c.alpha, params.c.beta, params.c.mode),
        tracker=tracker,
    )

    # Result: DataFrame with columns [run_id, alpha, beta, mode] for comparison
    # -----------------------------------------------------------------------------

    assert list(rows.columns) == ["run_id", "alpha", "beta", "mode"]
    got = {r.run_id: {"alpha": r.alpha, "beta": r.beta, "mode": r.mode} for r in rows.itertuples()}
    assert got == ids


# -- Querying results ---------------------------------------------------------------


def test_finding_runs(tracker: Tracker) -> None:
    """The one 2030 ``simulate`` run of ``baseline``; all of them indexed by year."""
    baseline_years(tracker)

    # -- the example, as written --------------------------------------------------
    import consist

    # Find a specific run
    run = consist.find_run(
        tracker=tracker,
        parent_id="baseline",  # Scenario ID
        year=2030,
        model="simulate"
    )  # fmt: skip

    # Get multiple runs indexed by a field
    runs_by_year = consist.find_runs(
        tracker=tracker,
        parent_id="baseline",
        model="simulate",
        index_by="year"
    )  # fmt: skip
    result_2030 = runs_by_year[2030]
    # -----------------------------------------------------------------------------

    assert run.id == "baseline_2030" and result_2030.id == "baseline_2030"
    assert sorted(runs_by_year) == [2020, 2030, 2040]

    # -- "Loading Artifacts", as written (after the block above) -------------------
    # Get artifacts for a run
    artifacts = tracker.get_artifacts_for_run(run.id)
    persons_artifact = artifacts.outputs["persons"]

    # Load the data
    df = consist.load(persons_artifact)
    # -----------------------------------------------------------------------------

    pd.testing.assert_frame_equal(df, run_model(2030, POPULATION))


def test_cross_run_queries_with_views(workdir: Path) -> None:
    """The view spans both scenarios' runs, hot (ingested) and cold (files) alike."""
    # -- the example, as written --------------------------------------------------
    import consist
    from sqlmodel import SQLModel, Field, select, func
    from consist import Tracker

    class Person(SQLModel, table=True):
        person_id: int = Field(primary_key=True)
        age: int
        number_of_trips: int

    tracker = Tracker(
        run_dir="./runs",
        db_path="./provenance.duckdb",
        schemas=[Person]
    )  # fmt: skip

    # After running scenarios...
    # (context: two scenarios, two years each; 2030 ingested, 2040 left as files)
    for scenario, trips in (("baseline", [2, 4]), ("high_gas", [1, 3])):
        with consist.scenario(scenario, tracker=tracker) as sc:
            for year in (2030, 2040):
                with sc.trace(name="simulate", year=year):
                    df = pd.DataFrame(
                        {"person_id": [1, 2], "age": [30, 41], "number_of_trips": trips}
                    )
                    artifact = consist.log_dataframe(df, key="person")
                    if year == 2030:
                        tracker.ingest(artifact)
    VPerson = tracker.views.Person

    query = (
        select(
            VPerson.consist_scenario_id,
            VPerson.consist_year,
            func.avg(VPerson.number_of_trips).label("avg_trips")
        )
        .where(VPerson.consist_scenario_id.in_(["baseline", "high_gas"]))
        .group_by(VPerson.consist_scenario_id, VPerson.consist_year)
    )  # fmt: skip

    results = consist.run_query(query, tracker=tracker)
    # -----------------------------------------------------------------------------

    got = {
        (r.consist_scenario_id, r.consist_year): r.avg_trips
        for r in results.itertuples(index=False)
    }
    assert got == {
        ("baseline", 2030): 3.0,
        ("baseline", 2040): 3.0,
        ("high_gas", 2030): 2.0,
        ("high_gas", 2040): 2.0,
    }
    tracker.close()
    shutil.rmtree(workdir / "runs")


# -- Generating schemas from captured data: the log_artifact options the text names ----


def test_log_artifact_schema_capture_and_content_hash_options(tracker: Tracker) -> None:
    """profile_file_schema / file_schema_sample_rows, content_hash=, force_hash_override,
    validate_content_hash: each does what the paragraph says."""
    from consist.domain.errors import HashConflict

    pd.DataFrame({"person_id": [1, 2], "age": [30, 41]}).to_csv("persons.csv", index=False)
    Path("moved.csv").write_bytes(Path("persons.csv").read_bytes())
    with tracker.start_run("schemas") as run:
        profiled = run.log_artifact(
            "persons.csv", key="persons", profile_file_schema=True, file_schema_sample_rows=10
        )
        known = profiled.content_hash
        # "pass content_hash= ... to reuse it without re-hashing the file"
        reused = run.log_artifact("moved.csv", key="moved", content_hash=known)
        # "will not overwrite an existing, different hash unless force_hash_override=True"
        with pytest.raises(HashConflict):
            run.log_artifact("persons.csv", key="wrong", content_hash="0" * 64)
        forced = run.log_artifact(
            "persons.csv", key="forced", content_hash="0" * 64, force_hash_override=True
        )
        # "To verify the hash against disk, use validate_content_hash=True"
        with pytest.raises(HashConflict):
            run.log_artifact(
                "moved.csv", key="checked", content_hash="1" * 64, validate_content_hash=True
            )
    assert [c["name"] for c in profiled.meta["file_schema"]] == ["person_id", "age"]
    assert reused.content_hash == known and forced.content_hash == "0" * 64
    Path("persons.csv").unlink()  # "remain available even if the original files ... are deleted"
    stored = tracker.get_artifacts_for_run("schemas").outputs["persons"]
    assert [c["name"] for c in stored.meta["file_schema"]] == ["person_id", "age"]
