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
from typing import Any

from consist.domain import Artifact

# Weak values: a tracker the program dropped is not kept alive by its artifacts.
_owners: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def remember(tracker: object, artifacts: Iterable[Artifact]) -> None:
    """Record that ``tracker`` returned these artifacts (the latest tracker wins)."""
    for artifact in artifacts:
        if artifact.id:
            _owners[artifact.id] = tracker


def owner_of(artifact: Artifact) -> object | None:
    """The tracker that returned ``artifact`` in this process, if it is still alive
    (``consist.services.current.tracker_for`` turns it back into a Tracker)."""
    return _owners.get(artifact.id) if artifact.id else None
