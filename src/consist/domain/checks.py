"""Argument checks at the public boundary: text, integers, keys, and the names Consist keeps.

Each check returns the value it accepted or raises :class:`InvalidInput` (or
:class:`ReservedName`) naming the argument and what is wrong with it, so a bad
value never reaches a database driver or the file system as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from consist.domain.errors import InvalidCacheMode, InvalidInput, ReservedName

__all__ = [
    "CACHE_MODES",
    "MAX_KEY_CHARS",
    "RESERVED_TABLES",
    "SYSTEM_PREFIX",
    "check_cache_mode",
    "check_facet_keys",
    "check_int",
    "check_key",
    "check_not_reserved",
    "check_run_id",
    "check_text",
    "is_reserved",
]

MAX_KEY_CHARS = 255
SYSTEM_PREFIX = "consist_"
# Every table, view and index the catalog adapters create, and the private
# tables of the table store. tests/unit/test_checks.py lists what the real
# DuckDB and SQLite catalogs hold and fails if one is missing here.
RESERVED_TABLES = frozenset(
    {
        "runs",
        "artifacts",
        "run_artifact_links",
        "config_facet",
        "run_config_kv",
        "artifact_facet",
        "artifact_kv",
        "file_schemas",
        "schema_version",
        "runs_signature",
        "runs_parent",
        "runs_model_year",
        "artifacts_content_hash",
        "artifacts_uri",
        "links_run",
        "links_artifact",
        "run_config_kv_run",
        "artifact_kv_artifact",
        "file_schemas_artifact",
        "file_schemas_artifact_id",
        "artifact_kv_artifact_id",
        "artifact_kv_namespace_key",
        "run_artifact_links_artifact_id",
        "run_artifact_links_run_id",
        "run_config_kv_namespace_key",
        "run_config_kv_run_id",
        "runs_created_at",
        "runs_parent_run_id",
        "ingestions",
        "sqlite_master",
        "sqlite_schema",
        "sqlite_sequence",
        "information_schema",
        "pg_catalog",
    }
)


def is_reserved(name: str) -> bool:
    """Whether ``name`` is (case-insensitively) a catalog table or a ``consist_*`` system name."""
    folded = name.casefold()
    return folded in RESERVED_TABLES or folded.startswith(SYSTEM_PREFIX)


def check_not_reserved(name: str, what: str) -> str:
    if is_reserved(name):
        raise ReservedName(
            f"{what} {name!r} is reserved: it would shadow a catalog table or a "
            f"{SYSTEM_PREFIX}* system column; choose another name"
        )
    return name


def _problem_in(text: str, allow_control: bool) -> str | None:
    for index, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            return (
                f"holds a lone surrogate {char!r} at position {index}: it is not valid Unicode "
                "text (often a file name that is not UTF-8; decode it properly first)"
            )
        if not allow_control and unicodedata.category(char) == "Cc":
            return f"holds the control character {char!r} at position {index}; remove it"
    return None


def check_text(
    value: Any,
    what: str,
    *,
    optional: bool = False,
    allow_empty: bool = False,
    allow_control: bool = False,
    max_chars: int | None = None,
) -> Any:
    """Return ``value`` if it is a clean ``str`` (or None when ``optional``).

    Clean means valid Unicode (no lone surrogate), no control characters
    (newline, tab, NUL, ...) unless ``allow_control``, not empty unless
    ``allow_empty``, and at most ``max_chars`` characters.
    """
    if value is None and optional:
        return None
    if not isinstance(value, str):
        expected = "a str or None" if optional else "a str"
        raise InvalidInput(f"{what} must be {expected}, not {type(value).__name__} {value!r:.80}")
    if not value and not allow_empty:
        raise InvalidInput(f"{what} must not be empty")
    if max_chars is not None and len(value) > max_chars:
        raise InvalidInput(
            f"{what} is {len(value)} characters long; at most {max_chars} are allowed"
        )
    problem = _problem_in(value, allow_control)
    if problem is not None:
        raise InvalidInput(f"{what} {value!r:.80} {problem}")
    return value


INT64 = (-(2**63), 2**63 - 1)


def check_int(
    value: Any,
    what: str,
    *,
    optional: bool = False,
    minimum: int | None = INT64[0],
    maximum: int | None = INT64[1],
) -> Any:
    """Return ``value`` if it is an ``int`` (not a bool) from ``minimum`` to ``maximum``.

    The default range is a 64-bit integer, what every catalog column holds.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        expected = "an int or None" if optional else "an int"
        raise InvalidInput(f"{what} must be {expected}, not {type(value).__name__} {value!r:.80}")
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{what} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise InvalidInput(f"{what} must be at most {maximum}, not {value}")
    return value


def check_key(key: Any, what: str = "key") -> str:
    """An artifact key: clean text of at most 255 characters, not a reserved name."""
    check_text(key, what, max_chars=MAX_KEY_CHARS)
    return check_not_reserved(key, what)


def check_facet_keys(facet: Any, what: str) -> Any:
    """Refuse a facet whose top-level keys are not clean text or are reserved names.

    Facet keys become columns (``pivot_facets``) next to the ``consist_*``
    system columns, so they may not take those names.
    """
    if not isinstance(facet, Mapping):
        return facet  # a model or dataclass: checked once canonical JSON has made it a dict
    for key in facet:
        if not isinstance(key, str):
            continue  # canonical JSON turns ints, enums and paths into text, or refuses them
        check_text(key, f"{what} key", max_chars=MAX_KEY_CHARS)
        check_not_reserved(key, f"{what} key")
    return facet


_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@=-]{0,199}$")


def check_run_id(run_id: Any, what: str = "run id") -> str:
    """Run ids name directories, so they must be safe file names."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise InvalidInput(
            f"{what} {run_id!r} must start with a letter or digit and contain only letters, "
            "digits and . _ + @ = - (at most 200 characters, no '..')"
        )
    return run_id


CACHE_MODES = ("reuse", "overwrite", "readonly")


def check_cache_mode(mode: str) -> str:
    if mode not in CACHE_MODES:
        raise InvalidCacheMode(f"cache_mode must be one of {CACHE_MODES}, not {mode!r}")
    return mode
