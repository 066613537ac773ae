"""The DuckDB catalog's tables, the forward migrations that build them, and its health check."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import duckdb

from consist.relational import (
    Migration,
    check_schema_version,
    consistency_problems,
    schema_rows,
    version_problems,
)

from ._dialect import DUCKDB
from ._verify import unreadable_parts

__all__ = ["MIGRATIONS", "Migration", "migrate", "problems_in"]


def _v1_tables(conn: duckdb.DuckDBPyConnection) -> None:
    kv_columns = """
        namespace VARCHAR NOT NULL, key VARCHAR NOT NULL, value_type VARCHAR NOT NULL,
        value_str VARCHAR, value_int BIGINT, value_float DOUBLE, value_bool BOOLEAN,
        value_json JSON"""
    for statement in (
        """CREATE TABLE runs (
            id VARCHAR PRIMARY KEY, model VARCHAR, status VARCHAR NOT NULL,
            parent_run_id VARCHAR, year INTEGER, iteration INTEGER, tags JSON NOT NULL,
            signature VARCHAR, code_hash VARCHAR, config_hash VARCHAR, input_hash VARCHAR,
            config JSON NOT NULL, facet JSON, facet_id VARCHAR,
            created_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ, cache_hit BOOLEAN NOT NULL,
            cached_from VARCHAR, error_type VARCHAR, error_message VARCHAR, meta JSON NOT NULL)""",
        """CREATE TABLE artifacts (
            id VARCHAR PRIMARY KEY, key VARCHAR NOT NULL, uri VARCHAR NOT NULL,
            driver VARCHAR NOT NULL, content_hash VARCHAR, size BIGINT, producer_run_id VARCHAR,
            meta JSON NOT NULL, created_at TIMESTAMPTZ NOT NULL, facet JSON, facet_id VARCHAR,
            abs_path VARCHAR)""",
        """CREATE TABLE run_artifact_links (
            run_id VARCHAR NOT NULL, artifact_id VARCHAR NOT NULL, direction VARCHAR NOT NULL,
            key VARCHAR NOT NULL, position INTEGER NOT NULL)""",
        """CREATE TABLE config_facet (
            facet_id VARCHAR PRIMARY KEY, namespace VARCHAR NOT NULL, facet JSON NOT NULL)""",
        f"CREATE TABLE run_config_kv (run_id VARCHAR NOT NULL, {kv_columns})",
        """CREATE TABLE artifact_facet (
            facet_id VARCHAR PRIMARY KEY, namespace VARCHAR NOT NULL, facet JSON NOT NULL)""",
        f"CREATE TABLE artifact_kv (artifact_id VARCHAR NOT NULL, {kv_columns})",
        "CREATE INDEX runs_signature ON runs (signature)",
        "CREATE INDEX runs_parent ON runs (parent_run_id)",
        "CREATE INDEX runs_model_year ON runs (model, year)",
        "CREATE INDEX artifacts_content_hash ON artifacts (content_hash)",
        "CREATE INDEX artifacts_uri ON artifacts (uri)",
        "CREATE INDEX links_run ON run_artifact_links (run_id)",
        "CREATE INDEX links_artifact ON run_artifact_links (artifact_id)",
        "CREATE INDEX run_config_kv_run ON run_config_kv (run_id)",
        "CREATE INDEX artifact_kv_artifact ON artifact_kv (artifact_id)",
    ):
        conn.execute(statement)


def _v2_file_schemas(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """CREATE TABLE file_schemas (
            artifact_id VARCHAR NOT NULL, position INTEGER NOT NULL,
            name VARCHAR NOT NULL, type VARCHAR)"""
    )
    conn.execute("CREATE INDEX file_schemas_artifact ON file_schemas (artifact_id)")
    rows = [
        tuple(row.values())
        for artifact_id, meta in conn.execute("SELECT id, meta FROM artifacts").fetchall()
        for row in schema_rows(artifact_id, json.loads(meta))
    ]
    if rows:
        conn.executemany("INSERT INTO file_schemas VALUES (?, ?, ?, ?)", rows)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, artifacts, links and facet tables", _v1_tables),
    Migration(2, "file_schemas: the columns of tabular artifacts", _v2_file_schemas),
)


def migrate(
    conn: duckdb.DuckDBPyConnection,
    where: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Bring the catalog in ``conn`` up to the last of ``migrations``; return that version.

    Raises
    ------
    CatalogError
        If the file was written by a newer Consist, or holds foreign tables.
    """
    tables = {
        name
        for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    current = 0
    if "schema_version" in tables:
        current = _scalar(conn, "SELECT coalesce(max(version), 0) FROM schema_version")
    latest = migrations[-1].version if migrations else 0
    check_schema_version(where, current, tables, latest, DUCKDB)
    for step in migrations:
        if step.version <= current:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            if current == 0 and "schema_version" not in tables:
                conn.execute(
                    """CREATE TABLE schema_version (version INTEGER PRIMARY KEY,
                       applied_at TIMESTAMPTZ NOT NULL, summary VARCHAR NOT NULL)"""
                )
                tables.add("schema_version")
            step.apply(conn)
            conn.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [step.version, dt.datetime.now(dt.UTC), step.summary],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = step.version
    return current


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str) -> Any:
    rows = conn.execute(sql).fetchall()
    return rows[0][0] if rows else None


def problems_in(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The stored catalog's problems: wrong version, unreadable blocks, dangling rows."""
    version = _scalar(conn, "SELECT max(version) FROM schema_version")
    problems = version_problems(version, MIGRATIONS[-1].version)
    unreadable = unreadable_parts(conn)
    if unreadable:
        return problems + unreadable  # the consistency queries below would only fail too
    return problems + consistency_problems(lambda sql: conn.execute(sql).fetchall())
