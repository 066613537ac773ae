"""A real Dask cluster for the fan-out tests: a LocalCluster of two worker processes,
and a scheduler plugin that counts the tasks the scheduler was given.

Loaded for every suite by tests/conftest.py; ``distributed`` is imported only when a
test asks for ``dask_client``.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PLUGIN = "consist-task-counter"


def _install(dask_scheduler: Any) -> None:
    from distributed.diagnostics.plugin import SchedulerPlugin

    class TaskCounter(SchedulerPlugin):  # type: ignore[misc]
        """How often each ``consist-map-*`` task started processing."""

        name = PLUGIN

        def __init__(self) -> None:
            self.processing: Counter[str] = Counter()

        def transition(self, key: Any, start: str, finish: str, *args: Any, **kw: Any) -> None:
            if finish == "processing" and str(key).startswith("consist-map-"):
                self.processing[str(key)] += 1

    dask_scheduler.add_plugin(TaskCounter(), name=PLUGIN)


def _counts(dask_scheduler: Any) -> dict[str, int]:
    return dict(dask_scheduler.plugins[PLUGIN].processing)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """One cluster per test module (startup costs seconds): 2 workers x 1 thread."""
    import distributed

    # Worker processes start with this process's sys.path: let them import tests.support.
    root = str(Path(__file__).resolve().parents[2])
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run_on_scheduler(_install)
        yield client
    if added:
        sys.path.remove(root)


def task_counts(client: Any) -> dict[str, int]:
    """``{task key: times it went to a worker}`` for every fan-out task so far."""
    return dict(client.run_on_scheduler(_counts))
