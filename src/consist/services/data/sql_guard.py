"""Telling a query that only reads from one that changes the database, before it runs.

``run_query`` and ``consist query`` refuse anything but reads unless the
caller opts in. The decision is made on sqlglot's syntax tree, not on the
text: a regex cannot tell ``SELECT 'DROP TABLE runs'`` or a comment from a
statement, nor see a ``DELETE`` inside a CTE or a second statement after a
``;``. Anything sqlglot cannot place in a known read form is refused too,
so a statement it does not understand is never run by accident.
"""

from __future__ import annotations

import logging
from typing import Any

from consist.domain.errors import InvalidInput, WriteNotAllowed

# Read-only PRAGMAs of DuckDB and SQLite. Others (``writable_schema``,
# ``wal_checkpoint``, ``optimize``, any assignment) change the database.
_READ_PRAGMAS = frozenset(
    {
        "collation_list",
        "compile_options",
        "database_list",
        "database_size",
        "foreign_key_check",
        "foreign_key_list",
        "function_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "metadata_info",
        "module_list",
        "platform",
        "pragma_list",
        "quick_check",
        "show",
        "show_tables",
        "show_tables_expanded",
        "storage_info",
        "table_info",
        "table_list",
        "table_xinfo",
        "version",
    }
)
_WRITE_HINT = "pass allow_write=True (CLI: consist query --write) to run it anyway"


def ensure_read_only(sql: str, dialect: str) -> None:
    """Raise unless every statement in ``sql`` only reads.

    Parameters
    ----------
    sql
        The SQL text as it will run.
    dialect
        ``"duckdb"`` or ``"sqlite"``: whose grammar ``sql`` is in.

    Raises
    ------
    WriteNotAllowed
        If a statement creates, changes, drops, attaches, copies, sets or
        cannot be recognised as a read.
    """
    import sqlglot
    from sqlglot.errors import SqlglotError

    # sqlglot logs a warning for each statement it falls back on; the refusal says enough.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=dialect) if s is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WriteNotAllowed(
            f"this SQL does not parse ({first}), so whether it only reads is unknown: "
            f"check its syntax; if the database accepts it as written, {_WRITE_HINT}"
        ) from None
    if not statements:
        raise InvalidInput("the SQL holds no statement")
    for statement in statements:
        reason = _why_not_read(statement, dialect)
        if reason is not None:
            several = " (one of several statements)" if len(statements) > 1 else ""
            raise WriteNotAllowed(
                f"refused{several}: {_short(statement.sql(dialect=dialect))!r} {reason}; "
                f"queries are read-only by default: {_WRITE_HINT}"
            )


def _why_not_read(statement: Any, dialect: str) -> str | None:
    from sqlglot import exp

    writes = (
        exp.Alter,
        exp.Analyze,
        exp.Attach,
        exp.Cache,
        exp.Command,
        exp.Commit,
        exp.Copy,
        exp.Create,
        exp.Delete,
        exp.Detach,
        exp.Drop,
        exp.Export,
        exp.Grant,
        exp.Insert,
        exp.Install,
        exp.Into,
        exp.LoadData,
        exp.Merge,
        exp.Refresh,
        exp.Revoke,
        exp.Rollback,
        exp.Set,
        exp.Transaction,
        exp.TruncateTable,
        exp.Uncache,
        exp.Update,
        exp.Use,
    )
    if isinstance(statement, exp.Command) and statement.name.upper() == "EXPLAIN":
        inner = str(statement.expression.this if statement.expression else "")
        # EXPLAIN ANALYZE runs the statement it explains, so that one must read too.
        inner = inner.strip().removeprefix("ANALYZE").removeprefix("analyze")
        try:
            ensure_read_only(inner, dialect)
        except WriteNotAllowed:
            return "explains a statement that changes the database"
        return None
    if isinstance(statement, exp.Pragma):
        name = _pragma_name(statement)
        if name in _READ_PRAGMAS:
            return None
        return f"is PRAGMA {name or '?'}, which may change the database"
    reads = (exp.Select, exp.SetOperation, exp.Describe, exp.Show, exp.Summarize, exp.Pivot)
    if not isinstance(statement, reads):
        return f"is a {_kind(statement)} statement, not a query"
    for node in statement.walk():
        if isinstance(node, writes):
            return f"contains a {_kind(node)}"
    return None


def _pragma_name(pragma: Any) -> str:
    from sqlglot import exp

    target = pragma.this
    if isinstance(target, exp.EQ):
        target = target.this
    return str(getattr(target, "name", "") or "").lower()


def _kind(node: Any) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Command):
        return str(node.name).upper() or "command"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO (which creates a table)"
    key = str(node.key).upper()
    return {"TRUNCATETABLE": "TRUNCATE", "COLUMN": "bare name"}.get(key, key)


def _short(sql: str, width: int = 60) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
