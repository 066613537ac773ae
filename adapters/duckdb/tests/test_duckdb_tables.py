"""DuckDBTableStore specifics, and hybrid view SQL executed against real DuckDB."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from consist.domain.errors import CatalogError, CatalogLocked, InvalidInput, InvalidURI
from consist.services.data.file_footers import FileFooters, signature_of
from consist.services.data.hybrid_views import (
    SYSTEM_COLUMNS,
    ColdFile,
    hybrid_view_sql,
)
from consist_duckdb import DuckDBTableStore


@pytest.fixture
def store() -> Iterator[DuckDBTableStore]:
    s = DuckDBTableStore("duckdb://:memory:")
    yield s
    s.close()


def _parquet(path: Path, **columns: list[Any]) -> str:
    pq.write_table(pa.table(columns), path)
    return str(path)


def _rows(store: DuckDBTableStore, sql: str) -> list[dict[str, Any]]:
    return list(store.query(sql).to_pylist())


def test_file_database_keeps_rows_after_reopening(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path}/sub/t.duckdb"
    first = DuckDBTableStore(url)
    first.write_rows("t", pa.table({"v": [1, 2]}), artifact_id="a")
    first.close()
    again = DuckDBTableStore(url)
    assert again.has_rows("t", "a")
    assert again.tables() == ["t"]
    again.close()


def test_memory_stores_are_separate() -> None:
    one, two = DuckDBTableStore("duckdb://:memory:"), DuckDBTableStore("duckdb://:memory:")
    one.write_rows("t", pa.table({"v": [1]}), artifact_id="a")
    assert two.tables() == []
    one.close()
    two.close()


def test_catalog_url_options_do_not_change_the_file(tmp_path: Path) -> None:
    """The catalog's URL, options and all, opens the same file (not one named '...?lock_...')."""
    store = DuckDBTableStore(f"duckdb:///{tmp_path}/t.duckdb?lock_timeout=3&keep_open=1")
    store.write_rows("t", pa.table({"v": [1]}), artifact_id="a")
    store.close()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".wal")] == ["t.duckdb"]


@pytest.mark.parametrize(
    "url", ["sqlite:///x.db", "duckdb://", "duckdb:///tmp/dir/", "duckdb:///x.duckdb?colour=red"]
)
def test_bad_url_is_invalid_uri(url: str) -> None:
    with pytest.raises(InvalidURI):
        DuckDBTableStore(url)


def test_file_held_by_another_process_is_catalog_locked(tmp_path: Path) -> None:
    """DuckDB's cross-process file lock surfaces as CatalogLocked."""
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import duckdb, sys
                con = duckdb.connect({str(db)!r})
                print("ready", flush=True)
                sys.stdin.read()
            """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(CatalogLocked):
            DuckDBTableStore(f"duckdb://{db}")
    finally:
        holder.communicate("", timeout=30)


def test_closed_store_refuses_work(store: DuckDBTableStore) -> None:
    store.close()
    with pytest.raises(InvalidInput):
        store.tables()


def test_polars_frame_is_written_through_the_arrow_stream(store: DuckDBTableStore) -> None:
    import polars

    frame = polars.DataFrame({"v": [1, 2, 3]})
    assert store.write_rows("t", frame, artifact_id="a") == 3
    assert _rows(store, "SELECT sum(v) AS s FROM t") == [{"s": 6}]


def test_column_names_differing_only_in_case_are_one_column(store: DuckDBTableStore) -> None:
    """DuckDB folds case; a later 'V' must not try to add a second 'v'."""
    store.write_rows("t", pa.table({"v": [1]}), artifact_id="a")
    store.write_rows("t", pa.table({"V": [2]}), artifact_id="b")
    assert _rows(store, "SELECT v FROM t ORDER BY v") == [{"v": 1}, {"v": 2}]


def test_empty_write_creates_the_table_without_rows(store: DuckDBTableStore) -> None:
    empty = pa.table({"v": pa.array([], pa.int64())})
    assert store.write_rows("t", empty, artifact_id="a") == 0
    assert store.tables() == ["t"]
    assert not store.has_rows("t", "a")


# --- hybrid views -------------------------------------------------------------------------


def _ingest(store: DuckDBTableStore, artifact: str, run: str, **columns: list[Any]) -> None:
    n = len(next(iter(columns.values())))
    data = pa.table({**columns, "consist_run_id": [run] * n, "consist_year": [2030] * n})
    store.write_rows("persons", data, artifact_id=artifact)


def test_hybrid_view_unions_hot_rows_and_cold_files(
    store: DuckDBTableStore, tmp_path: Path
) -> None:
    _ingest(store, "hot1", "r1", person_id=[1, 2], age=[30, 40])
    cold = ColdFile(
        "cold2",
        _parquet(tmp_path / "p2.parquet", person_id=[3], age=[50]),
        "parquet",
        run_id="r2",
        scenario_id="base",
        year=2035,
        iteration=1,
    )
    store.create_view("v_persons", hybrid_view_sql("persons", [cold], hot_artifact_ids=["hot1"]))
    got = _rows(
        store,
        "SELECT person_id, consist_run_id AS run, consist_artifact_id AS art, consist_year AS y,"
        " consist_scenario_id AS sc, consist_iteration AS it FROM v_persons ORDER BY person_id",
    )
    assert got == [
        {"person_id": 1, "run": "r1", "art": "hot1", "y": 2030, "sc": None, "it": None},
        {"person_id": 2, "run": "r1", "art": "hot1", "y": 2030, "sc": None, "it": None},
        {"person_id": 3, "run": "r2", "art": "cold2", "y": 2035, "sc": "base", "it": 1},
    ]


def test_cold_file_of_an_ingested_artifact_is_not_read_twice(
    store: DuckDBTableStore, tmp_path: Path
) -> None:
    _ingest(store, "a1", "r1", person_id=[1, 2])
    same = ColdFile("a1", _parquet(tmp_path / "a1.parquet", person_id=[1, 2]), "parquet")
    other = ColdFile("a2", _parquet(tmp_path / "a2.parquet", person_id=[3]), "parquet")
    sql = hybrid_view_sql("persons", [same, other, other], hot_artifact_ids={"a1"})
    store.create_view("v", sql)
    assert _rows(store, "SELECT count(*) AS n FROM v") == [{"n": 3}]


def test_system_columns_come_from_the_catalog_not_the_file(
    store: DuckDBTableStore, tmp_path: Path
) -> None:
    """A file carrying its own consist_* columns cannot relabel its rows."""
    path = _parquet(
        tmp_path / "liar.parquet",
        v=[1],
        consist_run_id=["forged"],
        consist_year=[1999],
        consist_artifact_id=["forged"],
    )
    store.create_view("v", hybrid_view_sql(None, [ColdFile("real", path, "parquet", "r", year=7)]))
    got = _rows(store, "SELECT * FROM v")
    assert got == [
        {
            "v": 1,
            "consist_run_id": "r",
            "consist_scenario_id": None,
            "consist_year": 7,
            "consist_iteration": None,
            "consist_artifact_id": "real",
        }
    ]


def test_per_file_system_columns_come_from_the_catalog_not_the_files(
    store: DuckDBTableStore, tmp_path: Path
) -> None:
    """With labels that differ per file (looked up, not literals), forged columns still lose."""
    files = []
    for i in range(3):
        path = _parquet(tmp_path / f"liar{i}.parquet", v=[i], consist_run_id=["forged"],
                        consist_year=[1999])  # fmt: skip
        files.append(ColdFile(f"real{i}", path, "parquet", f"r{i}", year=2000 + i))
    store.create_view("v", hybrid_view_sql(None, files))
    got = _rows(store, "SELECT v, consist_run_id AS run, consist_year AS y FROM v ORDER BY v")
    assert got == [{"v": i, "run": f"r{i}", "y": 2000 + i} for i in range(3)]
    names = store.query("DESCRIBE SELECT * FROM v").column(0).to_pylist()
    assert names == ["v", *SYSTEM_COLUMNS]


def test_schema_drift_across_files_and_formats_reads_null(
    store: DuckDBTableStore, tmp_path: Path
) -> None:
    p1 = _parquet(tmp_path / "1.parquet", k=[1], a=[1.5])
    p2 = _parquet(tmp_path / "2.parquet", k=[2], b=["x"])
    csv = tmp_path / "3.csv"
    pacsv.write_csv(pa.table({"k": [3], "c": [True]}), csv)
    files = [
        ColdFile("f1", p1, "parquet", run_id="r1"),
        ColdFile("f2", p2, "parquet", run_id="r2"),
        ColdFile("f3", str(csv), "csv", run_id="r3"),
    ]
    store.create_view("v", hybrid_view_sql(None, files))
    got = _rows(store, "SELECT k, a, b, c, consist_run_id AS run FROM v ORDER BY k")
    assert got == [
        {"k": 1, "a": 1.5, "b": None, "c": None, "run": "r1"},
        {"k": 2, "a": None, "b": "x", "c": None, "run": "r2"},
        {"k": 3, "a": None, "b": None, "c": True, "run": "r3"},
    ]


def test_many_files_are_scanned_once_per_schema_with_correct_labels(
    store: DuckDBTableStore, tmp_path: Path
) -> None:
    count = 70
    footers = FileFooters()

    def cold(artifact_id: str, path: str, run_id: str, year: int, known: bool) -> ColdFile:
        signature = signature_of(path)
        schema = footers.schema(path, signature) if known and signature else None
        return ColdFile(artifact_id, path, "parquet", run_id=run_id, year=year, schema=schema)

    files = []
    for i in range(count):
        path = _parquet(tmp_path / f"{i}.parquet", i=[i] * (i + 1))
        files.append(cold(f"a{i}", path, f"run{i}", 2000 + i, known=i < count - 2))
    # Only this file has the column: the other scans read NULL for it.
    late = _parquet(tmp_path / "late.parquet", i=[count], extra=["x"])
    files.append(cold("late", late, "late", 1, known=True))
    sql = hybrid_view_sql(None, files)
    # One scan per known schema, one (matching by name) for the files of unknown schema.
    assert sql.count("read_parquet(") == 3
    assert sql.count("union_by_name") == 1
    store.create_view("v", sql)
    got = _rows(
        store,
        "SELECT consist_run_id AS run, min(i) AS i, min(consist_year) AS y, count(*) AS n, "
        "count(extra) AS extra, min(consist_artifact_id) AS art FROM v GROUP BY run ORDER BY i",
    )
    expected = [{"run": f"run{i}", "i": i, "y": 2000 + i, "n": i + 1, "extra": 0, "art": f"a{i}"}
                for i in range(count)]  # fmt: skip
    late_row = {"run": "late", "i": count, "y": 1, "n": 1, "extra": 1, "art": "late"}
    assert got == [*expected, late_row]
    plan = str(store.query("EXPLAIN SELECT * FROM v").column(1)[0])
    assert plan.count("READ_PARQUET") == 3


def test_awkward_paths_and_values_are_literals_not_code(
    store: DuckDBTableStore, tmp_path: Path
) -> None:
    nasty = "x'); DROP TABLE persons; --"
    _ingest(store, "hot", "r", person_id=[1])
    folder = tmp_path / "it's here"
    folder.mkdir()
    cold = ColdFile(nasty, _parquet(folder / "o'k.parquet", person_id=[2]), "parquet", nasty, nasty)
    store.create_view("v", hybrid_view_sql("persons", [cold], hot_artifact_ids=["hot"]))
    got = _rows(store, "SELECT consist_run_id AS r, consist_scenario_id AS s FROM v ORDER BY 1")
    assert got == [{"r": "r", "s": None}, {"r": nasty, "s": nasty}]
    assert store.tables() == ["persons"]


def test_file_with_a_file_index_column_fails_loudly(
    store: DuckDBTableStore, tmp_path: Path
) -> None:
    """The column would hide DuckDB's virtual one and mislabel rows; binding must fail instead."""
    good = ColdFile("g", _parquet(tmp_path / "g.parquet", v=[1]), "parquet", run_id="r1")
    clash = ColdFile("c", _parquet(tmp_path / "c.parquet", file_index=[0]), "parquet", "r2")
    with pytest.raises(CatalogError, match="file_index"):
        store.create_view("v", hybrid_view_sql(None, [good, clash]))


def test_missing_cold_file_is_a_catalog_error(store: DuckDBTableStore, tmp_path: Path) -> None:
    gone = ColdFile("g", str(tmp_path / "gone.parquet"), "parquet")
    with pytest.raises(CatalogError):
        store.create_view("v", hybrid_view_sql(None, [gone]))


def test_view_with_nothing_yet_has_system_columns_and_no_rows(store: DuckDBTableStore) -> None:
    store.create_view("v", hybrid_view_sql(None, []))
    result = store.query("SELECT * FROM v")
    assert result.num_rows == 0
    assert "consist_run_id" in result.column_names


def test_glob_characters_in_cold_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidURI):
        hybrid_view_sql(None, [ColdFile("a", str(tmp_path / "a[1].parquet"), "parquet")])


def test_unknown_driver_is_refused() -> None:
    with pytest.raises(InvalidInput, match="parquet"):
        ColdFile("a", "/x.zarr", "zarr")
