"""The current tracker: ``use_tracker``, ``current_tracker`` and ``tracker_for``.

A facade-level lookup: the module-level API (``consist.run``, ``consist.load``
...) and scenarios find their tracker here. Services below the facade are handed
the collaborators they use instead. The stack of entered trackers lives in
``runs/context.py`` (context variables: each thread and asyncio task sees the
trackers it entered); this module sits above the facade, which never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from consist.domain import Artifact
from consist.domain.errors import NoActiveTracker

__all__ = ["current_tracker", "tracker_for", "use_tracker"]
from consist.services.runs import owners
from consist.services.runs.context import current_run_or_none, entered_trackers, use_tracker

if TYPE_CHECKING:
    from consist.services.tracker import Tracker


def current_tracker(tracker: Tracker | None = None, what: str = "this call") -> Tracker:
    """``tracker`` if given, else the innermost active run's tracker, else the innermost
    tracker entered with :func:`use_tracker`."""
    if tracker is not None:
        return tracker
    run = current_run_or_none()
    if run is not None:
        return cast("Tracker", run.tracker)
    trackers = entered_trackers()
    if not trackers:
        raise NoActiveTracker(what)
    return cast("Tracker", trackers[-1])


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
