"""DuckDB plumbing for the table store: URLs to database paths, and vendor errors to Consist's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from consist.domain.errors import (
    CatalogCorrupt,
    CatalogError,
    CatalogLocked,
    CatalogUnavailable,
    InvalidURI,
)
from consist.relational.dialect import MEMORY

from ._connection import parse_url

__all__ = ["database_of", "reads_only", "translated"]


def reads_only(sql: str) -> bool:
    """Whether every statement in ``sql`` is a query (SELECT, DESCRIBE, SHOW, ...).

    Queries run on a read cursor and are not counted as writes by change tokens.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return False  # let the write path run it and report the error
    return bool(statements) and all(s.type == duckdb.StatementType.SELECT for s in statements)


def database_of(url: str) -> str:
    """The path ``duckdb.connect`` takes for ``url``, parsed as the catalog parses it.

    ``duckdb:///abs/path.duckdb`` is a file (its folder is created),
    ``duckdb://:memory:`` a private in-memory database; the catalog's options
    (``?lock_timeout=``, ``?keep_open=``) are allowed and do not change the file.

    Raises
    ------
    InvalidURI
        ``url`` is not a ``duckdb://`` URL, names no database, or has an unknown option.
    """
    if url.partition("?")[0].endswith("/"):
        raise InvalidURI(f"{url!r} names no database file; use duckdb:///abs/path.duckdb")
    path, _ = parse_url(url)
    if path != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflict" in text or "could not set" in text)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn any DuckDB error raised inside into the matching ``CatalogError``."""
    try:
        yield
    except duckdb.TransactionException as exc:
        raise CatalogLocked(
            f"{what}: another transaction changed the same rows; retry ({exc})"
        ) from exc
    except duckdb.IOException as exc:
        if _is_lock_conflict(exc):
            raise CatalogLocked(
                f"{what}: the database file is locked by another process; close it or retry ({exc})"
            ) from exc
        raise CatalogUnavailable(f"{what}: {exc}") from exc
    except duckdb.SerializationException as exc:
        raise CatalogCorrupt(f"{what}: the database file is damaged ({exc})") from exc
    except duckdb.Error as exc:
        raise CatalogError(f"{what}: {exc}") from exc
