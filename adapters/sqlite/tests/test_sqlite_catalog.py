"""SQLiteCatalog: the relational-layout contract, and what is SQLite's own (WAL, locks, tokens)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from consist.domain import RunQuery
from consist.domain.errors import CatalogLocked
from consist.testing.sql_catalog_contracts import SQLCatalogContract, record_with_output
from consist_sqlite._catalog import SQLiteCatalog
from consist_sqlite._schema import MIGRATIONS, migrate


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "c.sqlite"


def test_the_file_is_in_wal_mode(db_path: Path) -> None:
    SQLiteCatalog(f"sqlite:///{db_path}").close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_writer_holding_the_file_too_long_is_catalog_locked(db_path: Path) -> None:
    """A transaction held past the budget gives CatalogLocked, naming the file and the fix."""
    catalog = SQLiteCatalog(f"sqlite:///{db_path}?lock_timeout=0.5")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sqlite3, time; c = sqlite3.connect({str(db_path)!r}, isolation_level=None);"
            " c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(CatalogLocked, match="lock_timeout") as caught:
            catalog.record(record_with_output("r1"))
        assert time.monotonic() - started < 3
        assert str(db_path) in str(caught.value)
        assert catalog.run_ids() == set()  # readers are not blocked by the writer (WAL)
    finally:
        holder.kill()
        holder.wait()
    catalog.record(record_with_output("r1"))
    assert catalog.run_ids() == {"r1"}
    catalog.close()


def test_change_token_holds_across_reads_and_moves_with_any_commit(db_path: Path) -> None:
    """Reads keep the token; our writes, another process's writes and a schema
    change move it; a closed catalog's token equals nothing."""
    url = f"sqlite:///{db_path}"
    catalog = SQLiteCatalog(url)
    token = catalog.change_token()
    catalog.find_runs(RunQuery())
    catalog.query_sql("SELECT count(*) FROM runs")
    assert catalog.change_token() == token

    catalog.record(record_with_output("ours"))
    ours = catalog.change_token()
    assert ours != token

    script = (
        "import sys, datetime as dt; from consist.domain import Run, RunRecord; "
        "from consist_sqlite import SQLiteCatalog; c = SQLiteCatalog(sys.argv[1]); "
        "c.record(RunRecord(Run(id='theirs', created_at=dt.datetime(2030, 1, 1, "
        "tzinfo=dt.UTC)))); c.close()"
    )
    subprocess.run([sys.executable, "-c", script, url], check=True, timeout=60)
    theirs = catalog.change_token()
    assert theirs != ours

    with sqlite3.connect(db_path) as other:
        other.execute("CREATE TABLE scratch (x)")
    assert catalog.change_token() != theirs

    catalog.close()
    assert catalog.change_token() != catalog.change_token()


class TestSQLiteLayout(SQLCatalogContract):
    catalog_class = SQLiteCatalog
    scheme, suffix = "sqlite", ".sqlite"

    def write_version_1_catalog(self, path: Path) -> None:
        db = sqlite_utils.Database(path)
        assert migrate(db, str(path), MIGRATIONS[:1]) == 1
        db.table("artifacts").insert(
            {
                "id": "a1",
                "key": "persons",
                "uri": "outputs://p.parquet",
                "driver": "parquet",
                "meta": json.dumps(
                    {"file_schema": [{"name": "id", "type": "int64"}, {"name": "age"}]}
                ),
                "created_at": "2030-01-01T00:00:00.000000+00:00",
            }
        )
        assert "file_schemas" not in db.table_names()
        db.close()

    def write_foreign_file(self, path: Path) -> None:
        db = sqlite_utils.Database(path)
        db.table("runs").insert({"x": 1})
        db.close()

    def cut_to_damage(self, data: bytes) -> bytes:
        return data[: len(data) // 3]

    def make_writes_fail(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import consist_sqlite._catalog as module

        real_write = module._write

        def write_then_fail(db: sqlite_utils.Database, rows: object) -> None:
            real_write(db, rows)  # type: ignore[arg-type]
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(module, "_write", write_then_fail)
