"""The current tracker: ``use_tracker``, ``current_tracker`` and ``tracker_for``.

A facade-level lookup: the module-level API (``consist.run``, ``consist.load``
...) and scenarios find their tracker here. Services below the facade are handed
the collaborators they use instead. Context variables keep it right across
threads and asyncio tasks: each sees the trackers it entered.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from consist.domain import Artifact
from consist.domain.errors import NoActiveTracker
from consist.services.runs import owners
from consist.services.runs.context import current_run_or_none

if TYPE_CHECKING:
    from consist.services.tracker import Tracker

_trackers: contextvars.ContextVar[tuple[Tracker, ...]] = contextvars.ContextVar(
    "consist_trackers", default=()
)


@contextlib.contextmanager
def use_tracker(tracker: Tracker) -> Iterator[Tracker]:
    """Make ``tracker`` the one module-level functions (``consist.run`` ...) use inside."""
    token = _trackers.set((*_trackers.get(), tracker))
    try:
        yield tracker
    finally:
        _trackers.reset(token)


def current_tracker(tracker: Tracker | None = None, what: str = "this call") -> Tracker:
    """``tracker`` if given, else the innermost active run's tracker, else the innermost
    tracker entered with :func:`use_tracker`."""
    if tracker is not None:
        return tracker
    run = current_run_or_none()
    if run is not None:
        return cast("Tracker", run.tracker)
    trackers = _trackers.get()
    if not trackers:
        raise NoActiveTracker(what)
    return trackers[-1]


def tracker_for(artifact: object, tracker: Tracker | None, what: str) -> Tracker:
    """``tracker`` if given, else the one that returned ``artifact``, else the active one.

    Raises
    ------
    NoActiveTracker
        If none of the three is there.
    """
    if tracker is not None:
        return tracker
    if isinstance(artifact, Artifact):
        owner = owners.owner_of(artifact)
        if owner is not None:
            return cast("Tracker", owner)
    return current_tracker(None, what)
