"""Adapters found by entry point: one group per port, the URL scheme as the name.

A third-party package adds a backend by declaring, in its pyproject.toml::

    [project.entry-points."consist.catalog"]
    mydb = "my_package:MyCatalog"

Nothing in the core names it; ``Tracker(catalog="mydb://...")`` finds it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from consist.domain.errors import AdapterNotFound, ConsistError

CATALOG = "consist.catalog"
BLOBS = "consist.blobs"
TABLES = "consist.tables"
EXECUTOR = "consist.executor"
REMOTE = "consist.remote"

# Which distribution to suggest when a scheme has no adapter installed.
_PACKAGE_FOR_SCHEME = {
    "duckdb": "consist-duckdb",
    "sqlite": "consist-sqlite",
    "docker": "consist-containers",
    "apptainer": "consist-containers",
    "singularity": "consist-containers",
}
_FSSPEC_FALLBACK = "fsspec"


class AmbiguousAdapter(ConsistError):
    """Two installed packages claim the same scheme for one port."""


def suggested_package(group: str, scheme: str) -> str:
    if group in (BLOBS, REMOTE):
        return "consist-fsspec"
    return _PACKAGE_FOR_SCHEME.get(scheme, f"a package providing the {scheme!r} {group} adapter")


def _candidates(group: str, name: str) -> list[EntryPoint]:
    found = list(entry_points(group=group, name=name))
    unique = {(ep.value, ep.dist.name if ep.dist else None): ep for ep in found}
    return list(unique.values())


@functools.cache
def load(group: str, name: str) -> Any:
    """The object registered as ``name`` in entry-point ``group``.

    Blob stores fall back to the adapter registered as ``fsspec``, which
    serves any URL scheme fsspec knows.

    Raises
    ------
    AdapterNotFound
        No installed package registers ``name`` (the message says what to install).
    AmbiguousAdapter
        Two different packages register it.
    """
    found = _candidates(group, name)
    if not found and group == BLOBS:
        found = _candidates(group, _FSSPEC_FALLBACK)
    if not found:
        package = suggested_package(group, name)
        raise AdapterNotFound(
            f"no {group} adapter for {name!r} URLs is installed; "
            f"install {package} (e.g. `uv add {package}`)"
        )
    if len(found) > 1:
        claimants = ", ".join(f"{ep.value} ({ep.dist.name if ep.dist else '?'})" for ep in found)
        raise AmbiguousAdapter(
            f"several packages register {name!r} for {group}: {claimants}; uninstall all but one"
        )
    return found[0].load()


def lazy(group: str, name: str) -> Callable[..., Any]:
    """A factory that loads the entry point only when first called."""

    def build(*args: Any, **kwargs: Any) -> Any:
        return load(group, name)(*args, **kwargs)

    build.__qualname__ = f"lazy({group!r}, {name!r})"
    return build
