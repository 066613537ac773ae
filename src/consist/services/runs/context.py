"""The context stack: which tracker and which run are active here.

Context variables make it safe across threads and asyncio tasks: each task
sees the trackers and runs it entered, not those of its neighbours.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING

from consist.domain.errors import NoActiveTracker

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.tracker import Tracker

_trackers: contextvars.ContextVar[tuple[Tracker, ...]] = contextvars.ContextVar(
    "consist_trackers", default=()
)
_runs: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "consist_runs", default=()
)


@contextlib.contextmanager
def use_tracker(tracker: Tracker) -> Iterator[Tracker]:
    """Make ``tracker`` the one module-level functions (``consist.run`` ...) use inside."""
    token = _trackers.set((*_trackers.get(), tracker))
    try:
        yield tracker
    finally:
        _trackers.reset(token)


def push_run(run: ActiveRun) -> contextvars.Token[tuple[ActiveRun, ...]]:
    """Make ``run`` the current run; undo with :func:`pop_run`."""
    return _runs.set((*_runs.get(), run))


def pop_run(run: ActiveRun) -> None:
    token = run.context_token
    run.context_token = None
    try:
        if token is not None:
            _runs.reset(token)
            return
    except ValueError:
        pass  # ended in another context (begin_run/end_run across tasks): remove by identity
    _runs.set(tuple(r for r in _runs.get() if r is not run))


def current_run_or_none() -> ActiveRun | None:
    runs = _runs.get()
    return runs[-1] if runs else None


def current_run(what: str = "this call") -> ActiveRun:
    run = current_run_or_none()
    if run is None:
        raise NoActiveTracker(what, needs_run=True)
    return run


def current_tracker(tracker: Tracker | None = None, what: str = "this call") -> Tracker:
    """``tracker`` if given, else the innermost active run's tracker, else the innermost
    tracker entered with :func:`use_tracker`."""
    if tracker is not None:
        return tracker
    run = current_run_or_none()
    if run is not None:
        return run.tracker
    trackers = _trackers.get()
    if not trackers:
        raise NoActiveTracker(what)
    return trackers[-1]
