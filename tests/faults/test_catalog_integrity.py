"""The catalog defends itself: `consist query` only reads, `consist db check` finds damage.

Each command runs as a user would run it: the `consist` script in a fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
