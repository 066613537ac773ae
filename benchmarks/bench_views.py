"""Hybrid views and ingestion against DuckDB doing the same work directly.

(a) An aggregate (avg + count per run) over many runs' Parquet files through a
hybrid view, against ``read_parquet`` over the same files: ratio <= 1.2.
(b) ``write_rows`` of a large Arrow table, against DuckDB inserting the same
registered Arrow table itself: rate ratio >= 0.5.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._harness import report, time_calls
from consist.services.data.file_footers import FileFooters, signature_of
from consist.services.data.hybrid_views import ColdFile, hybrid_view_sql
from consist_duckdb import DuckDBTableStore


def _frame(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "person_id": np.arange(rows, dtype=np.int64),
            "age": rng.integers(0, 100, rows),
            "income": rng.random(rows) * 1e5,
            "mode": rng.choice(["car", "bus", "walk", "bike"], rows),
        }
    )


def _interleaved(first: str, second: str, store: DuckDBTableStore, repeat: int) -> float:
    """Median ratio second/first, alternating the two so drift in the machine hits both."""
    ratios = []
    for _ in range(repeat):
        a = time_calls(lambda: store.query(first), repeat=1, warmup=0)[0]
        b = time_calls(lambda: store.query(second), repeat=1, warmup=0)[0]
        ratios.append(b / a)
    return statistics.median(ratios)


def bench_view_query(folder: Path, runs: int, rows: int, repeat: int) -> None:
    files = []
    footers = FileFooters()  # as the tracker's views do: known schemas skip union_by_name
    for i in range(runs):
        path = folder / f"run{i}.parquet"
        pq.write_table(_frame(rows, i), path)
        signature = signature_of(str(path))
        assert signature is not None
        schema = footers.schema(str(path), signature)
        files.append(ColdFile(f"art{i}", str(path), "parquet", f"run{i}", "base", 2030, 0, schema))
    store = DuckDBTableStore("duckdb://:memory:")
    store.create_view("v_persons", hybrid_view_sql(None, files))
    listing = ", ".join(f"'{f.path}'" for f in files)
    raw = f"SELECT filename, avg(income), count(*) FROM read_parquet([{listing}]) GROUP BY filename"
    view = "SELECT consist_run_id, avg(income), count(*) FROM v_persons GROUP BY consist_run_id"
    # Both sides run through the store: the same connection and settings.
    assert sorted(store.query(view).column(2).to_pylist()) == [rows] * runs
    for sql in (raw, view):  # warm the OS file cache for both
        store.query(sql)
    raw_samples = time_calls(lambda: store.query(raw), repeat=repeat)
    view_samples = time_calls(lambda: store.query(view), repeat=repeat)
    ratio = _interleaved(raw, view, store, repeat)
    report("views.read_parquet_raw", raw_samples, unit="ms", scale=1e3, runs=runs, rows=rows)
    report("views.hybrid_view", view_samples, unit="ms", scale=1e3, runs=runs, rows=rows)
    report("views.hybrid_vs_raw_ratio", [ratio], unit="x", limit=1.2, better="lower", runs=runs)
    store.close()


def bench_ingest(rows: int, repeat: int) -> None:
    data = _frame(rows, 0).append_column("consist_run_id", pa.repeat("run0", rows))
    store = DuckDBTableStore("duckdb://:memory:")
    raw = duckdb.connect()
    raw.execute("CREATE TABLE persons AS SELECT * FROM data LIMIT 0")
    raw.execute("ALTER TABLE persons ADD COLUMN consist_artifact_id VARCHAR")
    tagged = data.append_column("consist_artifact_id", pa.repeat("art0", rows))

    def raw_insert() -> None:
        raw.execute("DELETE FROM persons")
        raw.register("incoming", tagged)
        raw.execute("INSERT INTO persons BY NAME SELECT * FROM incoming")
        raw.unregister("incoming")

    def ours() -> None:
        store.write_rows("persons", data, artifact_id="art0")

    raw_samples = time_calls(raw_insert, repeat=repeat, warmup=1)
    our_samples = time_calls(ours, repeat=repeat, warmup=1)
    rates = [statistics.median(raw_samples) / s for s in our_samples]
    for name, samples in (
        ("ingest.raw_arrow_insert", raw_samples),
        ("ingest.write_rows", our_samples),
    ):
        rate = [rows / s / 1e6 for s in samples]
        report(name, rate, unit="Mrows/s", better="higher", rows=rows)
    report("ingest.write_rows_vs_raw_rate", rates, unit="x", limit=0.5, better="higher")
    store.close()
    raw.close()


def main(quick: bool = False) -> None:
    runs, rows, ingest_rows, repeat = (
        (10, 20_000, 100_000, 5) if quick else (50, 200_000, 1_000_000, 21)
    )
    with tempfile.TemporaryDirectory(prefix="consist-bench-views-") as tmp:
        bench_view_query(Path(tmp), runs, rows, repeat)
    bench_ingest(ingest_rows, repeat)


if __name__ == "__main__":
    main(quick=False)
