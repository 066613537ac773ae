"""The coupler: keys between steps, declared outputs, typed schemas, bulk logging."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist.domain.errors import InvalidInput, UnknownCouplerKey
from consist.services.scenarios.coupler import MissingCouplerOutputs, UndocumentedCouplerKey


@pytest.fixture
def tracker(make_tracker: Callable[..., Any], tmp_path: Path) -> Any:
    return make_tracker(project_dir=tmp_path)


def log_frame(key: str, rows: int = 2) -> Any:
    return consist.log_dataframe(pd.DataFrame({"x": range(rows)}), key=key)


def test_set_get_require_update_keys_and_in(tracker: Any) -> None:
    """The coupler behaves like a small mapping of artifacts."""
    with consist.scenario("mapping", tracker=tracker) as sc:
        with sc.trace("make"):
            first = log_frame("first")
            second = log_frame("second")
        coupler = sc.coupler
        assert coupler.keys() == ["first", "second"]  # set automatically by the trace
        coupler.set("alias", first)
        coupler.update({"other": second})
        assert "alias" in coupler and "missing" not in coupler
        assert coupler.require("alias").id == first.id
        assert coupler["other"].id == second.id
        assert coupler.get("missing") is None
        assert coupler.get("missing", first) is first
        assert len(coupler) == 4 and sorted(coupler) == ["alias", "first", "other", "second"]


def test_unknown_key_lists_the_keys_that_exist(tracker: Any) -> None:
    """require() of an unset key names it and every key that is set."""
    with consist.scenario("unknown", tracker=tracker) as sc:
        with sc.trace("make"):
            log_frame("population")
            log_frame("zones")
        with pytest.raises(UnknownCouplerKey) as caught:
            sc.coupler.require("populaton")
        with pytest.raises(KeyError):  # also the builtin a caller would catch
            sc.coupler["skims"]
    message = str(caught.value)
    assert "'populaton'" in message and "population, zones" in message


def test_setting_something_else_than_an_artifact_is_refused(tracker: Any) -> None:
    """Only Artifacts go into the coupler; the error names the key and the type."""
    sc = consist.scenario("typed", tracker=tracker)
    with sc, pytest.raises(InvalidInput, match=r"'skims'.*DataFrame"):
        sc.coupler.set("skims", pd.DataFrame())  # type: ignore[arg-type]


def test_unknown_input_key_fails_before_the_step_runs(tracker: Any) -> None:
    """A misspelt key in inputs or input_keys is an UnknownCouplerKey; no run is made."""
    ran = []
    with consist.scenario("typo", tracker=tracker) as sc:
        with sc.trace("make"):
            log_frame("population")
        with pytest.raises(UnknownCouplerKey, match="population"):
            sc.run("use", lambda population: ran.append(1), inputs=["populaton"])
        with pytest.raises(UnknownCouplerKey), sc.trace("use", input_keys=["popul"]):
            ran.append(2)
    assert ran == []
    assert [s["name"] for s in sc.steps] == ["make"]


def test_input_keys_and_optional_input_keys(tracker: Any) -> None:
    """input_keys are linked as inputs; optional ones only when they are set."""
    with consist.scenario("optional", tracker=tracker) as sc:
        with sc.trace("make"):
            log_frame("population")
        with sc.trace(
            "use", input_keys=["population"], optional_input_keys=["zones", "population"]
        ) as step:
            pass
    assert sorted(step.inputs) == ["population"]
    recorded = tracker.get_artifacts_for_run(step.run_id).inputs
    assert recorded["population"].id == sc.coupler.require("population").id


def test_required_output_missing_fails_the_scenario(tracker: Any) -> None:
    """Ending without a required output raises an error naming it and fails the run."""
    sc = consist.scenario("incomplete", tracker=tracker)
    with pytest.raises(MissingCouplerOutputs, match="'skims'") as caught, sc:
        sc.require_outputs("population", "skims")
        with sc.trace("make"):
            log_frame("population")
        assert sc.coupler.missing_declared_outputs() == ["skims"]
    assert caught.value.missing == ["skims"]
    header = tracker.get_run("incomplete")
    assert header.status is consist.RunStatus.FAILED
    assert header.error_type == "MissingCouplerOutputs"


def test_required_outputs_set_complete_the_scenario(tracker: Any) -> None:
    """With every required key set the scenario completes."""
    with consist.scenario("complete", tracker=tracker) as sc:
        sc.require_outputs("population", description={"population": "persons"})
        with sc.trace("make"):
            log_frame("population")
    assert tracker.get_run("complete").status is consist.RunStatus.COMPLETED
    assert sc.coupler.declared_outputs()["population"].description == "persons"


def test_undocumented_key_warns_only_when_asked(tracker: Any) -> None:
    """warn_undocumented=True warns on a typo and suggests the declared key."""
    with consist.scenario("quiet", tracker=tracker) as sc:
        sc.require_outputs("zarr_skims")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with sc.trace("make"):
                log_frame("zarr_skims")
                log_frame("extra")
    with consist.scenario("loud", tracker=tracker) as sc:
        sc.require_outputs(
            "zarr_skims", warn_undocumented=True, description={"zarr_skims": "travel times"}
        )
        expected = r"'zar_skims'.*did you mean 'zarr_skims'"
        with pytest.warns(UndocumentedCouplerKey, match=expected), sc.trace("make"):
            log_frame("zar_skims")
            log_frame("zarr_skims")


def test_declare_outputs_with_per_key_flags(tracker: Any) -> None:
    """declare_outputs: only keys flagged required are reported missing."""
    with consist.scenario("declared", tracker=tracker) as sc:
        sc.declare_outputs("skims", "population", required={"skims": True})
        sc.declare_outputs("debug_report", required={"debug_report": False})
        assert sc.coupler.missing_declared_outputs() == ["skims"]
        with sc.trace("make"):
            log_frame("skims")
        assert sc.coupler.missing_declared_outputs() == []
        with pytest.raises(InvalidInput, match="typo"):
            sc.declare_outputs("skims", required={"typo": True})
        declared = sc.coupler.declared_outputs()
    assert {k: d.required for k, d in declared.items()} == {
        "skims": True,
        "population": False,
        "debug_report": False,
    }


@consist.coupler_schema
class WorkflowCoupler:
    """Keys of the workflow, typed."""

    zones: consist.Artifact
    population: consist.Artifact
    debug: consist.Artifact | None = None


def test_coupler_schema_gives_typed_attribute_access(tracker: Any) -> None:
    """Attributes of a schema view read and write coupler keys."""
    with consist.scenario("schema", tracker=tracker) as sc:
        typed = sc.coupler_schema(WorkflowCoupler)
        with sc.trace("make"):
            zones = log_frame("zones")
            other = log_frame("people")
        assert typed.zones.id == zones.id
        assert typed.debug is None  # optional: unset reads as None
        with pytest.raises(UnknownCouplerKey, match="population"):
            _ = typed.population
        typed.population = other
        assert sc.coupler.require("population").id == other.id
        assert isinstance(typed, WorkflowCoupler)


def test_schema_keys_count_as_documented(tracker: Any) -> None:
    """Keys named by a schema do not trigger the undocumented-key warning."""
    with consist.scenario("schema-docs", tracker=tracker) as sc:
        sc.require_outputs("zones", warn_undocumented=True)
        sc.coupler_schema(WorkflowCoupler)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with sc.trace("make"):
                log_frame("population")
                log_frame("zones")


def test_undecorated_schema_is_refused() -> None:
    """A plain class is not a schema; the error says to decorate it."""

    class Plain:
        zones: consist.Artifact

    with pytest.raises(InvalidInput, match="coupler_schema"):
        consist.scenario("x").coupler.view(Plain)
    with pytest.raises(InvalidInput, match="only default allowed is None"):

        @consist.coupler_schema
        class Defaulted:
            zones: str = "not an artifact"


def test_collect_by_keys_picks_outputs(tracker: Any) -> None:
    """collect_by_keys puts the named outputs in the coupler, and refuses absent ones."""

    def produce() -> dict[str, pd.DataFrame]:
        return {"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"x": [2]})}

    with consist.scenario("collect", tracker=tracker) as sc:
        result = consist.run(produce, tracker=tracker, name="produce")  # not a scenario step
        assert "a" not in sc.coupler
        collected = sc.collect_by_keys(result.outputs, "a")
        assert list(collected) == ["a"] and sc.coupler.keys() == ["a"]
        with pytest.raises(UnknownCouplerKey, match=r"'c'.*a, b"):
            sc.collect_by_keys(result.outputs, "c")
        sc.collect_by_keys(result.outputs)
        assert sc.coupler.keys() == ["a", "b"]


def test_log_artifacts_with_common_and_per_key_metadata(tracker: Any, tmp_path: Path) -> None:
    """sc.log_artifacts logs to the current step, merges metadata, fills the coupler."""
    files = {}
    for key in ("persons", "households"):
        files[key] = tmp_path / f"{key}.csv"
        files[key].write_text("id\n1\n")
    with consist.scenario("bulk", tracker=tracker) as sc, sc.trace("publish", year=2030) as step:
        logged = sc.log_artifacts(
            files, metadata_by_key={"households": {"role": "primary_unit"}}, year=2030
        )
    assert sorted(sc.coupler.keys()) == ["households", "persons"]
    assert logged["households"].meta == {"role": "primary_unit", "year": 2030}
    assert logged["persons"].meta == {"year": 2030}
    outputs = tracker.get_artifacts_for_run(step.run_id).outputs
    assert sorted(outputs) == ["households", "persons"]


def test_scenario_level_files_feed_steps_by_content(tracker: Any, tmp_path: Path) -> None:
    """A file logged on the scenario's own run identifies by its bytes, pass after pass."""
    calls = []

    def count(table: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(table))
        return table

    source = tmp_path / "table.csv"
    for content in ("x\n1\n", "x\n1\n", "x\n1\n2\n"):
        source.write_text(content)
        with consist.scenario("header-files", tracker=tracker) as sc:
            sc.log_artifacts({"table": source})
            sc.run("count", count, inputs=["table"], outputs=["counted"])
    assert calls == [1, 2]  # the unchanged second pass was a hit
    header = tracker.get_artifacts_for_run("header-files")
    assert header.outputs["table"].id == sc.coupler.require("table").id
