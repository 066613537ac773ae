"""SQLite adapter for Consist: a catalog in one SQLite file, on sqlite-utils.

Names load on first use so that finding the entry point stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"SQLiteCatalog": "consist_sqlite._catalog"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'consist_sqlite' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
