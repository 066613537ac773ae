"""Writing records to the DuckDB catalog: typed Arrow tables, applied in one statement each."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from consist.relational import RecordRows, flat

__all__ = ["arrow_tables", "write_new_rows"]

_TS = pa.timestamp("us", tz="UTC")

_KV_TYPES = {
    "namespace": pa.string(),
    "key": pa.string(),
    "value_type": pa.string(),
    "value_str": pa.string(),
    "value_int": pa.int64(),
    "value_float": pa.float64(),
    "value_bool": pa.bool_(),
    "value_json": pa.string(),
}
_FACET_TYPES = {"facet_id": pa.string(), "namespace": pa.string(), "facet": pa.string()}
_SCHEMAS: dict[str, pa.Schema] = {
    "runs": pa.schema(
        [
            ("id", pa.string()),
            ("model", pa.string()),
            ("status", pa.string()),
            ("parent_run_id", pa.string()),
            ("year", pa.int32()),
            ("iteration", pa.int32()),
            ("tags", pa.string()),
            ("signature", pa.string()),
            ("code_hash", pa.string()),
            ("config_hash", pa.string()),
            ("input_hash", pa.string()),
            ("config", pa.string()),
            ("facet", pa.string()),
            ("facet_id", pa.string()),
            ("created_at", _TS),
            ("ended_at", _TS),
            ("cache_hit", pa.bool_()),
            ("cached_from", pa.string()),
            ("error_type", pa.string()),
            ("error_message", pa.string()),
            ("meta", pa.string()),
        ]
    ),
    "artifacts": pa.schema(
        [
            ("id", pa.string()),
            ("key", pa.string()),
            ("uri", pa.string()),
            ("driver", pa.string()),
            ("content_hash", pa.string()),
            ("size", pa.int64()),
            ("producer_run_id", pa.string()),
            ("meta", pa.string()),
            ("created_at", _TS),
            ("facet", pa.string()),
            ("facet_id", pa.string()),
            ("abs_path", pa.string()),
        ]
    ),
    "run_artifact_links": pa.schema(
        [
            ("run_id", pa.string()),
            ("artifact_id", pa.string()),
            ("direction", pa.string()),
            ("key", pa.string()),
            ("position", pa.int32()),
        ]
    ),
    "config_facet": pa.schema(list(_FACET_TYPES.items())),
    "run_config_kv": pa.schema([("run_id", pa.string()), *_KV_TYPES.items()]),
    "artifact_facet": pa.schema(list(_FACET_TYPES.items())),
    "artifact_kv": pa.schema([("artifact_id", pa.string()), *_KV_TYPES.items()]),
    "file_schemas": pa.schema(
        [
            ("artifact_id", pa.string()),
            ("position", pa.int32()),
            ("name", pa.string()),
            ("type", pa.string()),
        ]
    ),
}


def arrow_tables(rows: RecordRows) -> dict[str, pa.Table]:
    """One Arrow table per catalog table, typed like the columns they fill."""
    by_table = {
        "runs": list(rows.runs.values()),
        "artifacts": list(rows.artifacts.values()),
        "run_artifact_links": flat(rows.links),
        "config_facet": list(rows.config_facets.values()),
        "run_config_kv": flat(rows.run_kv),
        "artifact_facet": list(rows.artifact_facets.values()),
        "artifact_kv": flat(rows.artifact_kv),
        "file_schemas": flat(rows.schemas),
    }
    return {
        name: pa.Table.from_pylist(table_rows, schema=_SCHEMAS[name])
        for name, table_rows in by_table.items()
    }


def write_new_rows(conn: duckdb.DuckDBPyConnection, filled: set[str]) -> None:
    """Apply the registered ``_new_*`` tables; ``filled`` names those with any rows."""
    # Each statement costs DuckDB a millisecond or more even on empty input,
    # so inserts of empty batches are skipped; the deletes always run, since
    # they clear what an earlier version of a run or artifact left behind.
    steps = (
        ("runs", "INSERT OR REPLACE INTO runs BY NAME SELECT * FROM _new_runs"),
        ("artifacts", "INSERT OR REPLACE INTO artifacts BY NAME SELECT * FROM _new_artifacts"),
        (None, "DELETE FROM run_artifact_links WHERE run_id IN (SELECT id FROM _new_runs)"),
        (
            "run_artifact_links",
            "INSERT INTO run_artifact_links BY NAME SELECT * FROM _new_run_artifact_links",
        ),
        (
            "config_facet",
            "INSERT OR IGNORE INTO config_facet BY NAME SELECT * FROM _new_config_facet",
        ),
        (None, "DELETE FROM run_config_kv WHERE run_id IN (SELECT id FROM _new_runs)"),
        ("run_config_kv", "INSERT INTO run_config_kv BY NAME SELECT * FROM _new_run_config_kv"),
        (
            "artifact_facet",
            "INSERT OR IGNORE INTO artifact_facet BY NAME SELECT * FROM _new_artifact_facet",
        ),
        (None, "DELETE FROM artifact_kv WHERE artifact_id IN (SELECT id FROM _new_artifacts)"),
        ("artifact_kv", "INSERT INTO artifact_kv BY NAME SELECT * FROM _new_artifact_kv"),
        (None, "DELETE FROM file_schemas WHERE artifact_id IN (SELECT id FROM _new_artifacts)"),
        ("file_schemas", "INSERT INTO file_schemas BY NAME SELECT * FROM _new_file_schemas"),
    )
    for table, statement in steps:
        if table is None or table in filled:
            conn.execute(statement)
