"""tracker.map and sc.map in this process and on a process pool: hits decided on the
client, misses executed, failures recorded and never cached, chains linked."""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.fanout_steps import dies_once, fails_on, grow, interrupted, square

import consist
from consist.domain.errors import InvalidInput
from consist.services.steps.fanout import MapStopped

OUT = {"outputs": ["out"], "output_paths": {"out": "out.txt"}}


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Any]:
    with consist.Tracker(
        tmp_path / "runs", db_path=tmp_path / "p.duckdb", code_identity="function"
    ) as tracker:
        yield tracker


@pytest.fixture(scope="module")
def pool() -> Iterator[cf.ProcessPoolExecutor]:
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        yield pool


def calls(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("executor", ["inprocess", "pool"])
def test_map_runs_every_item_and_answers_in_item_order(
    tracker: Any, tmp_path: Path, pool: Any, executor: str
) -> None:
    """Each item is one completed run whose output holds that item's answer."""
    chosen = pool if executor == "pool" else None
    results = tracker.map(square, [3, 1, 2, 5], config=lambda x: {"x": x}, executor=chosen, **OUT)
    assert [r.status for r in results] == ["completed"] * 4
    assert [r.item for r in results] == [3, 1, 2, 5]
    texts = [tracker.artifact_path(r.outputs["out"]).read_text() for r in results]
    assert texts == ["9", "1", "4", "25"]
    assert results.submitted == 4
    assert len({r.run_id for r in results}) == 4
    runs = [tracker.get_run(r.run_id) for r in results]
    assert [(run.status, run.config["x"]) for run in runs] == [
        ("completed", x) for x in [3, 1, 2, 5]
    ]
    workers = {run.meta["executed_on"]["pid"] for run in runs}
    assert (workers == {os.getpid()}) == (executor == "inprocess")


def test_second_map_is_all_hits_and_submits_nothing(
    tracker: Any, tmp_path: Path, pool: Any
) -> None:
    """The client signs every item first: hits never reach the executor."""
    (tmp_path / "calls").mkdir()
    config = lambda x: {"x": x, "calls_dir": str(tmp_path / "calls")}  # noqa: E731
    first = tracker.map(square, range(8), config=config, executor=pool, **OUT)
    second = tracker.map(square, range(8), config=config, executor=pool, **OUT)
    assert first.submitted == 8 and second.submitted == 0
    assert [r.status for r in second] == ["cached"] * 8
    assert [r.result.cached_from for r in second] == [r.run_id for r in first]
    assert len(calls(tmp_path / "calls")) == 8


@pytest.mark.parametrize("progress", [True, False])
def test_progress_goes_to_stderr_when_asked(tmp_path: Path, progress: bool) -> None:
    """progress=True draws the bar on stderr (even off a terminal); False keeps quiet."""
    program = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path.cwd())!r})
        import consist
        from tests.support.fanout_steps import square
        with consist.Tracker({str(tmp_path / "runs")!r}, db_path={str(tmp_path / "p.duckdb")!r},
                             code_identity="function") as t:
            t.map(square, range(3), config=lambda x: {{"x": x}}, outputs=["out"],
                  output_paths={{"out": "out.txt"}}, progress={progress})
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ("map square" in done.stderr) == progress
    assert "map square" not in done.stdout


def test_a_later_process_gets_the_hits(tmp_path: Path) -> None:
    """A map in a fresh process finds the runs of an earlier process and runs nothing."""
    program = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(Path.cwd())!r})
        import consist
        from tests.support.fanout_steps import square
        with consist.Tracker({str(tmp_path / "runs")!r}, db_path={str(tmp_path / "p.duckdb")!r},
                             code_identity="function") as t:
            r = t.map(square, range(5), config=lambda x: {{"x": x}}, executor="processes",
                      outputs=["out"], output_paths={{"out": "out.txt"}}, progress=False)
            print(json.dumps([r.submitted, [x.status for x in r]]))
        """
    )

    def run() -> list[Any]:
        done = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True
        )
        return list(json.loads(done.stdout.strip().splitlines()[-1]))

    assert run() == [5, ["completed"] * 5]
    assert run() == [0, ["cached"] * 5]


@pytest.mark.parametrize("executor", ["inprocess", "pool"])
def test_a_failing_item_is_recorded_failed_while_the_others_finish(
    tracker: Any, pool: Any, executor: str
) -> None:
    """No exception escapes; the failed run is in the catalog and is not a hit later."""
    chosen = pool if executor == "pool" else None
    config = lambda x: {"x": x, "bad": 2}  # noqa: E731
    first = tracker.map(fails_on, range(5), config=config, executor=chosen, **OUT)
    assert [r.status for r in first] == [
        "completed",
        "completed",
        "failed",
        "completed",
        "completed",
    ]
    failed = first[2]
    assert (failed.error_type, failed.error) == ("ValueError", "item 2 is bad")
    assert tracker.get_run(failed.run_id).status == "failed"
    assert first.failed == [failed]
    again = tracker.map(fails_on, range(5), config=config, executor=chosen, **OUT)
    assert again.submitted == 1 and [r.status for r in again].count("cached") == 4
    assert again[2].status == "failed" and again[2].run_id != failed.run_id


def test_fail_fast_stops_at_the_first_failure(tracker: Any) -> None:
    """Items after the failure do not run; MapStopped carries every item's result."""
    with pytest.raises(MapStopped, match=r"items\[1\] failed with ValueError") as stopped:
        tracker.map(fails_on, range(4), config=lambda x: {"x": x, "bad": 1}, fail_fast=True, **OUT)
    statuses = [r.status for r in stopped.value.results]
    assert statuses == ["completed", "failed", "cancelled", "cancelled"]
    assert len(tracker.find_runs(model="fails_on")) == 2


def test_a_dying_pool_worker_fails_its_item(tracker: Any, tmp_path: Path) -> None:
    """A process pool cannot reschedule: the item whose worker died fails (WorkerLost)."""
    config = lambda x: {"x": x, "victim": 0, "marker": str(tmp_path / "m")}  # noqa: E731
    with cf.ProcessPoolExecutor(max_workers=1) as pool:
        results = tracker.map(dies_once, range(1), config=config, executor=pool, **OUT)
    assert results[0].status == "failed" and results[0].error_type == "WorkerLost"
    assert tracker.get_run(results[0].run_id).status == "failed"


def test_items_can_be_mappings_of_run_options(tracker: Any) -> None:
    """Without a callable option, each item is a mapping of per-item run options."""
    items = [{"config": {"x": 2}, "year": 2030}, {"config": {"x": 3}, "year": 2035}]
    results = tracker.map(square, items, **OUT)
    assert [tracker.get_run(r.run_id).year for r in results] == [2030, 2035]
    assert [r.result.run.config["x"] for r in results] == [2, 3]


@pytest.mark.parametrize(
    ("items", "options", "match"),
    [
        ([1, 2], {}, r"items\[0\] is 1: without a callable option"),
        ([{"price": 2}], {}, r"items\[0\] has keys \['price'\]"),
        ([1], {"config": lambda x: {"x": x}, "executor": "threads"}, "executor must be"),
        ([1], {"config": lambda x: {"x": x}, "chain": 3}, "chain must be"),
    ],
)
def test_bad_map_arguments_are_refused_before_anything_runs(
    tracker: Any, items: list[Any], options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInput, match=match):
        tracker.map(square, items, **{**OUT, **options})
    assert tracker.find_runs() == []


def test_remote_executors_refuse_an_injected_context(tracker: Any, pool: Any) -> None:
    with pytest.raises(InvalidInput, match="inject_context and capture_dir"):
        tracker.map(square, [1], config=lambda x: {"x": x}, executor=pool, inject_context=True)


@pytest.mark.parametrize("executor", ["inprocess", "pool"])
def test_a_year_chain_feeds_each_year_into_the_next(
    tracker: Any, tmp_path: Path, pool: Any, executor: str
) -> None:
    """chain= links year N's output to year N+1's input (Merkle): a change upstream
    misses every later year, and an unchanged chain is all hits."""
    chosen = pool if executor == "pool" else None
    (tmp_path / "base.txt").write_text("1000")

    def sweep(rate_2020: int) -> Any:
        return tracker.map(
            grow,
            [2020, 2021, 2022],
            year=lambda y: y,
            config=lambda y: {"rate": rate_2020 if y == 2020 else 10},
            inputs={"population": tmp_path / "base.txt"},
            outputs=["population"],
            output_paths={"population": "population.txt"},
            chain="population",
            executor=chosen,
        )

    first = sweep(10)
    people = [tracker.artifact_path(r.outputs["population"]).read_text() for r in first]
    assert people == ["1100", "1210", "1331"]
    for earlier, later in itertools.pairwise(first):
        fed = tracker.get_artifacts_for_run(later.run_id).inputs["population"]
        assert fed.id == earlier.outputs["population"].id
        assert tracker.get_run(later.run_id).parent_run_id is None
    assert [r.status for r in sweep(10)] == ["cached"] * 3
    changed = sweep(20)
    assert [r.status for r in changed] == ["completed"] * 3
    assert tracker.artifact_path(changed[2].outputs["population"]).read_text() == "1452"


def test_a_chain_skips_what_follows_a_failed_year(tracker: Any, tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("not a number")
    results = tracker.map(
        grow,
        [2020, 2021],
        year=lambda y: y,
        config={"rate": 10},
        inputs={"population": tmp_path / "base.txt"},
        outputs=["population"],
        output_paths={"population": "population.txt"},
        chain="population",
    )
    assert [r.status for r in results] == ["failed", "skipped"]
    assert results[1].error == "items[0] did not complete (failed)"


def test_scenario_map_puts_outputs_in_the_coupler_and_records_steps(
    tracker: Any, pool: Any
) -> None:
    with consist.scenario("sweep", tracker=tracker) as sc:
        results = sc.map(square, [1, 2, 3], config=lambda x: {"x": x}, executor=pool, **OUT)
        assert sc.coupler.get("out").id == results[2].outputs["out"].id
    assert [s["status"] for s in sc.steps] == ["completed"] * 3
    assert {tracker.get_run(r.run_id).parent_run_id for r in results} == {"sweep"}


def test_an_interrupted_map_leaves_no_run_running(tracker: Any) -> None:
    """Ctrl-C inside an item propagates, and the run it had opened is ended, not left
    'running' for the next process to find."""
    with pytest.raises(KeyboardInterrupt):
        tracker.map(interrupted, [1, 2], config=lambda x: {"x": x}, **OUT)
    runs = tracker.find_runs(model="interrupted")
    assert [str(r.status) for r in runs] == ["failed"]


def test_pool_workers_store_outputs_in_the_blob_store(tmp_path: Path, pool: Any) -> None:
    """With a blob store, the worker that wrote an output stores it; the client records
    the digest and has nothing left to archive."""
    with consist.Tracker(
        tmp_path / "runs",
        db_path=tmp_path / "p.duckdb",
        code_identity="function",
        blobs=str(tmp_path / "blobs"),
    ) as tracker:
        results = tracker.map(square, [4, 5], config=lambda x: {"x": x}, executor=pool, **OUT)
        for result in results:
            out = result.outputs["out"]
            assert out.meta["blob_digest"] == out.content_hash
            assert tracker.get_run(result.run_id).meta["executed_on"]["uploaded"] == 1
            assert tracker.blobs.exists(out.content_hash)


def test_scenario_map_chains_years_from_a_coupler_key(tracker: Any, tmp_path: Path) -> None:
    """In a scenario the chain starts from a coupler key and every year is a step."""
    (tmp_path / "base.txt").write_text("1000")
    with consist.scenario("growth", tracker=tracker) as sc:
        sc.run("seed", lambda: tmp_path / "base.txt", outputs=["population"])
        years = sc.map(
            grow,
            [2030, 2031],
            year=lambda y: y,
            config={"rate": 10},
            inputs={"population": "population"},
            outputs=["population"],
            output_paths={"population": "population.txt"},
            chain="population",
        )
    assert [tracker.artifact_path(r.outputs["population"]).read_text() for r in years] == [
        "1100", "1210",
    ]  # fmt: skip
    assert sc.coupler.get("population").id == years[1].outputs["population"].id
    assert [s["year"] for s in sc.steps] == [None, 2030, 2031]
