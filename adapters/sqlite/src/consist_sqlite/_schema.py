"""The SQLite catalog's tables, and the forward migrations that build and upgrade them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import sqlite_utils

from consist.relational import OWN_TABLES, Migration, check_schema_version, schema_rows

from ._dialect import SQLITE

__all__ = ["MIGRATIONS", "OWN_TABLES", "Migration", "migrate"]


_KV = {
    "namespace": str,
    "key": str,
    "value_type": str,
    "value_str": str,
    "value_int": int,
    "value_float": float,
    "value_bool": int,
    "value_json": str,
}


def _v1_tables(db: sqlite_utils.Database) -> None:
    db.table("runs").create(
        {
            "id": str, "model": str, "status": str, "parent_run_id": str, "year": int,
            "iteration": int, "tags": str, "signature": str, "code_hash": str,
            "config_hash": str, "input_hash": str, "config": str, "facet": str,
            "facet_id": str, "created_at": str, "ended_at": str, "cache_hit": int,
            "cached_from": str, "error_type": str, "error_message": str, "meta": str,
        },
        pk="id",
        not_null={"status", "tags", "config", "created_at", "cache_hit", "meta"},
    )  # fmt: skip
    db.table("artifacts").create(
        {
            "id": str, "key": str, "uri": str, "driver": str, "content_hash": str,
            "size": int, "producer_run_id": str, "meta": str, "created_at": str,
            "facet": str, "facet_id": str, "abs_path": str,
        },
        pk="id",
        not_null={"key", "uri", "driver", "meta", "created_at"},
    )  # fmt: skip
    db.table("run_artifact_links").create(
        {"run_id": str, "artifact_id": str, "direction": str, "key": str, "position": int},
        not_null={"run_id", "artifact_id", "direction", "key", "position"},
    )
    for facets in ("config_facet", "artifact_facet"):
        db.table(facets).create(
            {"facet_id": str, "namespace": str, "facet": str},
            pk="facet_id",
            not_null={"namespace", "facet"},
        )
    db.table("run_config_kv").create(
        {"run_id": str, **_KV}, not_null={"run_id", "namespace", "key"}
    )
    db.table("artifact_kv").create(
        {"artifact_id": str, **_KV}, not_null={"artifact_id", "namespace", "key"}
    )
    for table, columns in (
        ("runs", ["signature"]),
        ("runs", ["parent_run_id"]),
        ("runs", ["model", "year"]),
        ("runs", ["created_at"]),
        ("artifacts", ["content_hash"]),
        ("artifacts", ["uri"]),
        ("run_artifact_links", ["run_id"]),
        ("run_artifact_links", ["artifact_id"]),
        ("run_config_kv", ["run_id"]),
        ("run_config_kv", ["namespace", "key"]),
        ("artifact_kv", ["artifact_id"]),
        ("artifact_kv", ["namespace", "key"]),
    ):
        db.table(table).create_index(columns, index_name=f"{table}_{'_'.join(columns)}")


def _v2_file_schemas(db: sqlite_utils.Database) -> None:
    db.table("file_schemas").create(
        {"artifact_id": str, "position": int, "name": str, "type": str},
        not_null={"artifact_id", "position", "name"},
    )
    db.table("file_schemas").create_index(["artifact_id"], index_name="file_schemas_artifact_id")
    rows = [
        row
        for artifact_id, meta in db.conn.execute("SELECT id, meta FROM artifacts").fetchall()
        for row in schema_rows(artifact_id, json.loads(meta))
    ]
    if rows:
        db.table("file_schemas").insert_all(rows)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, artifacts, links and facet tables", _v1_tables),
    Migration(2, "file_schemas: the columns of tabular artifacts", _v2_file_schemas),
)


def current_version(db: sqlite_utils.Database) -> int:
    """The schema version stored in ``db`` (0 for an empty file)."""
    if not db.table("schema_version").exists():
        return 0
    row = db.conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def migrate(
    db: sqlite_utils.Database,
    where: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Apply the steps of ``migrations`` newer than the file; call inside a write transaction.

    Raises
    ------
    CatalogError
        If the file was written by a newer Consist, or holds foreign tables.
    """
    current = current_version(db)
    latest = migrations[-1].version if migrations else 0
    check_schema_version(where, current, set(db.table_names()), latest, SQLITE)
    if current == 0:
        db.table("schema_version").create(
            {"version": int, "applied_at": str, "summary": str}, pk="version", if_not_exists=True
        )
    for step in migrations:
        if step.version > current:
            step.apply(db)
            db.table("schema_version").insert(
                {
                    "version": step.version,
                    "applied_at": dt.datetime.now(dt.UTC).isoformat(),
                    "summary": step.summary,
                }
            )
            current = step.version
    return current
