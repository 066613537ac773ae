"""Table headings of the CLI stay on one line at 80 columns, even over a narrow table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import consist


def test_query_heading_is_one_line_over_a_one_column_table(tmp_path: Path) -> None:
    with consist.Tracker(tmp_path / "runs", db_path=tmp_path / "provenance.duckdb"):
        pass
    consist_cli = Path(sys.executable).with_name("consist")
    done = subprocess.run(
        [str(consist_cli), "query", "SELECT 1 AS x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "80", "PATH": str(consist_cli.parent)},
    )
    assert done.returncode == 0, done.stderr
    assert "1 row(s)" in done.stdout
