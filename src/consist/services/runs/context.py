"""The run stack and the tracker stack: which run, and which tracker, is active here.

Only the stacks live here; turning them into "the tracker this call uses" is
the facade-level lookup in ``consist.services.current``. The tracker stack
holds plain objects so that this room never names the Tracker.

Context variables make it safe across threads and asyncio tasks: each task
sees the runs it entered, not those of its neighbours.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

from consist.domain.errors import NoActiveTracker

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun

T = TypeVar("T")

_trackers: contextvars.ContextVar[tuple[object, ...]] = contextvars.ContextVar(
    "consist_trackers", default=()
)
_runs: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "consist_runs", default=()
)


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


@contextlib.contextmanager
def use_tracker(tracker: T) -> Iterator[T]:
    """Make ``tracker`` the one module-level functions (``consist.run`` ...) use inside."""
    token = _trackers.set((*_trackers.get(), tracker))
    try:
        yield tracker
    finally:
        _trackers.reset(token)


def entered_trackers() -> tuple[object, ...]:
    """The trackers entered with :func:`use_tracker` here, innermost last."""
    return _trackers.get()
