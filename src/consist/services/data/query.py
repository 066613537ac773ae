"""SQL over a tracker: plain strings or SQLAlchemy/SQLModel statements, results as tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from consist.domain.errors import InvalidInput

if TYPE_CHECKING:
    from consist.services.data.tracker_data import DataVirtualization

RESULT_FORMATS = ("pandas", "arrow", "polars")


def to_sql(statement: Any, dialect: str = "postgresql") -> str:
    """SQL text of a SQLAlchemy selectable, with parameters inlined as literals.

    DuckDB reads PostgreSQL-flavoured SQL; SQLite catalogs use the sqlite dialect.
    """
    if isinstance(statement, str):
        return statement
    compile_ = getattr(statement, "compile", None)
    if compile_ is None:
        raise InvalidInput(
            f"run_query takes SQL text or a SQLAlchemy/SQLModel statement, "
            f"not {type(statement).__name__}"
        )
    from sqlalchemy.dialects import postgresql, sqlite

    chosen: Any = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()  # type: ignore[no-untyped-call]
    compiled = compile_(dialect=chosen, compile_kwargs={"literal_binds": True})
    return str(compiled)


def convert(table: Any, as_: str) -> Any:
    """An Arrow table as pandas (default), Arrow or polars."""
    if as_ == "arrow":
        return table
    if as_ == "pandas":
        return table.to_pandas()
    if as_ == "polars":
        import polars as pl

        return pl.from_arrow(table)
    raise InvalidInput(f"as_ must be one of {RESULT_FORMATS}, not {as_!r}")


def run_query(
    data: DataVirtualization,
    statement: Any,
    params: Sequence[Any] | None = None,
    as_: str = "pandas",
    allow_write: bool = False,
) -> Any:
    """Run SQL (or a SQLAlchemy statement) against the catalog and views.

    Raises ``WriteNotAllowed`` for anything but a read unless ``allow_write``.
    Parts of a statement that read the current tracker (``consist.pivot_facets``)
    need it entered: ``Tracker.run_query`` does that.
    """
    if as_ not in RESULT_FORMATS:
        raise InvalidInput(f"as_ must be one of {RESULT_FORMATS}, not {as_!r}")
    sql = to_sql(statement, "postgresql")
    # Views live in DuckDB (PostgreSQL-flavoured); only catalog-only statements
    # are compiled for the catalog's own dialect.
    on_catalog = data.sql_target(sql) == "catalog"
    foreign = not isinstance(statement, str) and data.sql_dialect != "postgresql"
    if foreign and on_catalog:
        sql = to_sql(statement, data.sql_dialect)
    if not allow_write:
        from consist.services.data.sql_guard import ensure_read_only

        engine = "sqlite" if on_catalog and data.sql_dialect == "sqlite" else "duckdb"
        ensure_read_only(sql, engine)
    return convert(data.sql(sql, params), as_)
