"""Lifecycle hooks: callbacks fired when a run starts, completes, fails or is recorded.

``on_run_started`` and ``on_run_recorded`` concern the runs the catalog keeps
(not ``cache_mode="readonly"`` sandboxes): started as a run begins, recorded
once its final snapshot is written, with everything the catalog holds about it.
A hook that raises is logged and forgotten; it never breaks the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from consist.domain import Artifact, Run, RunRecord

logger = logging.getLogger("consist.events")

CompleteHook = Callable[[Run, list[Artifact]], Any]
FailedHook = Callable[[Run, BaseException], Any]
StartedHook = Callable[[Run], Any]
RecordedHook = Callable[[RunRecord], Any]


class EventHooks:
    def __init__(self) -> None:
        self._complete: list[CompleteHook] = []
        self._failed: list[FailedHook] = []
        self._started: list[StartedHook] = []
        self._recorded: list[RecordedHook] = []

    def on_run_started(self, callback: StartedHook) -> StartedHook:
        """Call ``callback(run)`` as each recorded run begins (usable as a decorator)."""
        self._started.append(callback)
        return callback

    def on_run_recorded(self, callback: RecordedHook) -> RecordedHook:
        """Call ``callback(record)`` once a finished run's snapshot is written (or decorate)."""
        self._recorded.append(callback)
        return callback

    def on_run_complete(self, callback: CompleteHook) -> CompleteHook:
        """Call ``callback(run, output_artifacts)`` after each completed run (or decorate)."""
        self._complete.append(callback)
        return callback

    def on_run_failed(self, callback: FailedHook) -> FailedHook:
        """Call ``callback(run, exception)`` after every failed run (usable as a decorator)."""
        self._failed.append(callback)
        return callback

    def fire_complete(self, run: Run, artifacts: Sequence[Artifact]) -> None:
        for hook in list(self._complete):
            _call_safely(hook, run, list(artifacts))

    def fire_failed(self, run: Run, error: BaseException) -> None:
        for hook in list(self._failed):
            _call_safely(hook, run, error)

    def fire_started(self, run: Run) -> None:
        for hook in list(self._started):
            _call_safely(hook, run)

    def fire_recorded(self, record: RunRecord) -> None:
        for hook in list(self._recorded):
            _call_safely(hook, record)


def _call_safely(hook: Callable[..., Any], *args: Any) -> None:
    try:
        hook(*args)
    except Exception:
        logger.warning("event hook %r raised; the run is unaffected", hook, exc_info=True)
