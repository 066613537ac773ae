"""The catalog defends itself: `consist query` only reads, `consist db check` finds damage.

Each command runs as a user would run it: the `consist` script in a fresh process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import consist
from consist.cli import app
from consist.domain.errors import WriteNotAllowed

CATALOG_FILES = {"duckdb": "provenance.duckdb", "sqlite": "provenance.sqlite"}


def consist_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("consist")
    return subprocess.run(
        [str(script), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "80"},
    )


def build(root: Path, engine: str, runs: int = 3) -> Path:
    """A catalog of ``runs`` finished runs under ``root``; returns the catalog file."""
    file = root / CATALOG_FILES[engine]
    url = f"{engine}://{file}"
    with consist.Tracker(root / "runs", catalog=url, code_identity="function") as tracker:
        for i in range(runs):
            with tracker.start_run(f"run-{i}", "model", config={"i": i}):
                pass
    return file


@pytest.mark.parametrize("engine", sorted(CATALOG_FILES))
def test_drop_table_through_consist_query_is_refused(tmp_path: Path, engine: str) -> None:
    """`consist query "DROP TABLE runs"` exits 1 with a clear error and the runs stay."""
    file = build(tmp_path, engine)
    done = consist_cli(tmp_path, "query", "DROP TABLE runs", "--catalog", str(file))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "error:" in done.stderr and "--write" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    runner = CliRunner()
    for sql in ("SELECT 1; DROP TABLE runs", "DELETE FROM runs", "ATTACH 'x.db' AS x"):
        smuggled = runner.invoke(app, ["query", sql, "-c", str(file), "-r", str(tmp_path / "runs")])
        assert smuggled.exit_code == 1, (sql, smuggled.output)
        assert "read-only" in smuggled.output
    after = consist_cli(
        tmp_path, "query", "SELECT count(*) AS n FROM runs", "--catalog", str(file), "--json"
    )
    assert after.returncode == 0, after.stderr
    assert '"n": 3' in after.stdout


@pytest.mark.parametrize("engine", sorted(CATALOG_FILES))
def test_write_opts_in_to_statements_that_change_the_catalog(tmp_path: Path, engine: str) -> None:
    """With `--write` a statement that changes the database runs."""
    file = build(tmp_path, engine)
    runner = CliRunner()
    args = ["--catalog", str(file), "--run-dir", str(tmp_path / "runs"), "--json"]
    made = runner.invoke(app, ["query", "CREATE TABLE notes (t TEXT)", *args, "--write"])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(app, ["query", "SELECT count(*) AS n FROM notes", *args])
    assert listed.exit_code == 0, listed.output
    assert '"n": 0' in listed.output


def test_run_query_refuses_writes_unless_allowed(tmp_path: Path) -> None:
    """`consist.run_query` and `tracker.run_query` share the rule and the opt-in."""
    file = build(tmp_path, "duckdb")
    with consist.Tracker(tmp_path / "runs", db_path=file) as tracker:
        with pytest.raises(WriteNotAllowed, match="allow_write=True"):
            consist.run_query("DROP TABLE runs", tracker=tracker)
        with pytest.raises(WriteNotAllowed):
            tracker.run_query("UPDATE runs SET status = 'failed'")
        tracker.run_query("CREATE TABLE scratch AS SELECT 1 AS x", allow_write=True)
        assert tracker.run_query("SELECT count(*) AS n FROM runs")["n"].item() == 3


# -- consist db check ----------------------------------------------------------------

DUCKDB_HEADER_BYTES = 3 * 4096  # the file header and two database headers precede block 0


def build_with_data(root: Path, engine: str, rows: int = 100_000) -> Path:
    """A catalog of three runs, one of which ingested ``rows`` random rows (several blocks)."""
    file = build(root, engine)
    url = f"{engine}://{file}"
    numbers = np.random.default_rng(7).random((rows, 4))
    frame = pd.DataFrame(numbers, columns=["a", "b", "c", "d"])
    with (
        consist.Tracker(root / "runs", catalog=url, code_identity="function") as tracker,
        tracker.start_run("ingest", "model"),
    ):
        artifact = tracker.log_dataframe(frame, "samples")
        tracker.ingest(artifact)
    return file


def corrupt_a_data_block(database: Path) -> str:
    """Flip bytes inside the in-use block of an ingested table nearest the file's middle.

    Returns the table's name. The block is found through DuckDB's own storage
    information, so the damage always lands where rows are kept.
    """
    connection = duckdb.connect(str(database), read_only=True)
    try:
        (table,) = connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'hot_%'"
        ).fetchone()
        block_size = connection.execute("SELECT block_size FROM pragma_database_size()").fetchone()[
            0
        ]
        blocks = [
            b
            for (b,) in connection.execute(
                f"SELECT DISTINCT block_id FROM pragma_storage_info('{table}') WHERE block_id >= 0"
            ).fetchall()
        ]
    finally:
        connection.close()
    assert len(blocks) >= 3, f"{table} should span several blocks, has {blocks}"
    middle = database.stat().st_size // 2
    block = min(blocks, key=lambda b: abs(DUCKDB_HEADER_BYTES + b * block_size - middle))
    start = DUCKDB_HEADER_BYTES + block * block_size + block_size // 2
    data = bytearray(database.read_bytes())
    data[start : start + 64] = bytes(x ^ 0xFF for x in data[start : start + 64])
    database.write_bytes(bytes(data))
    return str(table)


def assert_fits_80_columns(text: str) -> None:
    assert all(len(line) <= 80 for line in text.splitlines()), text


def test_db_check_finds_a_corrupt_block_in_a_duckdb_catalog(tmp_path: Path) -> None:
    """A flipped block under an ingested table: `db check` names it and exits 1."""
    file = build_with_data(tmp_path, "duckdb")
    healthy = consist_cli(tmp_path, "db", "check", "-c", str(file), "-r", "runs")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "healthy" in healthy.stdout
    table = corrupt_a_data_block(file)
    done = consist_cli(tmp_path, "db", "check", "-c", str(file), "-r", "runs")
    assert done.returncode == 1, done.stdout + done.stderr
    flat = " ".join(done.stdout.split())  # the report wraps long lines
    assert f"table {table} is unreadable" in flat
    assert "fails its checksum" in flat and "consist db rebuild" in flat
    assert "Traceback" not in done.stderr
    assert_fits_80_columns(done.stdout)


def test_db_check_reads_a_sqlite_catalogs_data_file_too(tmp_path: Path) -> None:
    """Ingested rows of a SQLite catalog live in a DuckDB file beside it; it is checked."""
    file = build_with_data(tmp_path, "sqlite")
    data_file = file.with_name("provenance.data.duckdb")
    table = corrupt_a_data_block(data_file)
    done = consist_cli(tmp_path, "db", "check", "-c", str(file), "-r", "runs", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert not report["healthy"]
    assert any(f"data file: table {table} is unreadable" in p for p in report["problems"])


def test_db_check_finds_a_malformed_sqlite_catalog(tmp_path: Path) -> None:
    """A damaged page in the middle of a SQLite file is reported, not a traceback."""
    file = build(tmp_path, "sqlite", runs=200)
    data = bytearray(file.read_bytes())
    page = 4096
    middle = (len(data) // 2) // page * page
    data[middle : middle + 12] = bytes(x ^ 0x5A for x in data[middle : middle + 12])
    file.write_bytes(bytes(data))
    runner = CliRunner()
    done = runner.invoke(app, ["db", "check", "-c", str(file), "-r", str(tmp_path / "runs")])
    assert done.exit_code == 1, done.output
    assert "malformed" in done.output and "consist db rebuild" in done.output


def test_db_check_compares_run_by_run_with_the_snapshots(tmp_path: Path) -> None:
    """Missing on either side and a status that differs are each findings."""
    file = build(tmp_path, "duckdb")
    runs = tmp_path / "runs"
    snapshot = runs / "run-1" / "consist.json"
    document = json.loads(snapshot.read_text())
    document["run"]["status"] = "failed"
    snapshot.write_text(json.dumps(document))
    shutil.rmtree(runs / "run-0")
    runner = CliRunner()
    args = ["-c", str(file), "-r", str(runs)]
    deleted = runner.invoke(app, ["query", "DELETE FROM runs WHERE id = 'run-2'", *args, "--write"])
    assert deleted.exit_code == 0, deleted.output
    done = runner.invoke(app, ["db", "check", *args, "--json"])
    assert done.exit_code == 1, done.output
    report = json.loads(done.stdout)
    assert report["without_snapshot"] == ["run-0"]
    assert report["not_in_catalog"] == ["run-2"]
    assert report["status_mismatches"] == [
        {"run_id": "run-1", "snapshot": "failed", "catalog": "completed"}
    ]
    text = runner.invoke(app, ["db", "check", *args])
    assert "run-1: snapshot failed, catalog completed" in text.stdout
    assert_fits_80_columns(text.stdout)
