"""Catalog paths and URLs mean what they say; ingested rows never live only in memory."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import consist
from consist.domain.errors import InvalidURI

DUCKDB_MAGIC_OFFSET = 8  # DuckDB writes "DUCK" after an 8-byte checksum


def _is_duckdb_file(path: Path) -> bool:
    return path.read_bytes()[DUCKDB_MAGIC_OFFSET : DUCKDB_MAGIC_OFFSET + 4] == b"DUCK"


def _python(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_new_db_path_is_a_duckdb_catalog(tmp_path: Path) -> None:
    """``db_path="provenance.db"`` creates a DuckDB file, as ``provenance.duckdb`` would."""
    with consist.Tracker(tmp_path / "runs", db_path=tmp_path / "provenance.db") as tracker:
        assert tracker.catalog.url.startswith("duckdb://")
        with tracker.start_run("r1"):
            pass
    assert _is_duckdb_file(tmp_path / "provenance.db")


def test_an_existing_sqlite_db_file_is_refused_with_the_explicit_url(tmp_path: Path) -> None:
    """A SQLite database named ``.db`` is not guessed at: the error names ``sqlite:///``."""
    path = tmp_path / "old.db"
    sqlite3.connect(path).execute("CREATE TABLE t (a INTEGER)").connection.close()
    with pytest.raises(InvalidURI, match=r"catalog='sqlite:///.*old\.db'"):
        consist.Tracker(tmp_path / "runs", db_path=path)
    with consist.Tracker(tmp_path / "runs", catalog=f"sqlite://{path}") as tracker:
        assert tracker.catalog.url.startswith("sqlite://")


def test_rows_ingested_beside_a_db_path_survive_the_process(tmp_path: Path) -> None:
    """Ghost Mode with ``provenance.db``: a later process reads the rows after the file is gone."""
    artifact_id = _python(
        """
        import os
        import pandas as pd
        import consist

        with consist.Tracker("runs", db_path="provenance.db") as tracker:
            with tracker.start_run("make"):
                artifact = tracker.log_dataframe(pd.DataFrame({"zone": [1, 2]}), "trips")
                tracker.ingest(artifact)
            os.remove(tracker.artifact_path(artifact))
            print(artifact.id)
        """,
        tmp_path,
    ).strip()
    out = _python(
        f"""
        import consist

        with consist.Tracker("runs", db_path="provenance.db") as tracker:
            artifact = tracker.get_artifact({artifact_id!r})
            print(consist.load_df(artifact, tracker=tracker)["zone"].tolist())
        """,
        tmp_path,
    )
    assert out.strip() == "[1, 2]"


def test_a_sqlite_catalog_keeps_ingested_rows_in_a_duckdb_file_beside_it(tmp_path: Path) -> None:
    """A file catalog is never paired with an in-memory table store."""
    url = f"sqlite://{tmp_path}/prov.sqlite"
    code = f"""
        import pandas as pd
        import consist

        with consist.Tracker("runs", catalog={url!r}) as tracker:
            with tracker.start_run("make"):
                artifact = tracker.log_dataframe(pd.DataFrame({{"zone": [1, 2, 3]}}), "trips")
                tracker.ingest(artifact)
        """
    _python(code, tmp_path)
    assert _is_duckdb_file(tmp_path / "prov.data.duckdb")
    out = _python(
        f"""
        import consist

        with consist.Tracker("runs", catalog={url!r}) as tracker:
            print(consist.run_query("SELECT count(*) AS n FROM hot_trips", tracker=tracker)
                  ["n"].item())
        """,
        tmp_path,
    )
    assert out.strip() == "3"


def test_only_an_in_memory_catalog_gets_in_memory_tables(tmp_path: Path) -> None:
    """``memory://`` asks for nothing on disk; no data file appears."""
    with (
        consist.Tracker(tmp_path / "runs", catalog="memory://") as tracker,
        tracker.start_run("r"),
    ):
        pass
    assert not list(tmp_path.rglob("*.duckdb"))
