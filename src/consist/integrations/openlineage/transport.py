"""Where events go: a callable, or an HTTP endpoint that speaks OpenLineage (Marquez).

Sending is best effort: a failure is logged as a warning and the run goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from consist.domain.errors import InvalidInput

logger = logging.getLogger("consist.openlineage")

LINEAGE_PATH = "/api/v1/lineage"
DEFAULT_TIMEOUT = 5.0
Sink = Callable[[dict[str, Any]], Any]


class HttpSink:
    """POSTs each event as JSON to ``<url>/api/v1/lineage`` (Marquez's endpoint).

    A URL that already ends in ``/api/v1/lineage`` is used as it is. The standard
    library's urllib does the request, so no HTTP client is needed for this.
    """

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                f"openlineage={url!r:.200} must be an http(s) URL of an OpenLineage endpoint "
                "(such as http://localhost:5000 for Marquez) or a callable taking each event"
            )
        base = url.rstrip("/")
        self.endpoint = base if base.endswith(LINEAGE_PATH) else base + LINEAGE_PATH
        self.timeout = timeout

    def __call__(self, event: dict[str, Any]) -> None:
        import urllib.request

        request = urllib.request.Request(
            self.endpoint,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()

    def __repr__(self) -> str:
        return f"HttpSink({self.endpoint!r})"


def sink_for(target: object) -> Sink:
    """An HttpSink for a URL string, the callable itself otherwise.

    Raises
    ------
    InvalidInput
        For anything else, or a string that is not an http(s) URL.
    """
    if isinstance(target, str):
        return HttpSink(target)
    if callable(target):
        return target  # type: ignore[no-any-return]
    raise InvalidInput(
        f"openlineage= takes an http(s) URL or a callable receiving each event as a dict, "
        f"not {type(target).__name__}"
    )


def send_safely(sink: Sink, event: dict[str, Any]) -> bool:
    """Hand ``event`` to ``sink``; True when it took it, a warning when it did not."""
    try:
        sink(event)
    except Exception as exc:
        logger.warning(
            "could not emit the OpenLineage %s event of job %s to %r (%s); the run is unaffected",
            event.get("eventType"),
            event.get("job", {}).get("name"),
            sink,
            exc,
        )
        return False
    return True
