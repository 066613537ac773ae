"""Facets through real catalogs: typed key/value rows and pivot_facets wide tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import BaseModel
from sqlalchemy import column, select, table

import consist
from consist.domain.errors import InvalidInput, NotFound

SQL_CATALOGS = {
    "duckdb": "duckdb:///{tmp}/provenance.duckdb",
    "sqlite": "sqlite:///{tmp}/provenance.sqlite",
}
SWEEP = [
    {"alpha": 1, "beta": 0.5, "mode": "car", "toll": True},
    {"alpha": 2, "beta": 1.5, "mode": "transit", "toll": False},
    {"alpha": 3, "beta": 2.5, "mode": "walk", "toll": True},
]


@pytest.fixture(params=sorted(SQL_CATALOGS))
def tracker(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = SQL_CATALOGS[request.param].format(tmp=tmp_path)
    with consist.Tracker(
        tmp_path / "runs", catalog=url, code_identity="function", project_dir=tmp_path
    ) as made:
        yield made


def simulate(config: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({"trips": [config["alpha"] * 10]})


def sweep(tracker: Any) -> dict[str, str]:
    """One scenario, one simulate step per parameter set; returns mode -> run id."""
    ids = {}
    with consist.scenario("sweep", tracker=tracker) as sc:
        for params in SWEEP:
            result = sc.run(
                "simulate", simulate, config=params, facet=params, outputs=["trips"], year=2030
            )
            ids[str(params["mode"])] = result.run_id
    return ids


def kv_rows(tracker: Any, kv: str, owner: str, owner_id: str) -> dict[str, dict[str, Any]]:
    frame = consist.run_query(
        f"SELECT * FROM {kv} WHERE {owner} = '{owner_id}' ORDER BY key", tracker=tracker
    )
    return {row["key"]: row for row in frame.to_dict("records")}


def test_run_facet_values_are_typed_and_dotted_keys_escaped(tracker: Any) -> None:
    """Every value type lands in its own column; a dot inside a key is escaped."""
    facet = {
        "name": "car",
        "count": 3,
        "share": 0.25,
        "toll": False,
        "missing": None,
        "zones": [1, 2],
        "cost": {"fuel.per_km": 1.5, "parking": 4},
    }
    with consist.scenario("typed", tracker=tracker) as sc, sc.trace("assign", facet=facet) as step:
        pass
    rows = kv_rows(tracker, "run_config_kv", "run_id", step.run_id)
    assert {k: r["value_type"] for k, r in rows.items()} == {
        "cost.fuel\\.per_km": "float",
        "cost.parking": "int",
        "count": "int",
        "missing": "null",
        "name": "str",
        "share": "float",
        "toll": "bool",
        "zones": "json",
    }
    assert all(r["namespace"] == "assign" for r in rows.values())
    assert rows["name"]["value_str"] == "car"
    assert rows["count"]["value_int"] == 3
    assert rows["share"]["value_float"] == 0.25
    assert rows["toll"]["value_bool"] == False  # noqa: E712 - SQLite stores 0
    assert rows["cost.fuel\\.per_km"]["value_float"] == 1.5
    assert json.loads(rows["zones"]["value_json"]) == [1, 2]
    missing = rows["missing"]
    assert all(pd.isna(missing[f"value_{t}"]) for t in ("str", "int", "float", "bool", "json"))


class Assignment(BaseModel):
    mode: str
    iterations: int


def test_pydantic_facet_is_stored_once_per_namespace(tracker: Any) -> None:
    """A pydantic facet is flattened like a dict; equal facets share one config_facet row."""
    with consist.scenario("dedupe", tracker=tracker) as sc:
        for _ in range(2):
            with sc.trace("assign", facet=Assignment(mode="car", iterations=5)):
                pass
    facets = consist.run_query(
        "SELECT namespace, facet FROM config_facet WHERE namespace = 'assign'", tracker=tracker
    )
    assert len(facets) == 1
    assert json.loads(facets["facet"][0]) == {"iterations": 5, "mode": "car"}


def test_facets_do_not_change_the_signature(tracker: Any) -> None:
    """Same config, other facet: a cache hit that records the new facet."""
    calls = []

    def step(config: dict[str, Any]) -> pd.DataFrame:
        calls.append(1)
        return pd.DataFrame({"x": [1]})

    with consist.scenario("nosig", tracker=tracker) as sc:
        first = sc.run("step", step, config={"a": 1}, facet={"label": "first"}, outputs=["x"])
        second = sc.run("step", step, config={"a": 1}, facet={"label": "second"}, outputs=["x"])
    assert (first.cache_hit, second.cache_hit, len(calls)) == (False, True, 1)
    assert tracker.get_run(second.run_id).facet == {"label": "second"}


def test_pivot_facets_builds_a_typed_wide_table(tracker: Any) -> None:
    """One row per run, one column per key, each from its typed value column."""
    ids = sweep(tracker)
    params = consist.pivot_facets(
        namespace="simulate", keys=["alpha", "beta", "mode", "toll"], tracker=tracker
    )
    rows = consist.run_query(
        select(params.c.run_id, params.c.alpha, params.c.beta, params.c.mode, params.c.toll),
        tracker=tracker,
    ).sort_values("alpha")
    assert list(rows.columns) == ["run_id", "alpha", "beta", "mode", "toll"]
    assert rows["run_id"].tolist() == [ids["car"], ids["transit"], ids["walk"]]
    assert rows["alpha"].tolist() == [1, 2, 3]
    assert pd.api.types.is_integer_dtype(rows["alpha"])
    assert pd.api.types.is_float_dtype(rows["beta"]) and rows["beta"].tolist() == [0.5, 1.5, 2.5]
    assert rows["mode"].tolist() == ["car", "transit", "walk"]
    assert [bool(v) for v in rows["toll"]] == [True, False, True]
    if tracker.sql_dialect != "sqlite":  # SQLite has no boolean type: 0/1 there
        assert pd.api.types.is_bool_dtype(rows["toll"])


def test_pivot_facets_joins_with_runs_and_filters(tracker: Any) -> None:
    """The pivot joins the runs table on run_id and filters like any table."""
    sweep(tracker)
    params = consist.pivot_facets("simulate", ["alpha", "mode"], tracker=tracker)
    runs = table("runs", column("id"), column("parent_run_id"), column("year"))
    query = (
        select(runs.c.parent_run_id, runs.c.year, params.c.mode)
        .join(params, params.c.run_id == runs.c.id)
        .where(params.c.alpha >= 2)
        .order_by(params.c.mode)
    )
    rows = consist.run_query(query, tracker=tracker)
    assert rows.to_dict("records") == [
        {"parent_run_id": "sweep", "year": 2030, "mode": "transit"},
        {"parent_run_id": "sweep", "year": 2030, "mode": "walk"},
    ]


def test_value_columns_override_and_mixed_types(tracker: Any) -> None:
    """A key stored with several types needs value_columns; int+float read as float."""
    with consist.scenario("mixed", tracker=tracker) as sc:
        for value, weight in (("fast", 1), (7, 2.5)):
            with sc.trace("calibrate", facet={"label": value, "weight": weight}):
                pass
    with pytest.raises(InvalidInput, match=r"'label'.*value_columns"):
        consist.pivot_facets("calibrate", ["label"], tracker=tracker)
    params = consist.pivot_facets(
        "calibrate", ["label", "weight"], value_columns={"label": "value_str"}, tracker=tracker
    )
    rows = consist.run_query(select(params.c.label, params.c.weight), tracker=tracker)
    rows = rows.sort_values("weight")
    assert rows["weight"].tolist() == [1.0, 2.5]
    assert rows["label"].tolist()[0] == "fast" and pd.isna(rows["label"].tolist()[1])
    with pytest.raises(InvalidInput, match="choose one of"):
        consist.pivot_facets(
            "calibrate", ["label"], value_columns={"label": "text"}, tracker=tracker
        )


def test_unknown_key_lists_the_namespace_keys(tracker: Any) -> None:
    """A typo in a key is an error naming the keys the namespace has."""
    sweep(tracker)
    with pytest.raises(NotFound, match=r"'alfa'.*alpha, beta, mode, toll"):
        consist.pivot_facets("simulate", ["alfa"], tracker=tracker)


def test_artifact_facets_are_typed_and_pivoted(tracker: Any) -> None:
    """log_artifact(facet=...) lands in artifact_kv, namespaced by the artifact key."""
    with consist.scenario("artifacts", tracker=tracker) as sc:
        for period, minutes in (("am", 12.5), ("pm", 15.0)):
            with sc.trace("skim", period=period):
                frame = pd.DataFrame({"minutes": [minutes]})
                consist.log_dataframe(
                    frame, key="skims", facet={"period": period, "peak": period == "am"}
                )
    skims = sc.coupler.require("skims")
    rows = kv_rows(tracker, "artifact_kv", "artifact_id", skims.id)
    assert rows["period"]["namespace"] == "skims"
    assert rows["period"]["value_str"] == "pm" and rows["peak"]["value_type"] == "bool"
    params = consist.pivot_facets("skims", ["period", "peak"], of="artifact", tracker=tracker)
    wide = consist.run_query(select(params), tracker=tracker).sort_values("period")
    assert list(wide.columns) == ["artifact_id", "period", "peak"]
    assert wide["period"].tolist() == ["am", "pm"]
    assert [bool(v) for v in wide["peak"]] == [True, False]


def test_pivot_needs_a_catalog_that_speaks_sql(tmp_path: Path) -> None:
    """The in-memory catalog cannot pivot; the error says which catalogs can."""
    memory = consist.Tracker(tmp_path / "runs", catalog="memory://")
    with memory, pytest.raises(InvalidInput, match="DuckDB or SQLite"):
        consist.pivot_facets("simulate", ["alpha"], tracker=memory)


def test_pivot_facets_without_a_tracker_is_completed_by_the_one_running_it(tracker: Any) -> None:
    """No tracker at build time: run_query's tracker picks each key's typed column."""
    ids = sweep(tracker)
    params = consist.pivot_facets(namespace="simulate", keys=["alpha", "beta", "mode", "toll"])
    frame = consist.run_query(
        select(params.c.run_id, params.c.alpha, params.c.beta, params.c.mode, params.c.toll),
        tracker=tracker,
    ).sort_values("alpha")
    assert frame["run_id"].tolist() == [ids["car"], ids["transit"], ids["walk"]]
    assert frame["alpha"].tolist() == [1, 2, 3]
    assert frame["beta"].tolist() == [0.5, 1.5, 2.5]
    assert frame["mode"].tolist() == ["car", "transit", "walk"]
    assert [bool(v) for v in frame["toll"]] == [True, False, True]

    unknown = consist.pivot_facets(namespace="simulate", keys=["gamma"])
    with pytest.raises(NotFound, match="gamma"):
        consist.run_query(select(unknown.c.gamma), tracker=tracker)
