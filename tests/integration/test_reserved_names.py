"""The names Consist keeps for itself are exactly those its catalogs create."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pandas as pd

import consist
from consist.domain.checks import RESERVED_TABLES


def test_every_catalog_table_and_index_is_a_reserved_name(tmp_path: Path) -> None:
    """If an adapter adds a table, users must not be able to shadow it: keep the list whole."""
    duck, lite = tmp_path / "c.duckdb", tmp_path / "c.sqlite"
    for catalog in (f"duckdb:///{duck}", f"sqlite:///{lite}"):
        with consist.Tracker(tmp_path / "runs", catalog=catalog) as tracker:
            with tracker.start_run(f"r-{catalog[:4]}", model="m"):
                artifact = tracker.log_dataframe(pd.DataFrame({"a": [1]}), key="t")
            tracker.ingest(artifact)
    with duckdb.connect(str(duck), read_only=True) as con:
        names = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        names |= {
            row[0] for row in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()
        }
    with sqlite3.connect(lite) as con:
        names |= {
            row[0]
            for row in con.execute(
                "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%'"
            )
        }
    ingested = {"hot_t"}  # the ingested key's table: prefixed, so it never meets these
    assert {n for n in names - ingested if not n.startswith("consist_")} - RESERVED_TABLES == set()
