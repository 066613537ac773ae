"""Which tracker handed out an artifact, so helpers keep working after its block.

``consist.load(result.outputs["x"])`` after ``with use_tracker(tracker):`` has
ended has no active tracker, yet the artifact came from one. Artifacts are
frozen, hashable domain values that know nothing of services, so the link
lives here: artifact id -> tracker, held weakly (a tracker the program dropped
is not kept alive, and its entries vanish with it). It is filled where a run
logs or links an artifact and where one run's or one id's artifacts are read
back, not by catalog-wide searches.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from consist.domain import Artifact
from consist.services.runs import context

if TYPE_CHECKING:
    from consist.services.tracker import Tracker

_owners: weakref.WeakValueDictionary[str, Tracker] = weakref.WeakValueDictionary()


def remember(tracker: Tracker, artifacts: Iterable[Artifact]) -> None:
    """Record that ``tracker`` returned these artifacts (the latest tracker wins)."""
    for artifact in artifacts:
        if artifact.id:
            _owners[artifact.id] = tracker


def owner_of(artifact: Artifact) -> Tracker | None:
    """The tracker that returned ``artifact`` in this process, if it is still alive."""
    return _owners.get(artifact.id) if artifact.id else None


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
        owner = owner_of(artifact)
        if owner is not None:
            return owner
    return context.current_tracker(None, what)
