"""tracker.map on a real Dask cluster (LocalCluster, 2 worker processes): only misses
reach the scheduler, a failure or a dead worker never double-records, chains stay
linked, and outputs reach S3 (moto on loopback) from the workers."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.dask_cluster import task_counts
from tests.support.fanout_steps import dies_once, fails_on, grow, slow_unless_bad, square

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


def test_a_sweep_of_16_runs_on_the_workers_and_a_rerun_submits_nothing(
    tracker: Any, dask_client: Any, tmp_path: Path
) -> None:
    """16 misses become 16 scheduler tasks run by worker processes; the same sweep
    again is 16 hits served by the client, with no task reaching the scheduler."""
    before = task_counts(dask_client)
    first = tracker.map(square, range(16), config=lambda x: {"x": x}, executor=dask_client, **OUT)
    assert [r.status for r in first] == ["completed"] * 16
    texts = [tracker.artifact_path(r.outputs["out"]).read_text() for r in first]
    assert texts == [str(x * x) for x in range(16)]
    ran = set(task_counts(dask_client)) - set(before)
    assert len(ran) == 16 and first.submitted == 16
    pids = {tracker.get_run(r.run_id).meta["executed_on"]["pid"] for r in first}
    assert os.getpid() not in pids
    assert len(tracker.find_runs(model="square")) == 16

    counted = task_counts(dask_client)
    again = tracker.map(square, range(16), config=lambda x: {"x": x}, executor=dask_client, **OUT)
    assert [r.status for r in again] == ["cached"] * 16
    assert task_counts(dask_client) == counted and again.submitted == 0
    assert [r.result.cached_from for r in again] == [r.run_id for r in first]


def test_one_failing_item_fails_alone(tracker: Any, dask_client: Any) -> None:
    results = tracker.map(
        fails_on, range(6), config=lambda x: {"x": x, "bad": 4}, executor=dask_client, **OUT
    )
    assert [r.status for r in results].count("completed") == 5
    assert (results[4].status, results[4].error_type) == ("failed", "ValueError")
    assert tracker.get_run(results[4].run_id).status == "failed"
    rerun = tracker.map(
        fails_on, range(6), config=lambda x: {"x": x, "bad": 4}, executor=dask_client, **OUT
    )
    assert rerun.submitted == 1 and rerun[4].status == "failed"


def test_fail_fast_cancels_the_tasks_on_the_cluster(tracker: Any, dask_client: Any) -> None:
    """The first failure cancels what is still queued or running: those runs end as
    failed ('cancelled'), none is left running, none is recorded completed."""
    config = lambda x: {"x": x, "bad": 0, "sleep": 3}  # noqa: E731
    with pytest.raises(MapStopped) as stopped:
        tracker.map(
            slow_unless_bad, range(6), config=config, executor=dask_client, fail_fast=True, **OUT
        )
    statuses = [r.status for r in stopped.value.results]
    assert statuses == ["failed"] + ["cancelled"] * 5
    runs = tracker.find_runs(model="slow_unless_bad")
    assert sorted(str(r.status) for r in runs) == ["failed"] * 6
    assert all("cancelled" in (r.error_message or "") for r in runs if r.config["x"] != 0)


def test_a_worker_killed_mid_task_is_rescheduled_and_recorded_once(
    tracker: Any, dask_client: Any, tmp_path: Path
) -> None:
    """The task kills its worker process on the first attempt; Dask runs it again on
    a live worker, and the client records one completed run for it, no more."""
    marker = tmp_path / "killed"
    config = lambda x: {"x": x, "victim": 2, "marker": str(marker)}  # noqa: E731
    results = tracker.map(dies_once, range(4), config=config, executor=dask_client, **OUT)
    assert marker.exists(), "the first attempt did not kill its worker"
    assert [r.status for r in results] == ["completed"] * 4
    victim = results[2]
    assert task_counts(dask_client)[f"consist-map-{victim.run_id}"] >= 2
    runs = [r for r in tracker.find_runs(model="dies_once") if r.config["x"] == 2]
    assert [r.id for r in runs] == [victim.run_id]
    assert runs[0].meta["executed_on"]["pid"] != int(marker.read_text())
    assert tracker.artifact_path(victim.outputs["out"]).read_text() == "2"
    dask_client.wait_for_workers(2, timeout=60)


def test_a_year_chain_on_dask_keeps_merkle_links(
    tracker: Any, dask_client: Any, tmp_path: Path
) -> None:
    (tmp_path / "base.txt").write_text("1000")
    options = {
        "year": lambda y: y,
        "config": {"rate": 10},
        "inputs": {"population": tmp_path / "base.txt"},
        "outputs": ["population"],
        "output_paths": {"population": "population.txt"},
        "chain": "population",
        "executor": dask_client,
    }
    first = tracker.map(grow, [2020, 2021, 2022, 2023], **options)
    assert [tracker.artifact_path(r.outputs["population"]).read_text() for r in first] == [
        "1100", "1210", "1331", "1464",
    ]  # fmt: skip
    for earlier, later in itertools.pairwise(first):
        fed = tracker.get_artifacts_for_run(later.run_id).inputs["population"]
        assert fed.id == earlier.outputs["population"].id
    counted = task_counts(dask_client)
    assert [r.status for r in tracker.map(grow, [2020, 2021, 2022, 2023], **options)] == [
        "cached"
    ] * 4
    assert task_counts(dask_client) == counted


@pytest.mark.s3
def test_workers_store_outputs_in_s3_through_the_blob_store(
    tmp_path: Path,
    dask_client: Any,
    s3_prefix: str,
    s3_storage_options: dict[str, Any],
    s3_client: Any,
) -> None:
    """With an S3 blob store, each worker uploads the outputs it wrote; the client
    records their digests and has nothing left to upload; the bytes come back from S3."""
    with consist.Tracker(
        tmp_path / "runs",
        db_path=tmp_path / "p.duckdb",
        code_identity="function",
        blobs=f"s3://{s3_prefix}",
        storage_options=s3_storage_options,
    ) as tracker:
        results = tracker.map(
            square, range(8), config=lambda x: {"x": x}, executor=dask_client, **OUT
        )
        assert [r.status for r in results] == ["completed"] * 8
        bucket, _, prefix = s3_prefix.partition("/")
        listing = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)
        stored = " ".join(o["Key"] for o in listing.get("Contents", []))
        for result in results:
            out = result.outputs["out"]
            assert out.meta["blob_digest"] == out.content_hash
            assert out.content_hash in stored
            run = tracker.get_run(result.run_id)
            assert run.meta["executed_on"]["uploaded"] == 1
            assert "archive_pending" not in run.meta
        seven = results[7].outputs["out"]
        tracker.artifact_path(seven).unlink()
        restored = tracker.restore_from_blobs(seven, tmp_path / "restored.txt")
        assert restored is not None and restored.read_text() == "49"


@pytest.mark.timeout(120)  # before the check, this map waited forever
def test_a_step_the_workers_cannot_import_is_refused_up_front(
    tracker: Any, dask_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dask would leave such a task waiting forever; map says which module is missing
    before it opens any run."""
    (tmp_path / "only_here.py").write_text("def step(config):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # this process sees it; the workers do not
    import only_here  # type: ignore[import-not-found]

    with pytest.raises(InvalidInput, match="cannot import 'only_here'"):
        tracker.map(only_here.step, [1, 2], config=lambda x: {"x": x}, executor=dask_client)
    assert tracker.find_runs() == []
