"""Scenarios: multi-year workflows that re-run as cache hits and fail loudly."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist.domain.errors import DuplicateRun, InvalidInput, RunFailed

YEARS = (2020, 2030, 2040)


@pytest.fixture
def new_tracker(
    make_tracker: Callable[..., Any], catalog_url: str, tmp_path: Path
) -> Callable[[], Any]:
    """A tracker per call, as a new process would make, on one run_dir and catalog.

    The previous one is closed first (its catalog writes land, as when a script
    ends). Code identity does not depend on this repository's git state. An
    in-memory catalog does not outlive its tracker, so there one is reused.
    """
    shared: list[Any] = []

    def new() -> Any:
        if shared and catalog_url.startswith("memory"):
            return shared[0]
        if shared:
            shared[-1].close()
        shared.append(make_tracker(project_dir=tmp_path))
        return shared[-1]

    return new


class Model:
    """Step functions that count their calls."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def init(self, config: dict[str, Any]) -> dict[str, pd.DataFrame]:
        self.calls["init"] += 1
        people = pd.DataFrame({"person": range(config["persons"]), "trips": 2})
        return {"population": people}

    def simulate(self, population: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
        self.calls[f"simulate:{config['year']}"] += 1
        return population.assign(trips=population["trips"] + (config["year"] - 2020) // 10)


def three_years(tracker: Any, model: Model, persons: int = 4, name: str = "baseline") -> Any:
    with consist.scenario(name, tracker=tracker, model="travel_demand") as sc:
        sc.run("init", model.init, config={"persons": persons}, outputs=["population"])
        for year in YEARS:
            sc.run(
                "simulate",
                model.simulate,
                inputs=["population"],
                outputs=["persons"],
                config={"year": year},
                year=year,
            )
    return sc


def test_second_pass_is_all_hits_and_calls_nothing(new_tracker: Callable[[], Any]) -> None:
    """Running the same scenario script again calls no step function."""
    model = Model()
    first = three_years(new_tracker(), model)
    assert sum(model.calls.values()) == 4
    second = three_years(new_tracker(), model)
    assert sum(model.calls.values()) == 4
    assert [s["cache_hit"] for s in first.steps] == [False] * 4
    assert [s["cache_hit"] for s in second.steps] == [True] * 4
    assert second.header.meta["passes"] == 2
    assert second.header.status is consist.RunStatus.COMPLETED


def test_header_snapshot_lists_this_pass_steps(new_tracker: Callable[[], Any]) -> None:
    """The scenario's run is re-opened, not duplicated; its snapshot lists the pass's steps."""
    tracker = new_tracker()
    three_years(tracker, Model())
    sc = three_years(tracker, Model())
    stored = tracker.get_run("baseline")
    assert stored.status is consist.RunStatus.COMPLETED
    assert [s["run_id"] for s in stored.meta["steps"]] == [s["run_id"] for s in sc.steps]
    assert [s["year"] for s in stored.meta["steps"]] == [None, *YEARS]
    on_disk = tracker.snapshots.read("baseline").run
    assert on_disk.meta["passes"] == 2 and len(on_disk.meta["steps"]) == 4
    children = tracker.find_runs(parent_run_id="baseline")
    assert len(children) == 8  # both passes' steps stay queryable


def test_steps_are_children_of_the_scenario(new_tracker: Callable[[], Any]) -> None:
    """Every step's parent_run_id is the scenario id; the model is the step name."""
    tracker = new_tracker()
    three_years(tracker, Model())
    runs = consist.find_runs(tracker=tracker, parent_id="baseline", model="simulate")
    assert isinstance(runs, list)
    assert sorted(r.year for r in runs) == list(YEARS)
    assert all(r.parent_run_id == "baseline" for r in runs)


def test_changing_init_config_reexecutes_every_year(new_tracker: Callable[[], Any]) -> None:
    """A new init output changes every downstream signature (Merkle inputs)."""
    model = Model()
    three_years(new_tracker(), model, persons=4)
    sc = three_years(new_tracker(), model, persons=5)
    assert model.calls["init"] == 2
    assert all(model.calls[f"simulate:{y}"] == 2 for y in YEARS)
    assert [s["cache_hit"] for s in sc.steps] == [False] * 4


def test_hit_puts_cached_outputs_in_the_coupler(new_tracker: Callable[[], Any]) -> None:
    """On a hit the function is skipped but its outputs still reach the coupler."""
    model = Model()
    first = three_years(new_tracker(), model)
    second = three_years(new_tracker(), model)
    assert first.coupler.require("persons").id == second.coupler.require("persons").id
    tracker = new_tracker()
    frame = consist.load(second.coupler.require("population"), tracker=tracker)
    assert list(frame.columns) == ["person", "trips"]


def test_find_runs_across_scenarios_by_scenario_and_year(new_tracker: Callable[[], Any]) -> None:
    """Each scenario's steps are found by (scenario id, year)."""
    tracker = new_tracker()
    three_years(tracker, Model(), persons=4, name="baseline")
    three_years(tracker, Model(), persons=6, name="growth")
    by_year = consist.find_runs(
        tracker=tracker, parent_id="growth", model="simulate", index_by="year"
    )
    assert isinstance(by_year, dict) and sorted(by_year) == list(YEARS)
    run = consist.find_run(tracker=tracker, parent_id="baseline", year=2030)
    assert run.model == "simulate" and run.parent_run_id == "baseline"
    outputs = tracker.get_artifacts_for_run(by_year[2030].id).outputs
    assert len(consist.load(outputs["persons"], tracker=tracker)) == 6
    assert len(tracker.find_runs(year=2030)) == 2


def test_trace_blocks_always_execute_and_report_hits(new_tracker: Callable[[], Any]) -> None:
    """A trace body runs on every pass; the second pass reports the signature match."""
    executed = []
    reports = []
    for _ in range(2):
        with consist.scenario("traced", tracker=new_tracker()) as sc:
            with sc.trace("initialize", run_id="traced_init") as step:
                executed.append("init")
                consist.log_dataframe(pd.DataFrame({"zone": [1, 2]}), key="zones")
            reports.append((step.run_id, step.cache_hit, step.cached_from))
            with sc.trace("simulate", year=2030, inputs=["zones"]) as sim:
                executed.append("simulate")
                zones = consist.load(sc.coupler.require("zones"))
                consist.log_dataframe(zones.assign(trips=3), key="trips")
            reports.append((sim.run.model, sim.cache_hit, sim.run.year))
    assert executed == ["init", "simulate"] * 2
    assert reports[0] == ("traced_init", False, None)
    assert reports[1] == ("simulate", False, 2030)
    assert reports[2] == ("traced_init@2", True, "traced_init")
    assert reports[3] == ("simulate", True, 2030)


def test_trace_outputs_feed_cached_runs_by_merkle_identity(new_tracker: Callable[[], Any]) -> None:
    """A trace re-executes, yet a cached step downstream of it is still a hit."""
    model = Model()
    hits = []
    for _ in range(2):
        with consist.scenario("mixed", tracker=new_tracker()) as sc:
            with sc.trace("load", config={"persons": 3}):
                people = pd.DataFrame({"person": range(3), "trips": 1})
                consist.log_dataframe(people, key="population")
            result = sc.run(
                "simulate", model.simulate, inputs=["population"], config={"year": 2030}
            )
            hits.append(result.cache_hit)
    assert hits == [False, True]
    assert model.calls["simulate:2030"] == 1


def test_failing_run_step_fails_the_scenario(new_tracker: Callable[[], Any]) -> None:
    """An exception in a step marks the step and the scenario failed, then propagates."""
    tracker = new_tracker()

    def broken(config: dict[str, Any]) -> None:
        raise ZeroDivisionError("no trips")

    with pytest.raises(ZeroDivisionError), consist.scenario("bad", tracker=tracker) as sc:
        sc.run("crash", broken, config={"year": 2030}, year=2030)
    step = consist.find_run(tracker=tracker, parent_id="bad", model="crash")
    assert step.status is consist.RunStatus.FAILED and step.error_type == "ZeroDivisionError"
    header = tracker.get_run("bad")
    assert header.status is consist.RunStatus.FAILED
    assert header.meta["steps"][0]["status"] == "failed"


def test_caught_step_failure_still_fails_the_scenario(new_tracker: Callable[[], Any]) -> None:
    """Swallowing a trace's exception does not hide the failed step from the scenario."""
    tracker = new_tracker()
    with consist.scenario("swallowed", tracker=tracker) as sc:
        try:
            with sc.trace("explode", run_id="explode_step"):
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        with sc.trace("after"):
            pass
    header = tracker.get_run("swallowed")
    assert header.status is consist.RunStatus.FAILED
    assert header.error_type == RunFailed.__name__
    assert "explode_step" in (header.error_message or "")
    assert tracker.get_run("explode_step").error_message == "boom"


def test_failed_scenario_can_be_entered_again(new_tracker: Callable[[], Any]) -> None:
    """A failed pass is followed by a clean one: the header completes, hits are reused."""
    model = Model()
    tracker = new_tracker()
    with pytest.raises(KeyError), consist.scenario("retry", tracker=tracker) as sc:
        sc.run("init", model.init, config={"persons": 2}, outputs=["population"])
        raise KeyError("operator error")
    with consist.scenario("retry", tracker=tracker) as sc:
        result = sc.run("init", model.init, config={"persons": 2}, outputs=["population"])
    assert result.cache_hit and model.calls["init"] == 1
    header = tracker.get_run("retry")
    assert header.status is consist.RunStatus.COMPLETED and header.error_type is None


def test_scenario_name_of_an_ordinary_run_is_refused(new_tracker: Callable[[], Any]) -> None:
    """Only a scenario's own run is re-opened; any other existing id stays untouched."""
    tracker = new_tracker()
    with tracker.start_run("plain", "model"):
        pass
    with pytest.raises(DuplicateRun), consist.scenario("plain", tracker=tracker):
        pass
    assert tracker.get_run("plain").status is consist.RunStatus.COMPLETED


def test_explicit_run_id_on_a_later_miss_gets_a_suffix(new_tracker: Callable[[], Any]) -> None:
    """sc.run with the same run_id on a changed config records <run_id>@2, not an error."""
    model = Model()
    ids = []
    for persons in (2, 2, 3):
        with consist.scenario("ids", tracker=new_tracker()) as sc:
            result = sc.run(
                "init", model.init, run_id="ids_init", config={"persons": persons},
                outputs=["population"],
            )  # fmt: skip
        ids.append((result.run_id, result.cache_hit))
    assert ids == [("ids_init", False), ("ids_init", True), ("ids_init@2", False)]


def test_use_tracker_scenario_and_independent_runs(new_tracker: Callable[[], Any]) -> None:
    """With use_tracker, the scenario needs no tracker; consist.run inside stays independent."""
    tracker = new_tracker()
    model = Model()
    with consist.use_tracker(tracker), consist.scenario("ambient") as sc:
        pre = consist.run(model.init, name="pre", config={"persons": 2}, outputs=["population"])
        sc.coupler.update(pre.outputs)
        result = sc.run("simulate", model.simulate, inputs=["population"], config={"year": 2020})
    assert pre.run.parent_run_id is None
    assert result.run.parent_run_id == "ambient"
    inputs = tracker.get_artifacts_for_run(result.run.id).inputs
    assert inputs["population"].id == pre.outputs["population"].id


def test_step_outside_the_block_is_refused(new_tracker: Callable[[], Any]) -> None:
    """A scenario used after its block ended says how to use it."""
    with consist.scenario("closed", tracker=new_tracker()) as sc:
        pass
    with pytest.raises(InvalidInput, match=r"inside `with consist.scenario"):
        sc.run("late", Model().init, config={"persons": 1})


def test_step_cache_hydration_restores_missing_inputs(new_tracker: Callable[[], Any]) -> None:
    """step_cache_hydration applies to scenario steps: a deleted input comes back."""
    tracker = new_tracker()
    model = Model()
    with consist.scenario("hydrate", tracker=tracker) as sc:
        sc.run("init", model.init, config={"persons": 2}, outputs=["population"])
    population = sc.coupler.require("population")
    path = tracker.resolve_path(population)
    kept = path.read_bytes()
    path.unlink()
    # The bytes survive only as a copy another run logged.
    copy = path.parent.parent / "kept-population.parquet"
    copy.write_bytes(kept)
    with tracker.start_run("keeper", "archive"):
        consist.log_artifact(copy, "population_copy")
    with consist.scenario(
        "hydrate", tracker=tracker, step_cache_hydration="inputs-missing"
    ) as again:
        again.run("init", model.init, config={"persons": 2}, outputs=["population"])
        result = again.run("simulate", model.simulate, inputs=["population"], config={"year": 2020})
    assert not result.cache_hit and path.exists()
