"""The run stack: which run is active here (the current tracker is
``consist.services.current``, a facade-level lookup).

Context variables make it safe across threads and asyncio tasks: each task
sees the runs it entered, not those of its neighbours.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

from consist.domain.errors import NoActiveTracker

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun

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
