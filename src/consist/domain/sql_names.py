"""Safe SQL identifiers and literals: quoting, view-name checks, table names for artifact keys."""

from __future__ import annotations

import hashlib
import re

from consist.domain.errors import UnsafeIdentifier

__all__ = ["quote_identifier", "quote_literal", "table_name_for_key", "validate_view_name"]

_VIEW_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A key that is already a plain lower-case name is used as it is. Hashed names
# always contain "__" and plain ones never do, so the two sets cannot meet.
_PLAIN_KEY = re.compile(r"[a-z_][a-z0-9_]*")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_MAX_PLAIN = 63
_STEM_CHARS = 40
_HASH_CHARS = 12


def _refuse_unencodable(text: str, what: str) -> None:
    if "\x00" in text:
        raise UnsafeIdentifier(f"{what} {text!r} contains a NUL character; remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeIdentifier(
            f"{what} {text!r} is not valid Unicode text (lone surrogate); fix its encoding"
        ) from None


def quote_identifier(name: str) -> str:
    """Quote ``name`` as a SQL identifier, doubling any double quote inside it.

    Parameters
    ----------
    name
        Any non-empty text.

    Returns
    -------
    str
        ``"name"`` ready to splice into SQL; it names exactly ``name``.

    Raises
    ------
    UnsafeIdentifier
        ``name`` is empty, holds a NUL character or is not encodable as UTF-8.
    """
    if not name:
        raise UnsafeIdentifier("an empty string cannot be a SQL identifier; give it a name")
    _refuse_unencodable(name, "identifier")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote ``value`` as a SQL string literal, doubling any single quote inside it.

    Use it only where a statement cannot take parameters (a view body);
    elsewhere pass values as parameters.

    Raises
    ------
    UnsafeIdentifier
        ``value`` holds a NUL character or is not encodable as UTF-8.
    """
    _refuse_unencodable(value, "string literal")
    return "'" + value.replace("'", "''") + "'"


def validate_view_name(name: str) -> str:
    """Return ``name`` if it is a plain identifier (``[A-Za-z_][A-Za-z0-9_]*``).

    Raises
    ------
    UnsafeIdentifier
        Anything else, naming the offending text.
    """
    if not isinstance(name, str) or _VIEW_NAME.fullmatch(name) is None:
        raise UnsafeIdentifier(
            f"{name!r} is not a safe table or view name: use letters, digits and "
            "underscores, not starting with a digit (table_name_for_key() derives one "
            "from any artifact key)"
        )
    return name


def table_name_for_key(key: str) -> str:
    """A safe, deterministic table name for an artifact key.

    A key that is already a lower-case plain name (``persons``) is its own
    table name. Any other key becomes a sanitised stem plus a short hash of
    the key, so ``x"; DROP TABLE runs; --`` gives ``x_drop_table_runs__<hash>``.
    Different keys give different names, also when SQL compares names without
    regard to case.

    Raises
    ------
    UnsafeIdentifier
        ``key`` is empty.
    """
    if not key:
        raise UnsafeIdentifier("an empty artifact key has no table name; give the artifact a key")
    if len(key) <= _MAX_PLAIN and "__" not in key and _PLAIN_KEY.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    stem = _NOT_WORD.sub("_", key.lower()).strip("_")[:_STEM_CHARS].strip("_") or "t"
    if stem[0].isdigit():
        stem = "t_" + stem
    return f"{stem}__{digest}"
