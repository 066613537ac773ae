"""Views and ingestion through the Tracker, against DuckDB doing the same work directly.

(a) ``consist.run_query`` of an aggregate over 50 runs x 200,000 Parquet rows
through ``tracker.create_view`` (view freshness check, system-column labels,
leased connection, Arrow result), against DuckDB running ``read_parquet`` over
the same files on the same database instance: ratio <= 1.2. The two are
interleaved so drift in the machine hits both. A second figure runs the bare
query on a connection of its own, in blocks: two DuckDB instances in one
process on two cores slow each other when interleaved (the idle one's worker
threads still spin), which would measure the machine, not the view.
(b) ``tracker.ingest`` of 1,000,000 rows (system columns, registry, leased
connection to the catalog file), against DuckDB inserting the same Arrow table
into a table of its own file: rate ratio >= 0.5.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

import consist
from benchmarks._harness import report, time_calls
from benchmarks.bench_views import _frame


def _tracker(folder: Path) -> consist.Tracker:
    return consist.Tracker(
        folder / "runs",
        db_path=folder / "provenance.duckdb",
        hashing_strategy="fast",
        code_identity="function",
    )


def bench_view_query(folder: Path, runs: int, rows: int, repeat: int) -> None:
    tracker = _tracker(folder)
    paths = []
    for i in range(runs):
        with tracker.start_run(f"run{i}", year=2030 + i % 3, parent_run_id="base") as run:
            path = run.workspace / "persons.parquet"
            pq.write_table(_frame(rows, i), path)
            tracker.log_artifact(path, "persons")
            paths.append(str(path))
    tracker.create_view("v_persons", "persons")
    view = "SELECT consist_run_id, avg(income), count(*) FROM v_persons GROUP BY consist_run_id"
    listing = ", ".join(f"'{p}'" for p in paths)
    raw = f"SELECT filename, avg(income), count(*) FROM read_parquet([{listing}]) GROUP BY filename"
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")

    def through_tracker() -> None:
        consist.run_query(view, tracker=tracker, as_="arrow")

    def direct() -> None:
        con.sql(raw).to_arrow_table()

    tables = tracker.tables
    assert tables is not None

    def same_instance() -> None:
        tables.query(raw)

    got = consist.run_query(view, tracker=tracker, as_="arrow")
    assert sorted(got.column(2).to_pylist()) == [rows] * runs
    for fn in (through_tracker, same_instance):
        fn()
    ratios = []
    for _ in range(repeat):
        a = time_calls(same_instance, repeat=1, warmup=0)[0]
        b = time_calls(through_tracker, repeat=1, warmup=0)[0]
        ratios.append(b / a)
    raw_samples = time_calls(direct, repeat=repeat)
    view_samples = time_calls(through_tracker, repeat=repeat)
    report("tracker_views.read_parquet_own_connection", raw_samples, unit="ms", scale=1e3,
           runs=runs, rows=rows)  # fmt: skip
    report("tracker_views.run_query_view", view_samples, unit="ms", scale=1e3, runs=runs,
           rows=rows)  # fmt: skip
    report("tracker_views.view_vs_own_connection_ratio",
           [statistics.median(view_samples) / statistics.median(raw_samples)], unit="x",
           runs=runs)  # fmt: skip
    report("tracker_views.view_vs_raw_ratio", [statistics.median(ratios)], unit="x", limit=1.2,
           better="lower", runs=runs)  # fmt: skip
    con.close()
    tracker.close()


def bench_ingest(folder: Path, rows: int, repeat: int) -> None:
    tracker = _tracker(folder)
    data = _frame(rows, 0)
    with tracker.start_run("ingest", year=2030) as run:
        path = run.workspace / "persons.parquet"
        pq.write_table(data.slice(0, 10), path)
        artifact = tracker.log_artifact(path, "persons")
    raw = duckdb.connect(str(folder / "raw.duckdb"))
    tagged = data
    for name, value in (("consist_run_id", "ingest"), ("consist_artifact_id", artifact.id)):
        tagged = tagged.append_column(name, pa.repeat(value, rows))
    raw.execute("CREATE TABLE persons AS SELECT * FROM tagged LIMIT 0")

    def raw_insert() -> None:
        raw.execute("DELETE FROM persons")
        raw.register("incoming", tagged)
        raw.execute("INSERT INTO persons BY NAME SELECT * FROM incoming")
        raw.unregister("incoming")

    def ours() -> None:
        tracker.ingest(artifact, data)

    raw_samples = time_calls(raw_insert, repeat=repeat, warmup=1)
    our_samples = time_calls(ours, repeat=repeat, warmup=1)
    assert tracker.ingestion_of(artifact).rows == rows  # type: ignore[union-attr]
    for name, samples in (
        ("tracker_ingest.raw_arrow_insert", raw_samples),
        ("tracker_ingest.tracker_ingest", our_samples),
    ):
        report(name, [rows / s / 1e6 for s in samples], unit="Mrows/s", better="higher",
               rows=rows)  # fmt: skip
    rates = [statistics.median(raw_samples) / s for s in our_samples]
    report("tracker_ingest.ingest_vs_raw_rate", rates, unit="x", limit=0.5, better="higher")
    raw.close()
    tracker.close()


def main(quick: bool = False) -> None:
    runs, rows, ingest_rows, repeat = (
        (10, 20_000, 100_000, 5) if quick else (50, 200_000, 1_000_000, 21)
    )
    with tempfile.TemporaryDirectory(prefix="consist-bench-tracker-views-") as tmp:
        bench_view_query(Path(tmp) / "views", runs, rows, repeat)
        bench_ingest(Path(tmp) / "ingest", ingest_rows, repeat)


if __name__ == "__main__":
    main(quick=False)
