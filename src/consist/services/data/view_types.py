"""Column types of views: a typed empty SELECT for a registered schema, and the
SQLAlchemy class ``tracker.views.<Name>`` returns over a view's columns."""

from __future__ import annotations

from typing import Any

from consist.domain.errors import InvalidInput
from consist.domain.sql_names import quote_identifier
from consist.services.data.hybrid_views import SYSTEM_COLUMNS

# Arrow type (as pydantic models map to it) -> DuckDB column type.
DUCKDB_TYPES = {
    "int64": "BIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "binary": "BLOB",
    "date32[day]": "DATE",
    "timestamp[us]": "TIMESTAMP",
    "time64[us]": "TIME",
    "decimal128(38, 10)": "DECIMAL(38, 10)",
}


def typed_columns(model: type[Any]) -> str | None:
    """A no-row SELECT giving the model's columns their types, so missing ones read NULL."""
    from consist.services.data.validation import arrow_schema_for

    try:
        schema = arrow_schema_for(model)
    except InvalidInput:
        return None
    columns = [
        f"CAST(NULL AS {DUCKDB_TYPES.get(str(f.type), 'VARCHAR')}) AS {quote_identifier(f.name)}"
        for f in schema
        if f.name not in SYSTEM_COLUMNS
    ]
    types = {"consist_year": "BIGINT", "consist_iteration": "BIGINT"}
    columns += [
        f"CAST(NULL AS {types.get(c, 'VARCHAR')}) AS {quote_identifier(c)}" for c in SYSTEM_COLUMNS
    ]
    return f"SELECT {', '.join(columns)} WHERE false"


def _sqlalchemy_type(duckdb_type: str) -> Any:
    import sqlalchemy as sa

    upper = duckdb_type.upper()
    if upper in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT") or upper.startswith("UINT"):
        return sa.BigInteger()
    if upper in ("DOUBLE", "FLOAT", "REAL") or upper.startswith("DECIMAL"):
        return sa.Float()
    if upper == "BOOLEAN":
        return sa.Boolean()
    if upper.startswith("TIMESTAMP"):
        return sa.DateTime()
    if upper == "DATE":
        return sa.Date()
    return sa.String()


def mapped_class(name: str, sql_name: str, columns: tuple[tuple[str, str], ...]) -> Any:
    """A class mapped (imperatively, in a registry of its own) onto the view's columns."""
    try:
        import sqlalchemy as sa
        from sqlalchemy.orm import registry
    except ImportError:
        raise InvalidInput(
            "tracker.views.<Name> returns SQLAlchemy classes; install sqlalchemy "
            "(pip install sqlmodel), or query the view by its SQL name with run_query"
        ) from None
    table = sa.Table(
        sql_name, sa.MetaData(), *(sa.Column(c, _sqlalchemy_type(t)) for c, t in columns)
    )
    doc = f"View {sql_name}: {', '.join(c for c, _ in columns)}."
    cls = type(f"V{name}" if not name.startswith("v_") else name, (), {"__doc__": doc})
    # A view has no primary key; the mapper needs one to build, never to select.
    registry().map_imperatively(cls, table, primary_key=list(table.columns))
    return cls
