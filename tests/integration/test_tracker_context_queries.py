"""The context stack and the query API."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist.domain.errors import AmbiguousMatch, InvalidInput, NoActiveTracker, NotFound


def test_module_functions_need_an_active_tracker() -> None:
    with pytest.raises(NoActiveTracker, match="use_tracker"):
        consist.find_runs()
    with pytest.raises(NoActiveTracker, match="start_run"):
        consist.log_artifact("x.csv")


def test_use_tracker_nests_and_unwinds(make_tracker: Any, tmp_path: Path) -> None:
    outer = make_tracker()
    inner = make_tracker(run_dir=tmp_path / "other")
    with consist.use_tracker(outer):
        assert consist.current_tracker() is outer
        with consist.use_tracker(inner):
            assert consist.current_tracker() is inner
        assert consist.current_tracker() is outer


def test_context_is_isolated_between_threads(tracker: Any) -> None:
    """A run entered in one thread is not the current run of another."""
    seen: dict[str, Any] = {}

    def other_thread() -> None:
        try:
            consist.current_run()
        except NoActiveTracker:
            seen["other"] = None

    with tracker.start_run("t", model="m") as run:
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        seen["main"] = consist.current_run()
    assert seen == {"other": None, "main": run}


def test_context_is_isolated_between_asyncio_tasks(make_tracker: Any, tmp_path: Path) -> None:
    trackers = [make_tracker(run_dir=tmp_path / f"r{i}") for i in range(2)]

    async def use(t: Any) -> bool:
        with consist.use_tracker(t):
            await asyncio.sleep(0.01)
            return consist.current_tracker() is t

    async def main() -> list[bool]:
        return await asyncio.gather(*(use(t) for t in trackers))

    assert asyncio.run(main()) == [True, True]


def _three_years(tracker: Any) -> None:
    with tracker.start_run("scen", model="scenario"):
        pass
    for year in (2020, 2030, 2040):
        with tracker.start_run(
            f"sim_{year}", model="simulate", year=year, parent_run_id="scen", tags=["baseline"]
        ):
            consist.log_dataframe(pd.DataFrame({"year": [year]}), key="persons")


def test_find_run_and_find_runs(tracker: Any) -> None:
    _three_years(tracker)
    with consist.use_tracker(tracker):
        run = consist.find_run(parent_id="scen", year=2030, model="simulate")
        assert run.id == "sim_2030"
        by_year = consist.find_runs(parent_id="scen", model="simulate", index_by="year")
        assert sorted(by_year) == [2020, 2030, 2040]
        assert [r.id for r in consist.find_runs(model="simulate")] == [
            "sim_2040",
            "sim_2030",
            "sim_2020",
        ]
        assert len(consist.find_runs(tags=["baseline"], limit=2)) == 2
        with pytest.raises(NotFound):
            consist.find_run(year=1999)
        with pytest.raises(AmbiguousMatch, match="3 runs"):
            consist.find_run(model="simulate")
        for missing_runs in ({"model": "simulate"}, {"model": "no such step"}):
            with pytest.raises(InvalidInput, match="'yaer' is not a field of Run"):
                consist.find_runs(**missing_runs, index_by="yaer")


def test_artifacts_for_run_and_load(tracker: Any) -> None:
    _three_years(tracker)
    persons = tracker.get_artifacts_for_run("sim_2030").outputs["persons"]
    assert consist.load(persons, tracker=tracker)["year"].tolist() == [2030]
    assert tracker.get_artifacts_for_run("sim_2030").inputs == {}


def test_lineage_upstream_and_downstream(tracker: Any) -> None:
    with tracker.start_run("a", model="prep"):
        first = consist.log_dataframe(pd.DataFrame({"x": [1]}), key="first")
    with tracker.start_run("b", model="mid"):
        consist.log_artifact(first, direction="input")
        second = consist.log_dataframe(pd.DataFrame({"x": [2]}), key="second")
    with tracker.start_run("c", model="end"):
        consist.log_artifact(second, direction="input")
    up = tracker.lineage("c", "upstream")
    assert [n.id for n in up.walk() if n.kind == "run"] == ["c", "b", "a"]
    down = tracker.lineage(first, "downstream")
    assert [n.id for n in down.walk() if n.kind == "run"] == ["b", "c"]
    assert tracker.get_producer(second).id == "b"
