"""Seed 002 (usage guide), Cache Hydration Options, as one parametrized behaviour test.

The guide: cache hits are metadata-only by default (no file copies);
``outputs-requested`` copies only the outputs asked for to the paths given;
``outputs-all`` copies every cached output into a target directory;
``inputs-missing`` backfills missing inputs from prior runs before executing on
a miss. Each mode is set per run (``cache_hydration=...``) or for a scenario's
steps (``step_cache_hydration=...``); both ways are run here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist

CALLS: list[str] = []


def produce(config: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    CALLS.append("produce")
    scale = int(config["scale"])
    return {
        "a": pd.DataFrame({"x": [1 * scale, 2 * scale]}),
        "b": pd.DataFrame({"y": [3 * scale]}),
    }


def consume(a: Path) -> dict[str, pd.DataFrame]:
    CALLS.append("consume")
    return {"total": pd.DataFrame({"total": [int(pd.read_parquet(a)["x"].sum())]})}


def step(tracker: Any, via: str, fn: Callable[..., Any], mode: str | None, **options: Any) -> Any:
    """One step with ``mode``: ``tracker.run(cache_hydration=mode)`` or in a scenario
    whose ``step_cache_hydration`` is ``mode``."""
    if via == "run":
        return tracker.run(fn=fn, cache_hydration=mode, **options)
    with consist.scenario(
        f"scenario-{len(CALLS)}-{fn.__name__}", tracker=tracker, step_cache_hydration=mode
    ) as sc:
        result = sc.run(name=fn.__name__, fn=fn, **options)
    return result


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.suffix == ".parquet")


def metadata_only(tracker: Any, via: str, tmp: Path) -> None:
    first = step(tracker, via, produce, None, config={"scale": 1})
    hit = step(tracker, via, produce, None, config={"scale": 1})
    assert hit.cache_hit and CALLS == ["produce"]
    assert hit.hydrated == {}
    assert files_in(tracker.run_dir / hit.run.id) == [], "no file is copied by default"
    assert files_in(tracker.run_dir / first.run.id) == ["a.parquet", "b.parquet"]


def outputs_requested(tracker: Any, via: str, tmp: Path) -> None:
    step(tracker, via, produce, None, config={"scale": 1})
    wanted = tmp / "wanted" / "my_a.parquet"
    hit = step(
        tracker,
        via,
        produce,
        "outputs-requested",
        config={"scale": 1},
        hydration_paths={"a": wanted},
    )
    assert hit.cache_hit and CALLS == ["produce"]
    assert hit.hydrated == {"a": wanted}
    assert pd.read_parquet(wanted)["x"].tolist() == [1, 2]
    assert files_in(tmp / "wanted") == ["my_a.parquet"], "b was not requested"
    assert files_in(tracker.run_dir / hit.run.id) == []


def outputs_all(tracker: Any, via: str, tmp: Path) -> None:
    step(tracker, via, produce, None, config={"scale": 1})
    target = tmp / "all"
    hit = step(tracker, via, produce, "outputs-all", config={"scale": 1}, hydration_dir=target)
    assert hit.cache_hit and CALLS == ["produce"]
    assert files_in(target) == ["a.parquet", "b.parquet"]
    assert pd.read_parquet(target / "b.parquet")["y"].tolist() == [3]
    assert set(hit.hydrated) == {"a", "b"}


def outputs_all_into_the_run_directory(tracker: Any, via: str, tmp: Path) -> None:
    step(tracker, via, produce, None, config={"scale": 1})
    hit = step(tracker, via, produce, "outputs-all", config={"scale": 1})
    assert hit.cache_hit and CALLS == ["produce"]
    assert files_in(tracker.run_dir / hit.run.id) == ["a.parquet", "b.parquet"]


def inputs_missing(tracker: Any, via: str, tmp: Path) -> None:
    first = step(tracker, via, produce, None, config={"scale": 1})
    # A prior run holds the same bytes elsewhere (produced again, not cached).
    again = step(tracker, via, produce, None, config={"scale": 1}, cache_mode="overwrite")
    a = first.outputs["a"]
    original = tracker.artifact_path(a)
    original.unlink()
    assert tracker.artifact_path(again.outputs["a"]).exists()

    result = step(tracker, via, consume, "inputs-missing", inputs={"a": a}, load_inputs=False)
    assert not result.cache_hit and CALLS == ["produce", "produce", "consume"]
    assert original.exists(), "the missing input was restored where it belongs"
    assert consist.load(result.outputs["total"], tracker=tracker)["total"].tolist() == [3]


def inputs_missing_off(tracker: Any, via: str, tmp: Path) -> None:
    """Without inputs-missing the deleted input stays deleted and the step cannot read it."""
    first = step(tracker, via, produce, None, config={"scale": 1})
    step(tracker, via, produce, None, config={"scale": 1}, cache_mode="overwrite")
    original = tracker.artifact_path(first.outputs["a"])
    original.unlink()
    with pytest.raises(Exception, match=r"a\.parquet"):
        step(tracker, via, consume, None, inputs={"a": first.outputs["a"]}, load_inputs=False)
    assert not original.exists()


CASES = {
    "metadata-only by default": metadata_only,
    "outputs-requested": outputs_requested,
    "outputs-all into a directory": outputs_all,
    "outputs-all into the run's own directory": outputs_all_into_the_run_directory,
    "inputs-missing": inputs_missing,
    "no inputs-missing": inputs_missing_off,
}


@pytest.mark.parametrize("via", ["run", "scenario"])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_cache_hydration_option(workdir: Path, case: Any, via: str) -> None:
    """Each hydration option copies exactly what the guide says, per run and per scenario."""
    CALLS.clear()
    with consist.Tracker(run_dir="./runs", db_path="./provenance.duckdb") as tracker:
        case(tracker, via, workdir)
