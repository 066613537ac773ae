"""The HTML report: one self-contained page of a catalog's lineage, runs, runtimes and cache hits.

:func:`gather` reads a catalog into a JSON-ready dict; :func:`render_html`
turns it into the page (data, styles and scripts inlined, so it opens from
``file://`` with no network); :func:`write_html` writes it. ``consist report``
and ``consist lineage --format html`` are built on these.
"""

from __future__ import annotations

from consist.report.payload import UnknownScenario, gather
from consist.report.render import render_html, write_html

__all__ = ["UnknownScenario", "gather", "render_html", "write_html"]
