"""The scenario's account of one pass: each step's run, kind, status and cache hit.

It becomes the header run's ``meta["steps"]`` when the scenario ends, and the
first failed step fails the scenario.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from consist.domain import Artifact, Run, RunQuery, RunStatus


class StepOutcome(Protocol):
    """One item of a fan-out (``MapResult``): its run, if it got one, and its outputs."""

    @property
    def ok(self) -> bool: ...

    @property
    def cache_hit(self) -> bool: ...

    @property
    def result(self) -> Any: ...  # a RunResult (run, outputs) or None


class StepLog:
    """Steps in the order they ended, and the first failure among them."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.failure: str | None = None

    def record(self, run: Run, kind: str, cache_hit: bool) -> None:
        self.entries.append(
            {
                "run_id": run.id,
                "name": run.model,
                "kind": kind,
                "status": str(run.status),
                "cache_hit": cache_hit,
                "year": run.year,
                "iteration": run.iteration,
            }
        )
        if run.status is RunStatus.FAILED and self.failure is None:
            self.failure = f"step {run.id!r} failed: {run.error_type}: {run.error_message}"

    def record_items(
        self, items: Iterable[StepOutcome], take_outputs: Callable[[dict[str, Artifact]], None]
    ) -> None:
        """The items of a fan-out, in item order; completed ones hand their outputs on."""
        for item in items:
            if item.result is not None:
                if item.ok:
                    take_outputs(item.result.outputs)
                self.record(item.result.run, "run", item.cache_hit)

    def record_failure(
        self,
        find_runs: Callable[[RunQuery], list[Run]],
        scenario_id: str,
        model: str,
        started: dt.datetime,
    ) -> None:
        """A step that raised: recorded if it began (and failed) after ``started``, not
        when its arguments were refused before any run existed."""
        query = RunQuery(parent_run_id=scenario_id, model=model, status="failed", limit=1)
        failed = [r for r in find_runs(query) if r.created_at >= started]
        if failed:
            self.record(failed[0], "run", False)
