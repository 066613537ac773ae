"""OpenLineage RunEvents for every run: ``Tracker(..., openlineage=URL_or_callable)``.

``events`` builds the events as plain dicts from a run's record, ``naming``
holds the naming rules, ``transport`` sends them. The emitter listens to the
tracker's lifecycle events (run started, run recorded); ``consist export
openlineage`` builds the same events from the catalog. See docs/openlineage.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consist.domain import Run, RunRecord
from consist.domain.errors import NotFound
from consist.integrations.openlineage.events import EventBuilder
from consist.integrations.openlineage.naming import DEFAULT_NAMESPACE, run_uuid
from consist.integrations.openlineage.transport import HttpSink, Sink, send_safely, sink_for

__all__ = [
    "DEFAULT_NAMESPACE",
    "EventBuilder",
    "HttpSink",
    "OpenLineageEmitter",
    "run_uuid",
    "sink_for",
]


class OpenLineageEmitter:
    """Sends START when a recorded run begins and COMPLETE/FAIL once it is recorded.

    Parameters
    ----------
    target
        An http(s) URL (events are POSTed to ``<URL>/api/v1/lineage``) or a
        callable that receives each event as a dict.
    namespace
        The job namespace (your project's name).
    lookup
        Finds a run by id (a step's parent), or returns None.
    """

    def __init__(self, target: object, namespace: str, lookup: Callable[[str], Run | None]) -> None:
        self.builder = EventBuilder(namespace, lookup)
        self.sink: Sink = sink_for(target)
        self.sent = 0
        self.failed = 0

    def attach(self, events: Any) -> OpenLineageEmitter:
        """Subscribe to a tracker's ``EventHooks``."""
        events.on_run_started(self.run_started)
        events.on_run_recorded(self.run_recorded)
        return self

    def run_started(self, run: Run) -> None:
        self._send(self.builder.start(run))

    def run_recorded(self, record: RunRecord) -> None:
        self._send(self.builder.finish(record))

    def _send(self, event: dict[str, Any]) -> None:
        if send_safely(self.sink, event):
            self.sent += 1
        else:
            self.failed += 1


def lookup_in(get_run: Callable[[str], Run]) -> Callable[[str], Run | None]:
    """A lookup that answers None for an unknown run instead of raising."""

    def lookup(run_id: str) -> Run | None:
        try:
            return get_run(run_id)
        except NotFound:
            return None

    return lookup
