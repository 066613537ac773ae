"""Rendering a gathered report as one self-contained HTML page: scripts, styles and data inlined."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from consist.files import write_atomically

DAGRE_VERSION = "3.1.4"
# Parsed by the page on the first click, not before the first paint.
_LAZY = ("details", "links", "artifacts")
_MARKERS = re.compile(r"/\*\{\{\w+\}\}\*/|\{\{\w+\}\}")


def _asset(name: str) -> str:
    return resources.files("consist.report").joinpath("assets", name).read_text("utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def _script_json(payload: Mapping[str, Any]) -> str:
    # "<" escaped everywhere, so no string in the data can close the script element.
    text = json.dumps(payload, default=_plain, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _without_source_map(script: str) -> str:
    # file:// pages cannot fetch the map, and devtools would report that as an error.
    return "\n".join(
        line for line in script.splitlines() if not line.startswith("//# sourceMappingURL=")
    )


def render_html(payload: Mapping[str, Any]) -> str:
    """The page for ``payload`` (from :func:`consist.report.payload.gather`)."""
    page = _asset("template.html")
    parts = {
        "{{title}}": html.escape(str(payload.get("title") or "Consist report")),
        "/*{{css}}*/": _asset("report.css"),
        "/*{{dagre}}*/": _without_source_map(_asset("dagre.min.js")),
        "/*{{app}}*/": _asset("report.js"),
        "{{data}}": _script_json({k: v for k, v in payload.items() if k not in _LAZY}),
        "{{details}}": _script_json({k: payload.get(k, {}) for k in _LAZY}),
        "{{dagre_version}}": DAGRE_VERSION,
    }
    missing = [marker for marker in parts if marker not in page]
    if missing:
        raise RuntimeError(f"report template lacks {', '.join(missing)}")
    # One pass: text put in is never searched for markers again.
    return _MARKERS.sub(lambda found: parts[found.group(0)], page)


def write_html(payload: Mapping[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write the page atomically to ``out`` and return its absolute path."""
    path = Path(os.path.abspath(os.fspath(out)))
    write_atomically(path, iter([render_html(payload).encode("utf-8")]))
    return path
