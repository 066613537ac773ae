"""Fan-out figures: ``tracker.map`` on a Dask LocalCluster (worker processes).

- per-item overhead of a sweep of misses against a bare ``client.map`` of the same
  function (target: consist's per-item time <= 1.5 x bare + 5 ms);
- scaling of a CPU-bound sweep from 1 to 2 workers (target >= 1.7x; the machine's
  cores are shared, so read this figure with the load beside it);
- rerun of a 1,000-item sweep that is all hits (target <= 3 s, no task submitted).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._harness import report


def tiny(config: dict[str, Any]) -> None:
    """A step that does almost nothing: what is left is the per-item overhead."""
    sum(range(100 + config["i"] % 7))


def burn(config: dict[str, Any]) -> None:
    """A CPU-bound step: ``n`` rounds of integer arithmetic in pure Python."""
    total = 0
    for i in range(config["n"]):
        total = (total * 31 + i) % 1_000_003


def _cluster(workers: int) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return cluster, Client(cluster)


def _tracker(root: Path) -> Any:
    import consist

    return consist.Tracker(
        root / "runs", db_path=root / "provenance.duckdb", code_identity="bench-v1", progress=False
    )


def _transitions(client: Any) -> int:
    return int(client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter))


def per_item_overhead(root: Path, client: Any, items: int, rounds: int) -> None:
    tracker = _tracker(root)
    bare, ours = [], []
    for round_ in range(rounds + 1):  # round 0 warms both up (imports, first connections)
        salt = uuid.uuid4().hex  # every round is all misses
        configs = [{"i": i, "salt": salt} for i in range(items)]
        started = time.perf_counter()
        client.gather(client.map(tiny, configs, pure=False))
        bare.append((time.perf_counter() - started) / items)
        started = time.perf_counter()
        results = tracker.map(tiny, [{"config": c} for c in configs], executor=client)
        ours.append((time.perf_counter() - started) / items)
        assert results.submitted == items and not results.failed
        if round_ == 0:
            bare.clear()
            ours.clear()
    tracker.close()
    bare_ms = sorted(bare)[len(bare) // 2] * 1000
    report(
        "fanout.dask_per_item_overhead",
        ours,
        unit="ms",
        scale=1000,
        limit=round(1.5 * bare_ms + 5, 3),
        bare_client_map_ms=round(bare_ms, 3),
        items=items,
    )


def scaling(root: Path, items: int, n: int) -> None:
    walls = {}
    for workers in (1, 2):
        cluster, client = _cluster(workers)
        tracker = _tracker(root / f"w{workers}")
        client.gather(client.map(burn, [{"n": 1000}] * workers, pure=False))  # warm workers
        configs = [{"config": {"n": n, "i": i, "s": uuid.uuid4().hex}} for i in range(items)]
        started = time.perf_counter()
        results = tracker.map(burn, configs, executor=client)
        walls[workers] = time.perf_counter() - started
        assert not results.failed
        tracker.close()
        client.close()
        cluster.close()
    report(
        "fanout.scaling_1_to_2_workers",
        [walls[1] / walls[2]],
        unit="x",
        limit=1.7,
        better="higher",
        one_worker_s=round(walls[1], 3),
        two_workers_s=round(walls[2], 3),
        items=items,
        load_average=os.getloadavg()[0],
        cpus=os.cpu_count(),
    )


def all_hit_rerun(root: Path, client: Any, items: int) -> None:
    tracker = _tracker(root)
    config = lambda i: {"i": i}  # noqa: E731
    first = tracker.map(tiny, range(items), config=config)  # in process: only the rerun counts
    assert first.submitted == items
    before = _transitions(client)
    started = time.perf_counter()
    again = tracker.map(tiny, range(items), config=config, executor=client)
    wall = time.perf_counter() - started
    submitted_on_scheduler = _transitions(client) - before
    assert again.hits == items and again.submitted == 0 and submitted_on_scheduler == 0
    tracker.close()
    report(
        "fanout.all_hit_rerun",
        [wall],
        unit="s",
        limit=3.0,
        items=items,
        submitted=again.submitted,
        scheduler_transitions=submitted_on_scheduler,
    )


def main(quick: bool = False) -> None:
    root = Path(tempfile.mkdtemp(prefix="consist-bench-fanout-"))
    try:
        cluster, client = _cluster(2)
        try:
            per_item_overhead(root / "overhead", client, 16 if quick else 64, 2 if quick else 5)
            all_hit_rerun(root / "rerun", client, 50 if quick else 1_000)
        finally:
            client.close()
            cluster.close()
        # Items of about a second each: real steps run for minutes to hours, and with
        # 0.3 s items the client and scheduler, sharing the two cores, cost ~10% (1.68x).
        scaling(root / "scaling", 4 if quick else 8, 20_000 if quick else 12_000_000)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
