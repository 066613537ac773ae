"""How SQL catalog engines differ: URL scheme and options, error texts, timestamps, tags.

Each adapter describes its engine once as a :class:`Dialect`; URL parsing and
the translation of the engine's errors into Consist's are written here, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from consist.domain.errors import CatalogCorrupt, CatalogError, CatalogLocked, InvalidURI

__all__ = ["MEMORY", "REBUILD_HINT", "Dialect", "parse_url", "translate"]

MEMORY = ":memory:"
REBUILD_HINT = "run `consist db rebuild` to recreate it from the JSON snapshots"

TagsFilter = Callable[[Sequence[str]], tuple[list[str], list[Any]]]
ValueList = Callable[[Sequence[str]], tuple[str, list[Any]]]


def _tags_each_exists(tags: Sequence[str]) -> tuple[list[str], list[Any]]:
    """One ``json_each`` membership test per tag (SQLite's JSON1)."""
    clause = "EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = ?)"
    return [clause] * len(tags), list(tags)


def _placeholders(values: Sequence[str]) -> tuple[str, list[Any]]:
    """``(?, ?, ...)``: one bound parameter per value."""
    return "(" + ",".join("?" * len(values)) + ")", list(values)


@dataclass(frozen=True)
class Dialect:
    """One SQL engine's side of the shared catalog layout.

    Parameters
    ----------
    name
        The engine as users know it (``DuckDB``), for messages.
    scheme
        The URL scheme (``duckdb``); ``suffix`` the usual file ending, for examples.
    package
        The distribution to upgrade when a catalog is newer than the code.
    options
        The numeric ``?name=value`` URL options the adapter takes.
    lock_markers, corrupt_markers
        Lower-case fragments of the engine's messages for a held file and a damaged one.
    held
        How a lock error describes the holder (``is held by another process``).
    unlock_advice
        What to do about the holder, before the ``?lock_timeout`` hint.
    run_select, artifact_select
        The column lists read for Runs and Artifacts (``RUN_COLUMNS``, maybe with
        timestamps converted), and ``read_time`` that decodes those timestamps.
    tags_filter
        WHERE clauses and parameters for runs carrying all of some tags.
    value_list, max_values
        An ``IN`` operand for many values with its parameters, and how many
        values one statement takes (SQLite binds at most 999 parameters).
    sort_narrowed_in_python
        Order the rows of an indexed lookup in Python instead of ORDER BY (DuckDB
        plans ORDER BY over the whole table and then skips the index).
    """

    name: str
    scheme: str
    suffix: str
    package: str
    options: tuple[str, ...]
    lock_markers: tuple[str, ...]
    corrupt_markers: tuple[str, ...]
    held: str
    unlock_advice: str
    run_select: str
    artifact_select: str
    read_time: Callable[[Any], dt.datetime]
    tags_filter: TagsFilter = _tags_each_exists
    value_list: ValueList = _placeholders
    max_values: int = 500
    sort_narrowed_in_python: bool = False


def parse_url(url: str, dialect: Dialect) -> tuple[str, dict[str, float]]:
    """The database path (or ``:memory:``) and numeric options of a catalog URL.

    ``<scheme>:///abs/c.db`` is absolute, ``<scheme>://rel/c.db`` relative to the
    working directory, ``<scheme>://:memory:`` in memory; ``?lock_timeout=30``
    and the dialect's other options may follow.

    Raises
    ------
    InvalidURI
        If the scheme is not the dialect's, an option is unknown or not a
        number, or no path is given.
    """
    scheme, sep, rest = url.partition("://")
    if scheme != dialect.scheme or not sep:
        raise InvalidURI(
            f"{url!r} is not a {dialect.scheme}:// URL "
            f"(e.g. {dialect.scheme}:///abs/path{dialect.suffix})"
        )
    rest, _, query = rest.partition("?")
    options: dict[str, float] = {}
    for name, values in parse_qs(query).items():
        if name not in dialect.options:
            raise InvalidURI(
                f"unknown option {name!r} in {url!r}; known: {', '.join(dialect.options)}"
            )
        try:
            options[name] = float(values[-1])
        except ValueError:
            raise InvalidURI(f"option {name!r} in {url!r} must be a number") from None
    if rest in (MEMORY, "/" + MEMORY):
        return MEMORY, options
    if not rest:
        raise InvalidURI(
            f"{url!r} names no file; use {dialect.scheme}://:memory: for an in-memory one"
        )
    if rest.startswith("/"):
        rest = "/" + rest.lstrip("/")  # scheme:////abs and scheme:///abs mean the same file
    return str(Path(rest).expanduser().absolute()), options


def translate(exc: BaseException, path: str, dialect: Dialect) -> CatalogError:
    """The Consist error for an engine exception raised while using the catalog at ``path``."""
    message = str(exc)
    lowered = message.lower()
    if any(marker in lowered for marker in dialect.lock_markers):
        return CatalogLocked(
            f"the catalog {path} {dialect.held} ({message}). {dialect.unlock_advice}, or "
            "allow a longer wait with ?lock_timeout=SECONDS; runs are kept in their JSON "
            "snapshots meanwhile and `consist db sync` indexes them later"
        )
    if any(marker in lowered for marker in dialect.corrupt_markers):
        return CatalogCorrupt(
            f"the catalog file {path} is damaged or is not a {dialect.name} database "
            f"({message}); move it aside and {REBUILD_HINT}"
        )
    return CatalogError(f"{dialect.name} catalog {path}: {message}")
