"""Ingestion: an artifact's rows into the table store as Arrow, with system columns.

Every ingested artifact gets one row in the ``consist_ingestions`` registry
table of the table store (which hot table holds its rows, its columns, the
schema it was checked against). Artifact metadata is frozen in the catalog,
so the registry is how views and ``load_df`` learn that rows were ingested.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import Artifact, Run
from consist.domain.errors import CatalogError, InvalidInput, NotFound
from consist.domain.sql_names import table_name_for_key
from consist.ports import TableStore
from consist.services.data.hybrid_views import SYSTEM_COLUMNS
from consist.services.data.validation import (
    arrow_schema_for,
    check_columns,
    validate_rows,
)

if TYPE_CHECKING:
    from consist.services.data.tracker_data import DataVirtualization

__all__ = [
    "REGISTRY",
    "Ingestion",
    "hot_table_for_key",
    "ingest",
    "ingestions",
    "schema_key",
    "to_arrow",
]

logger = logging.getLogger("consist.ingest")
REGISTRY = "consist_ingestions"
_HOT_PREFIX = "hot_"


@attrs.frozen
class Ingestion:
    """Where one artifact's rows were ingested: the registry's row for it."""

    artifact_id: str
    key: str
    table: str
    rows: int
    columns: tuple[str, ...]
    schema: str | None
    run_id: str | None
    ingested_at: dt.datetime


def hot_table_for_key(key: str) -> str:
    """The table holding ingested rows of ``key`` (prefixed: never a catalog table's name)."""
    return _HOT_PREFIX + table_name_for_key(key)


def schema_key(model: type[Any]) -> str:
    """The artifact key a schema class stands for: ``__tablename__`` or the lower-cased name."""
    name = getattr(model, "__tablename__", None)
    return name if isinstance(name, str) and name else model.__name__.lower()


def to_arrow(data: Any) -> Any:
    """A ``pyarrow.Table`` from rows (list of dicts), pandas, polars or Arrow data.

    Raises
    ------
    InvalidInput
        For anything else (the message names the type).
    """
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        from consist.services.data.frames import pandas_rows

        return pandas_rows(data)
    if module == "polars" and hasattr(data, "to_arrow"):
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if isinstance(data, list | tuple) and all(isinstance(row, Mapping) for row in data):
        try:
            return pa.Table.from_pylist(list(data))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"the rows do not form a table ({exc}); give every column one type, "
                "or pass schema= to have each row checked"
            ) from None
    raise InvalidInput(
        f"ingest takes rows (a list of dicts), a pandas or polars DataFrame or a pyarrow "
        f"Table, not {type(data).__name__}"
    )


def read_file(path: Path, driver: str) -> Any:
    """An artifact's Parquet or CSV file as a ``pyarrow.Table``."""
    if driver == "parquet":
        import pyarrow.parquet as pq

        from consist.services.data.frames import without_position_columns

        return without_position_columns(pq.read_table(path))
    if driver == "csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    raise InvalidInput(
        f"cannot ingest the file of driver {driver!r} ({path}) by itself; pass its rows "
        "as data= (a DataFrame, Arrow table or list of dicts)"
    )


def _conform(table: Any, model: type[Any]) -> Any:
    """Cast the columns the model declares to its Arrow types; other columns stay as they are."""
    import pyarrow as pa

    wanted = arrow_schema_for(model)
    columns = []
    for name in table.column_names:
        index = wanted.get_field_index(name)
        column = table.column(name)
        if index >= 0 and column.type != wanted.field(index).type:
            try:
                column = column.cast(wanted.field(index).type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InvalidInput(
                    f"column {name!r} cannot be stored as {wanted.field(index).type} "
                    f"as {model.__name__} declares it: {exc}"
                ) from None
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _with_system_columns(table: Any, artifact: Artifact, run: Run | None) -> Any:
    import pyarrow as pa

    own = [c for c in table.column_names if c.lower() in SYSTEM_COLUMNS]
    if own:
        # System columns come from the catalog, never from the data.
        logger.info("ingest %s: replacing the data's own %s", artifact.key, own)
        table = table.drop_columns(own)
    n = table.num_rows
    values: dict[str, tuple[Any, Any]] = {
        "consist_run_id": (artifact.producer_run_id, pa.string()),
        "consist_scenario_id": (run.parent_run_id if run else None, pa.string()),
        "consist_year": (run.year if run else None, pa.int64()),
        "consist_iteration": (run.iteration if run else None, pa.int64()),
        "consist_artifact_id": (artifact.id, pa.string()),
    }
    for name, (value, arrow_type) in values.items():
        table = table.append_column(
            pa.field(name, arrow_type), pa.repeat(value, n).cast(arrow_type)
        )
    return table


def _producer(dv: DataVirtualization, artifact: Artifact) -> Run | None:
    run_id = artifact.producer_run_id
    if run_id is None:
        return None
    active = dv.run_in_progress()
    if active is not None and active.id == run_id:
        return active
    try:
        return dv.get_run(run_id)
    except NotFound:
        return None


def ingest(
    dv: DataVirtualization,
    store: TableStore,
    artifact: Artifact,
    data: Any = None,
    schema: type[Any] | None = None,
) -> Ingestion:
    """Write ``artifact``'s rows (its file when ``data`` is None) to its hot table.

    Strict mode (``schema`` given) validates every row first and writes
    nothing when one fails. Re-ingesting replaces the artifact's rows.
    """
    import pyarrow as pa

    as_rows = isinstance(data, list | tuple)
    if schema is not None and as_rows:
        validate_rows(data, schema)  # before Arrow, which would refuse mixed types less clearly
    if data is None:
        table = read_file(dv.artifact_path(artifact), artifact.driver)
    else:
        table = to_arrow(data)
    if schema is not None:
        check_columns(table, schema)
        if not as_rows:
            validate_rows(table, schema)
        table = _conform(table, schema)
    run = _producer(dv, artifact)
    table = _with_system_columns(table, artifact, run)
    hot = hot_table_for_key(artifact.key)
    count = store.write_rows(hot, table, artifact_id=artifact.id)
    record = Ingestion(
        artifact_id=artifact.id,
        key=artifact.key,
        table=hot,
        rows=count,
        columns=tuple(c for c in table.column_names if c not in SYSTEM_COLUMNS),
        schema=schema.__name__ if schema is not None else _meta_schema(artifact),
        run_id=artifact.producer_run_id,
        ingested_at=dt.datetime.now(dt.UTC),
    )
    row = {
        "key": record.key,
        "table_name": record.table,
        "row_count": record.rows,
        "columns": json.dumps(record.columns),
        "schema_name": record.schema,
        "run_id": record.run_id,
        "ingested_at": record.ingested_at,
    }
    registry_schema = pa.schema(
        [
            ("key", pa.string()),
            ("table_name", pa.string()),
            ("row_count", pa.int64()),
            ("columns", pa.string()),
            ("schema_name", pa.string()),
            ("run_id", pa.string()),
            ("ingested_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    store.write_rows(
        REGISTRY, pa.Table.from_pylist([row], schema=registry_schema), artifact_id=artifact.id
    )
    return record


def _meta_schema(artifact: Artifact) -> str | None:
    value = artifact.meta.get("schema")
    return value if isinstance(value, str) else None


def ingestions(store: TableStore, artifact_id: str | None = None) -> list[Ingestion]:
    """The registry's rows: every ingested artifact, or the one asked for."""
    if REGISTRY not in store.tables():
        return []
    sql = (
        "SELECT consist_artifact_id, key, table_name, row_count, columns, schema_name, "
        f"run_id, ingested_at FROM {REGISTRY}"
    )
    params: list[Any] = []
    if artifact_id is not None:
        sql += " WHERE consist_artifact_id = ?"
        params.append(artifact_id)
    try:
        rows = store.query(sql, params).to_pylist()
    except CatalogError:
        logger.warning("cannot read the ingestion registry", exc_info=True)
        return []
    return [
        Ingestion(
            artifact_id=r["consist_artifact_id"],
            key=r["key"],
            table=r["table_name"],
            rows=r["row_count"],
            columns=tuple(json.loads(r["columns"])),
            schema=r["schema_name"],
            run_id=r["run_id"],
            ingested_at=r["ingested_at"],
        )
        for r in rows
    ]
