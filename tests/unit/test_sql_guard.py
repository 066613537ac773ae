"""The read-only check of run_query: reads pass, anything that writes is refused."""

from __future__ import annotations

import pytest

from consist.domain.errors import InvalidInput, WriteNotAllowed
from consist.services.data.sql_guard import ensure_read_only

READS = [
    "SELECT * FROM runs",
    "select id from runs where status = 'completed';",
    "FROM runs",
    "WITH a AS (SELECT 1 AS x) SELECT * FROM a",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT 'DROP TABLE runs' AS text",
    "-- DROP TABLE runs\nSELECT 1",
    "SELECT * FROM runs WHERE id = ?",
    "DESCRIBE runs",
    "PRAGMA table_info('runs')",
    "EXPLAIN SELECT * FROM runs",
    "SELECT count(*) FROM v_trips t JOIN runs r ON r.id = t.consist_run_id",
]
WRITES = [
    "DROP TABLE runs",
    "drop table if exists runs",
    "SELECT 1; DROP TABLE runs",
    "select 1; delete from runs",
    "CREATE TABLE x AS SELECT * FROM runs",
    "CREATE VIEW v AS SELECT 1",
    "INSERT INTO runs (id) VALUES ('x')",
    "UPDATE runs SET status = 'failed'",
    "DELETE FROM runs",
    "ALTER TABLE runs ADD COLUMN x INTEGER",
    "ATTACH 'other.db' AS other",
    "DETACH other",
    "COPY runs TO 'out.csv'",
    "COPY (SELECT * FROM runs) TO 'out.csv'",
    "PRAGMA writable_schema = 1",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA user_version = 7",
    "SELECT * INTO copy_of_runs FROM runs",
    "WITH d AS (DELETE FROM runs RETURNING *) SELECT * FROM d",
    "TRUNCATE runs",
    "SET threads = 1",
    "BEGIN",
    "CHECKPOINT",
    "VACUUM",
    "EXPLAIN ANALYZE DELETE FROM runs",
    "INSTALL httpfs",
]


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
@pytest.mark.parametrize("sql", READS)
def test_reads_pass(sql: str, dialect: str) -> None:
    """Queries, including keywords inside strings and comments, are let through."""
    if dialect == "sqlite" and sql.startswith(("FROM", "DESCRIBE", "EXPLAIN")):
        pytest.skip("DuckDB syntax")
    ensure_read_only(sql, dialect)


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
@pytest.mark.parametrize("sql", WRITES)
def test_writes_are_refused_with_the_way_out(sql: str, dialect: str) -> None:
    """Every statement that can change the database, however it is smuggled, is refused."""
    with pytest.raises(WriteNotAllowed, match="allow_write=True") as caught:
        ensure_read_only(sql, dialect)
    assert isinstance(caught.value, ValueError)


def test_empty_sql_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="no statement"):
        ensure_read_only("  ;  ", "duckdb")


def test_a_typo_is_reported_as_a_syntax_problem_first() -> None:
    """A misspelt SELECT is most likely a typo, not a write: the message says so first."""
    with pytest.raises(WriteNotAllowed, match=r"does not parse.*check its syntax") as caught:
        ensure_read_only("selec 1", "duckdb")
    assert "allow_write=True" in str(caught.value)  # the way out stays, for SQL sqlglot lacks
