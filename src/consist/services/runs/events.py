"""Lifecycle hooks: callbacks fired when a run completes or fails.

A hook that raises is logged and forgotten; it never breaks the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from consist.domain import Artifact, Run

logger = logging.getLogger("consist.events")

CompleteHook = Callable[[Run, list[Artifact]], Any]
FailedHook = Callable[[Run, BaseException], Any]


class EventHooks:
    def __init__(self) -> None:
        self._complete: list[CompleteHook] = []
        self._failed: list[FailedHook] = []

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


def _call_safely(hook: Callable[..., Any], *args: Any) -> None:
    try:
        hook(*args)
    except Exception:
        logger.warning("event hook %r raised; the run is unaffected", hook, exc_info=True)
