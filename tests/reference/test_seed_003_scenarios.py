"""Seed 003 (usage guide), Pattern 2: multi-step workflows with ``consist.scenario``.

Each test is one example of ``../shared/reference/seed-003-usage-guide-patterns.md``
run as written. The helpers the examples call without defining them
(``load_population``, ``run_model``, ``asim_compile_runner`` ...) are defined
here as small real functions that count their calls, so each test can tell
whether a step's body ran.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import consist
from consist import Artifact, Tracker, use_tracker
from consist.domain.errors import UnknownCouplerKey
from consist.services.scenarios.coupler import UndocumentedCouplerKey

RAW = pd.DataFrame(
    {
        "value": [0.1, 0.4, 0.6, 0.8, 0.9, 1.5],
        "category": ["a", "b", "a", "b", "a", "b"],
    }
)
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


def _compile(**_: Any) -> dict[str, Any]:
    called("compile")
    skims = xr.Dataset(
        {"time": (("o", "d"), np.arange(4.0).reshape(2, 2))}, coords={"o": [1, 2], "d": [1, 2]}
    )
    return {"zarr_skims": skims, "synthetic_population": POPULATION.copy()}


def _main(zarr_skims: xr.Dataset) -> None:
    called("main", float(zarr_skims["time"].sum()))


asim_compile_runner = types.SimpleNamespace(run=_compile)
asim_runner = types.SimpleNamespace(run=_main)


@pytest.fixture(autouse=True)
def _fresh_calls() -> Iterator[None]:
    calls.clear()
    yield
    calls.clear()


@pytest.fixture
def tracker(workdir: Path) -> Iterator[Tracker]:
    """The tracker the examples share, as created in the guide's first example."""
    RAW.to_csv(workdir / "raw.csv", index=False)
    made = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    yield made
    made.close()


def steps_of(tracker: Tracker, scenario: str) -> list[Any]:
    return sorted(tracker.find_runs(parent_run_id=scenario), key=lambda r: r.created_at)


def test_simple_two_step_workflow(tracker: Tracker) -> None:
    """Both steps are children of ``my_analysis``; a rerun hits both; new raw.csv runs both."""
    ran: list[str] = []

    # -- the example, as written --------------------------------------------------
    import consist
    from consist import Tracker, use_tracker
    from pathlib import Path
    import pandas as pd

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    # Define steps as regular functions
    def preprocess_data(raw: pd.DataFrame) -> pd.DataFrame:
        ran.append("preprocess")  # (context: counts executions)
        df = raw[raw["value"] > 0.5]
        return df

    def analyze_data(preprocessed: pd.DataFrame) -> pd.DataFrame:
        ran.append("analyze")  # (context: counts executions)
        summary = preprocessed.groupby("category", as_index=False)["value"].mean()
        return summary

    # Execute as a scenario
    with use_tracker(tracker):
        with consist.scenario("my_analysis") as sc:
            sc.run(
                name="preprocess",
                fn=preprocess_data,
                inputs={"raw": Path("raw.csv")},
                outputs=["preprocessed"],
            )

            sc.run(
                name="analyze",
                fn=analyze_data,
                inputs=["preprocessed"],
                load_inputs=True,
                outputs=["analysis"],
            )
    # -----------------------------------------------------------------------------

    def workflow() -> Any:
        with use_tracker(tracker):
            with consist.scenario("my_analysis") as sc:
                sc.run(
                    name="preprocess",
                    fn=preprocess_data,
                    inputs={"raw": Path("raw.csv")},
                    outputs=["preprocessed"],
                )
                sc.run(
                    name="analyze",
                    fn=analyze_data,
                    inputs=["preprocessed"],
                    load_inputs=True,
                    outputs=["analysis"],
                )
        return sc

    assert ran == ["preprocess", "analyze"]
    analysis = consist.load(sc.coupler.require("analysis"))
    expected = RAW[RAW["value"] > 0.5].groupby("category", as_index=False)["value"].mean()
    pd.testing.assert_frame_equal(analysis, expected)
    # "All steps have scenario_id="my_analysis""
    assert {r.model for r in steps_of(tracker, "my_analysis")} == {"preprocess", "analyze"}

    again = workflow()
    assert ran == ["preprocess", "analyze"]
    assert [s["cache_hit"] for s in again.steps] == [True, True]
    # "Change raw.csv? Both re-execute."
    RAW.assign(value=RAW["value"] + 1).to_csv("raw.csv", index=False)
    workflow()
    assert ran == ["preprocess", "analyze"] * 2
    tracker.close()


def test_inline_steps_with_sc_trace(tracker: Tracker) -> None:
    """Trace blocks run their code; the second reads the first's output through the coupler."""
    # -- the example, as written --------------------------------------------------
    with use_tracker(tracker):
        with consist.scenario("my_analysis") as sc:
            with sc.trace(name="preprocess", inputs={"raw": Path("raw.csv")}):
                df = pd.read_csv("raw.csv")
                consist.log_dataframe(df, key="preprocessed")

            with sc.trace(name="analyze", inputs=["preprocessed"]):
                df = consist.load(sc.coupler.require("preprocessed"))
                summary = df.groupby("category", as_index=False)["value"].mean()
                consist.log_dataframe(summary, key="analysis")
    # -----------------------------------------------------------------------------

    expected = RAW.groupby("category", as_index=False)["value"].mean()
    pd.testing.assert_frame_equal(consist.load(sc.coupler.require("analysis")), expected)
    analyze = next(r for r in steps_of(tracker, "my_analysis") if r.model == "analyze")
    links = tracker.get_artifacts_for_run(analyze.id)
    assert links.inputs["preprocessed"].id == sc.coupler.require("preprocessed").id


def test_passing_data_with_the_coupler(tracker: Tracker) -> None:
    """Each year's step declares ``population`` as input and logs ``persons``."""
    # -- the example, as written --------------------------------------------------
    with use_tracker(tracker):
        with consist.scenario("baseline", model="travel_demand") as sc:
            coupler = sc.coupler

            # Step 1: Load and prepare
            with sc.trace(name="initialize", run_id="baseline_init"):
                df_pop = load_population()
                consist.log_dataframe(df_pop, key="population")

            # Step 2: Simulate for each year
            for year in [2020, 2030, 2040]:
                with sc.trace(
                    name="simulate",
                    run_id=f"baseline_{year}",
                    year=year,
                    inputs=["population"],  # Declare dependency
                ):
                    # Get data from coupler (with automatic cache detection)
                    df_pop = consist.load(coupler.require("population"))
                    df_result = run_model(year, df_pop)

                    # Log output and store for downstream steps
                    consist.log_dataframe(df_result, key="persons")
    # -----------------------------------------------------------------------------

    assert calls["run_model"] == [(2020,), (2030,), (2040,)]
    population = tracker.get_artifacts_for_run("baseline_init").outputs["population"]
    for year in (2020, 2030, 2040):
        run = tracker.get_run(f"baseline_{year}")
        assert (run.parent_run_id, run.model, run.year) == ("baseline", "simulate", year)
        links = tracker.get_artifacts_for_run(run.id)
        assert links.inputs["population"].id == population.id  # the declared dependency
        persons = consist.load(links.outputs["persons"])
        pd.testing.assert_frame_equal(persons, run_model(year, POPULATION))
    assert tracker.get_run("baseline").model == "travel_demand"

    # "If the population artifact hasn't changed, this step's cache is still valid":
    # the same block again records every step as a hit (trace blocks still execute).
    with use_tracker(tracker):
        with consist.scenario("baseline", model="travel_demand") as again:
            with again.trace(name="initialize", run_id="baseline_init"):
                consist.log_dataframe(load_population(), key="population")
            for year in [2020, 2030, 2040]:
                with again.trace(
                    name="simulate", run_id=f"baseline_{year}", year=year, inputs=["population"]
                ):
                    df_pop = consist.load(again.coupler.require("population"))
                    consist.log_dataframe(run_model(year, df_pop), key="persons")
    assert [s["cache_hit"] for s in again.steps] == [True] * 4
    assert [s["run_id"] for s in again.steps][:2] == ["baseline_init@2", "baseline_2020@2"]


def test_simpler_alternative_auto_load_inputs_with_sc_run(tracker: Tracker) -> None:
    """``sc.run`` loads ``population`` into the parameter; config carries the year."""

    # -- the example, as written --------------------------------------------------
    def simulate_year(population: pd.DataFrame, config: dict) -> pd.DataFrame:
        year = config["year"]
        return run_model(year, population)

    with use_tracker(tracker):
        with consist.scenario("baseline", model="travel_demand") as sc:
            with sc.trace(name="initialize", run_id="baseline_init"):
                df_pop = load_population()
                consist.log_dataframe(df_pop, key="population")

            for year in [2020, 2030, 2040]:
                sc.run(
                    name=f"simulate_{year}",
                    fn=simulate_year,
                    inputs=["population"],
                    outputs=["persons"],
                    load_inputs=True,
                    config={"year": year},
                )
    # -----------------------------------------------------------------------------

    assert calls["run_model"] == [(2020,), (2030,), (2040,)]
    by_model = {r.model: r for r in steps_of(tracker, "baseline")}
    assert set(by_model) == {"initialize", "simulate_2020", "simulate_2030", "simulate_2040"}
    persons = tracker.get_artifacts_for_run(by_model["simulate_2040"].id).outputs["persons"]
    pd.testing.assert_frame_equal(consist.load(persons), run_model(2040, POPULATION))
    assert sc.coupler.require("persons").id == persons.id  # the last year's output


def test_pattern_a_declare_required_outputs_upfront(tracker: Tracker) -> None:
    """Declared keys set by the step: no warning, the scenario completes, outputs in the coupler."""
    # -- the example, as written --------------------------------------------------
    # Define your expected outputs once (at top of file or in config)
    WORKFLOW_OUTPUTS = {
        "zarr_skims": "Zone-to-zone travel times in Zarr format",
        "synthetic_population": "Synthetic population with activity schedules",
    }

    with warnings.catch_warnings():
        warnings.simplefilter("error", UndocumentedCouplerKey)  # (context: a warning fails)
        with use_tracker(tracker):
            with consist.scenario("workflow") as sc:
                sc.require_outputs(
                    "zarr_skims",
                    "synthetic_population",
                    warn_undocumented=True,
                    description=WORKFLOW_OUTPUTS,
                )

                # Run steps and set outputs
                compile_result = sc.run("compile", fn=asim_compile_runner.run)
                # Outputs are synced to the coupler automatically
    # -----------------------------------------------------------------------------

    assert len(calls["compile"]) == 1
    assert sorted(compile_result.outputs) == ["synthetic_population", "zarr_skims"]
    assert sc.coupler.require("zarr_skims").id == compile_result.outputs["zarr_skims"].id
    assert sc.coupler.require("zarr_skims").driver == "zarr"
    assert str(sc.header.status) == "completed"


def test_pattern_a_warns_about_a_misspelt_key(tracker: Tracker) -> None:
    """'Typos caught immediately with warnings ("Setting undocumented coupler key 'zar_skims'")'."""
    with use_tracker(tracker):
        with consist.scenario("workflow") as sc:
            sc.require_outputs("zarr_skims", warn_undocumented=True)
            compile_result = sc.run("compile", fn=asim_compile_runner.run)
            with pytest.warns(UndocumentedCouplerKey, match="zar_skims"):
                sc.coupler.set("zar_skims", compile_result.outputs["zarr_skims"])


@pytest.mark.parametrize("debugging", [False, True])
def test_pattern_b_runtime_declared_validation(tracker: Tracker, debugging: bool) -> None:
    """Required keys are set by the step, so nothing is missing; the debug key is optional."""
    # -- the example, as written --------------------------------------------------
    with use_tracker(tracker):
        with consist.scenario("workflow") as sc:
            # Declare required outputs dynamically
            sc.declare_outputs(
                "zarr_skims", "synthetic_population",
                required={"zarr_skims": True, "synthetic_population": True}
            )  # fmt: skip

            # Optionally add more outputs later (not required)
            if debugging:
                sc.declare_outputs("debug_report", required={"debug_report": False})

            # Run steps and set outputs
            compile_result = sc.run("compile", fn=asim_compile_runner.run)
            # Outputs are synced to the coupler automatically

            # Check for missing required outputs
            missing = sc.coupler.missing_declared_outputs()
            if missing:
                raise RuntimeError(f"Missing required outputs: {missing}")
    # -----------------------------------------------------------------------------

    assert missing == []
    assert sorted(sc.coupler.keys()) == sorted(compile_result.outputs)
    assert ("debug_report" in sc.coupler.declared_outputs()) is debugging
    assert str(sc.header.status) == "completed"


def test_pattern_c_type_safe_access_with_coupler_schema(tracker: Tracker) -> None:
    """``typed.zarr_skims`` is the coupler's artifact; ``main`` gets the Dataset loaded."""
    # -- the example, as written --------------------------------------------------
    from consist import coupler_schema

    @coupler_schema
    class WorkflowCoupler:
        """Schema for workflow outputs with IDE autocomplete support."""

        zarr_skims: Artifact
        synthetic_population: Artifact

    with use_tracker(tracker):
        with consist.scenario("workflow") as sc:
            # Get a typed view for attribute-style access
            typed = sc.coupler_schema(WorkflowCoupler)

            # Run a step and collect outputs
            compile_result = sc.run("compile", fn=asim_compile_runner.run)
            sc.collect_by_keys(compile_result.outputs, "zarr_skims", "synthetic_population")

            # Typed attribute access with IDE autocomplete (type-safe)
            skims_artifact = typed.zarr_skims  # IDE knows this is an Artifact
            sc.run("main", fn=asim_runner.run, inputs=["zarr_skims"], load_inputs=True)
    # -----------------------------------------------------------------------------

    assert isinstance(skims_artifact, Artifact)
    assert skims_artifact.id == compile_result.outputs["zarr_skims"].id
    assert calls["main"] == [(6.0,)]  # the Dataset, loaded from Zarr
    main = next(r for r in steps_of(tracker, "workflow") if r.model == "main")
    assert tracker.get_artifacts_for_run(main.id).inputs["zarr_skims"].id == skims_artifact.id


def test_bulk_logging_with_metadata(tracker: Tracker, workdir: Path) -> None:
    """Every file gets year and scenario_name; households and jobs get their role too."""
    Path("results").mkdir()
    for name in ("persons", "households", "jobs"):
        pd.DataFrame({f"{name}_id": [1, 2]}).to_parquet(f"results/{name}.parquet")

    with use_tracker(tracker):  # (context: the guide's examples run inside use_tracker)
        # -- the example, as written ----------------------------------------------
        with consist.scenario("outputs") as sc:
            # Log multiple files at once with explicit keys
            outputs = sc.log_artifacts(
                {
                    "persons": "results/persons.parquet",
                    "households": "results/households.parquet",
                    "jobs": "results/jobs.parquet"
                },
                metadata_by_key={
                    "households": {"role": "primary_unit"},
                    "jobs": {"role": "employment_proxy"}
                },
                year=2030,
                scenario_name="base"
            )  # fmt: skip
            # All get year=2030, scenario_name="base"
            # households also gets role="primary_unit"
        # -------------------------------------------------------------------------

    assert sorted(outputs) == ["households", "jobs", "persons"]
    for key, artifact in outputs.items():
        assert artifact.meta["year"] == 2030 and artifact.meta["scenario_name"] == "base"
        assert Path(artifact.path) == workdir / "results" / f"{key}.parquet"
    assert outputs["households"].meta["role"] == "primary_unit"
    assert outputs["jobs"].meta["role"] == "employment_proxy"
    assert "role" not in outputs["persons"].meta
    recorded = tracker.get_artifacts_for_run("outputs").outputs
    assert recorded["households"].meta["role"] == "primary_unit"


def test_parameter_sweep_in_a_scenario_requires_a_key_nobody_set(tracker: Tracker) -> None:
    """As written the sweep declares ``shared_data`` while setup logs ``data``.

    The guide's text promises one run per threshold, which cannot happen as
    written: the first analyze step is refused at once with ``UnknownCouplerKey``
    naming the missing key and listing the one that is set (a typo caught
    immediately, the behaviour the guide promises elsewhere). Reported to the
    lead as an inconsistency in the reference document.
    """
    pd.DataFrame({"value": [0.2, 0.4, 0.6, 0.8]}).to_csv("data.csv", index=False)

    with pytest.raises(UnknownCouplerKey, match="shared_data") as refused:
        # -- the example, as written ----------------------------------------------
        with use_tracker(tracker):
            with consist.scenario("sensitivity_analysis") as sc:
                coupler = sc.coupler

                # Load once, use for all variants
                with sc.trace(name="setup"):
                    df = pd.read_csv("data.csv")
                    consist.log_dataframe(df, key="data")

                # Test different thresholds
                for threshold in [0.3, 0.5, 0.7]:
                    with sc.trace(
                        name="analyze",
                        run_id=f"threshold_{threshold}",
                        threshold=threshold,
                        inputs=["shared_data"],
                    ):
                        df = consist.load(coupler.require("shared_data"))
                        filtered = df[df["value"] > threshold]
                        consist.log_dataframe(filtered, key="filtered")
        # -------------------------------------------------------------------------
    assert str(refused.value).endswith("keys set so far: data")
    assert sc.coupler.keys() == ["data"]
    assert [r.model for r in steps_of(tracker, "sensitivity_analysis")] == ["setup"]
