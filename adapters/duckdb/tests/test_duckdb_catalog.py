"""DuckDBCatalog: the relational-layout contract, and what is DuckDB's own (file leases, locks,
tokens, the shared table store)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from consist.domain.errors import CatalogLocked
from consist.testing.sql_catalog_contracts import T0, SQLCatalogContract, record_with_output
from consist_duckdb._catalog import MIGRATIONS, DuckDBCatalog, migrate


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "c.duckdb"


def test_idle_catalog_releases_the_file_for_other_processes(db_path: Path) -> None:
    """After keep_open seconds without calls, another process can open the file."""
    catalog = DuckDBCatalog(f"duckdb:///{db_path}", keep_open=0.1)
    catalog.record(record_with_output("r1"))
    time.sleep(0.5)
    probe = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(db_path)!r}).close()"],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr
    assert catalog.get_run("r1").id == "r1"
    catalog.close()


def _hold_file(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True);"
            f" time.sleep({seconds}); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_file_held_too_long_is_catalog_locked(db_path: Path) -> None:
    """When another process keeps the file past the budget, the error says what to do."""
    DuckDBCatalog(f"duckdb:///{db_path}").close()
    holder = _hold_file(db_path, 5)
    try:
        started = time.monotonic()
        with pytest.raises(CatalogLocked, match="lock_timeout") as caught:
            DuckDBCatalog(f"duckdb:///{db_path}?lock_timeout=0.5")
        assert time.monotonic() - started < 3
        assert str(db_path) in str(caught.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_brief_lock_is_waited_out(db_path: Path) -> None:
    """A lock released within the budget costs a wait, not an error."""
    DuckDBCatalog(f"duckdb:///{db_path}").close()
    holder = _hold_file(db_path, 0.7)
    try:
        catalog = DuckDBCatalog(f"duckdb:///{db_path}", lock_timeout=10)
        catalog.record(record_with_output("r1"))
        catalog.close()
    finally:
        holder.wait()


def test_an_empty_file_becomes_a_new_catalog(db_path: Path) -> None:
    """A 0-byte file holds nothing: it is opened as a new catalog (as SQLite does),
    which the Tracker then rebuilds from the snapshots."""
    db_path.write_bytes(b"")
    catalog = DuckDBCatalog(f"duckdb:///{db_path}")
    catalog.record(record_with_output("r1"))
    assert catalog.run_ids() == {"r1"}
    catalog.close()


def test_change_token_holds_across_reads_and_moves_with_writes_and_reopening(
    db_path: Path,
) -> None:
    """While the file is held, reads keep the token and writes change it; an idle
    close (when other processes may write) makes it equal to nothing."""
    catalog = DuckDBCatalog(f"duckdb:///{db_path}", keep_open=60)
    catalog.record(record_with_output("r1"))
    token = catalog.change_token()
    catalog.get_run("r1")
    catalog.find_artifacts(key="table")
    assert catalog.change_token() == token
    catalog.record(record_with_output("r2"))
    written = catalog.change_token()
    assert written != token
    catalog.close()
    assert catalog.change_token() != catalog.change_token()  # closed: never equal
    catalog.get_run("r2")  # reopens
    assert catalog.change_token() not in (token, written)
    catalog.close()


def test_shared_table_store_reads_keep_the_token_and_writes_move_it(db_path: Path) -> None:
    """The data tables in the catalog's file: SELECTs run on the read cursor and
    change nothing; ingesting and creating views do."""
    import pyarrow as pa

    catalog = DuckDBCatalog(f"duckdb:///{db_path}", keep_open=60)
    tables = catalog.table_store()
    tables.write_rows("hot_people", pa.table({"v": [1, 2]}), artifact_id="a1")
    token = tables.change_token()
    assert tables.query("SELECT sum(v) AS s FROM hot_people").to_pylist() == [{"s": 3}]
    assert tables.tables() == ["hot_people"]
    assert tables.has_rows("hot_people", "a1")
    assert tables.change_token() == token == catalog.change_token()
    tables.query("CREATE TABLE scratch AS SELECT 1 AS v")  # not a SELECT: counted as a write
    assert tables.change_token() != token
    catalog.close()


class TestDuckDBLayout(SQLCatalogContract):
    catalog_class = DuckDBCatalog
    scheme, suffix = "duckdb", ".duckdb"

    @pytest.mark.slow
    def test_four_processes_writing_one_file_lose_nothing(self, db_path: Path) -> None:
        super().test_four_processes_writing_one_file_lose_nothing(db_path)

    def write_version_1_catalog(self, path: Path) -> None:
        conn = duckdb.connect(str(path))
        assert migrate(conn, str(path), MIGRATIONS[:1]) == 1
        conn.execute(
            "INSERT INTO artifacts (id, key, uri, driver, meta, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                "a1",
                "persons",
                "outputs://p.parquet",
                "parquet",
                json.dumps({"file_schema": [{"name": "id", "type": "int64"}, {"name": "age"}]}),
                T0,
            ],
        )
        tables = conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
        assert ("file_schemas",) not in tables
        conn.close()

    def write_foreign_file(self, path: Path) -> None:
        conn = duckdb.connect(str(path))
        conn.execute("CREATE TABLE runs (x INTEGER)")
        conn.close()

    def cut_to_damage(self, data: bytes) -> bytes:
        # Keep the file headers, lose every data block: where a cut at some
        # other point lands decides whether the tables read still survive.
        return data[: 3 * 4096 + 512]

    def make_writes_fail(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import consist_duckdb._catalog as module

        real_write = module.write_new_rows

        def write_then_fail(conn: duckdb.DuckDBPyConnection, filled: set[str]) -> None:
            real_write(conn, filled)
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(module, "write_new_rows", write_then_fail)
