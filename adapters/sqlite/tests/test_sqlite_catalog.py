"""SQLiteCatalog beyond the shared contract: WAL, locks, corruption, migrations, facets."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlite_utils

from consist.domain import Artifact, Direction, Run, RunArtifactLink, RunQuery, RunRecord
from consist.domain.errors import CatalogCorrupt, CatalogError, CatalogLocked, InvalidURI
from consist_sqlite._catalog import SQLiteCatalog
from consist_sqlite._schema import MIGRATIONS, migrate

_T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

WRITER = textwrap.dedent(
    """
    import sys, time
    from consist.domain import Artifact, Run, RunArtifactLink, RunRecord, Signature
    from consist_sqlite import SQLiteCatalog

    url, worker, count, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    catalog = SQLiteCatalog(url)
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(count):
        run_id = f"w{worker}-{i}"
        inp = Artifact(id=f"{run_id}-in", key="raw", uri=f"inputs://{run_id}.csv")
        out = Artifact(id=f"{run_id}-out", key="clean", uri=f"outputs://{run_id}.parquet",
                       producer_run_id=run_id)
        sig = Signature("code", worker, str(i))
        run = Run(id=run_id, model="m", year=2020 + i % 5, signature=sig).completed()
        links = (RunArtifactLink(run_id, inp.id, "input", "raw"),
                 RunArtifactLink(run_id, out.id, "output", "clean"))
        catalog.record(RunRecord(run, (inp, out), links))
        assert catalog.find_by_signature(sig.digest).id == run_id
    catalog.close()
    """
)


def _record(run_id: str, minutes: int = 0, **fields: object) -> RunRecord:
    out = Artifact(id=f"{run_id}-out", key="table", uri=f"workspace://{run_id}.parquet")
    run = Run(id=run_id, created_at=_T0 + dt.timedelta(minutes=minutes), **fields)  # type: ignore[arg-type]
    return RunRecord(run, (out,), (RunArtifactLink(run_id, out.id, Direction.OUTPUT, "table"),))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "c.sqlite"


def _count(catalog: SQLiteCatalog, table: str) -> int:
    value = catalog.query_sql(f"SELECT count(*) AS n FROM {table}")["n"][0].as_py()
    assert isinstance(value, int)
    return value


def test_four_processes_writing_one_file_lose_nothing(db_path: Path) -> None:
    """4 processes x 100 runs on one file: every run and artifact lands, nobody errors."""
    url = f"sqlite:///{db_path}"
    SQLiteCatalog(url).close()
    start_at = time.time() + 2.0
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(w), "100", str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    catalog = SQLiteCatalog(url)
    try:
        assert len(catalog.run_ids()) == 400
        assert _count(catalog, "artifacts") == 800
        assert _count(catalog, "run_artifact_links") == 800
        assert catalog.check() == []
    finally:
        catalog.close()


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
            catalog.record(_record("r1"))
        assert time.monotonic() - started < 3
        assert str(db_path) in str(caught.value)
        assert catalog.run_ids() == set()  # readers are not blocked by the writer (WAL)
    finally:
        holder.kill()
        holder.wait()
    catalog.record(_record("r1"))
    assert catalog.run_ids() == {"r1"}
    catalog.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_file_is_catalog_corrupt_with_the_remedy(db_path: Path, damage: str) -> None:
    """Garbage or truncated bytes name the file and say how to rebuild it."""
    if damage == "garbage":
        db_path.write_bytes(b"\x13\x37not a database" * 4096)
    else:
        catalog = SQLiteCatalog(f"sqlite:///{db_path}")
        catalog.record_many(_record(f"r{i}", i, config={"pad": "x" * 200}) for i in range(2000))
        catalog.close()
        data = db_path.read_bytes()
        db_path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CatalogCorrupt) as caught:
        catalog = SQLiteCatalog(f"sqlite:///{db_path}")
        catalog.find_runs(RunQuery())
    assert str(db_path) in str(caught.value)
    assert "run `consist db rebuild` to recreate it from the JSON snapshots" in str(caught.value)


def test_urls_resolve_paths_and_reject_nonsense(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = SQLiteCatalog("sqlite://rel.db")
    assert catalog.path == str(tmp_path / "rel.db")
    catalog.close()
    assert SQLiteCatalog("sqlite://:memory:").path == ":memory:"
    for bad in ["duckdb:///x.db", "sqlite://", "sqlite:///x.db?colour=red"]:
        with pytest.raises(InvalidURI):
            SQLiteCatalog(bad)


def test_a_version_1_catalog_is_upgraded_in_place(db_path: Path) -> None:
    """A file with only the first layout gains file_schemas, backfilled from artifact meta."""
    db = sqlite_utils.Database(db_path)
    assert migrate(db, str(db_path), MIGRATIONS[:1]) == 1
    db.table("artifacts").insert(
        {
            "id": "a1",
            "key": "persons",
            "uri": "outputs://p.parquet",
            "driver": "parquet",
            "meta": json.dumps({"file_schema": [{"name": "id", "type": "int64"}, {"name": "age"}]}),
            "created_at": "2030-01-01T00:00:00.000000+00:00",
        }
    )
    assert "file_schemas" not in db.table_names()
    db.close()

    catalog = SQLiteCatalog(f"sqlite:///{db_path}")
    versions = catalog.query_sql("SELECT version FROM schema_version ORDER BY version")
    assert versions["version"].to_pylist() == [1, 2]
    schema = catalog.query_sql("SELECT position, name, type FROM file_schemas ORDER BY position")
    assert schema.to_pylist() == [
        {"position": 0, "name": "id", "type": "int64"},
        {"position": 1, "name": "age", "type": None},
    ]
    assert catalog.get_artifact("a1").created_at == _T0
    catalog.close()


def test_a_catalog_newer_than_the_code_is_refused(db_path: Path) -> None:
    SQLiteCatalog(f"sqlite:///{db_path}").close()
    db = sqlite_utils.Database(db_path)
    db.table("schema_version").insert({"version": 99, "applied_at": "x", "summary": "future"})
    db.close()
    with pytest.raises(CatalogError, match="schema version 99"):
        SQLiteCatalog(f"sqlite:///{db_path}")


def test_a_foreign_sqlite_file_is_not_adopted(db_path: Path) -> None:
    db = sqlite_utils.Database(db_path)
    db.table("runs").insert({"x": 1})
    db.close()
    with pytest.raises(CatalogError, match="not written by Consist"):
        SQLiteCatalog(f"sqlite:///{db_path}")


def test_facets_are_flattened_and_deduplicated() -> None:
    """Run facets: one stored copy per (namespace, facet), key/value rows per run."""
    catalog = SQLiteCatalog("sqlite://:memory:")
    facet = {"mode": "car", "cost": {"fuel": 1.5}, "on": True, "n": 3, "ids": [1, 2]}
    catalog.record(_record("r1", model="sim", facet=facet))
    catalog.record(_record("r2", 1, model="sim", facet=facet))
    catalog.record(_record("r3", 2, facet={"mode": "bus"}))
    facets = catalog.query_sql("SELECT namespace FROM config_facet ORDER BY namespace")
    assert facets["namespace"].to_pylist() == ["default", "sim"]
    rows = catalog.query_sql(
        "SELECT key, value_type, value_str, value_int, value_float, value_bool, value_json "
        "FROM run_config_kv WHERE run_id = ? ORDER BY key",
        ["r1"],
    ).to_pylist()
    assert [(r["key"], r["value_type"]) for r in rows] == [
        ("cost.fuel", "float"),
        ("ids", "json"),
        ("mode", "str"),
        ("n", "int"),
        ("on", "bool"),
    ]
    assert rows[0]["value_float"] == 1.5 and rows[2]["value_str"] == "car"
    assert rows[3]["value_int"] == 3 and rows[4]["value_bool"] == 1
    assert json.loads(rows[1]["value_json"]) == [1, 2]
    catalog.record(_record("r1", model="sim", facet={"mode": "walk"}))
    modes = catalog.query_sql("SELECT key, value_str FROM run_config_kv WHERE run_id = 'r1'")
    assert modes.to_pylist() == [{"key": "mode", "value_str": "walk"}]
    catalog.vacuum()
    assert _count(catalog, "config_facet") == 3
    assert catalog.check() == []
    catalog.close()


def test_artifact_facets_and_file_schemas_are_indexed() -> None:
    catalog = SQLiteCatalog("sqlite://:memory:")
    art = Artifact(
        id="a1",
        key="persons",
        uri="outputs://p.parquet",
        facet={"zone": {"id": 7}},
        meta={"file_schema": [{"name": "pid", "type": "int64"}, {"name": "age", "type": "int8"}]},
    )
    catalog.record(
        RunRecord(Run(id="r1"), (art,), (RunArtifactLink("r1", "a1", "output", "persons"),))
    )
    kv = catalog.query_sql("SELECT namespace, key, value_int FROM artifact_kv").to_pylist()
    assert kv == [{"namespace": "persons", "key": "zone.id", "value_int": 7}]
    names = catalog.query_sql("SELECT name FROM file_schemas ORDER BY position")
    assert names["name"].to_pylist() == ["pid", "age"]
    assert catalog.get_artifact("a1") == art
    catalog.close()


def test_timestamps_come_back_aware_and_equal(db_path: Path) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    created = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=paris)
    catalog = SQLiteCatalog(f"sqlite:///{db_path}")
    catalog.record(RunRecord(Run(id="r1", created_at=created, ended_at=created)))
    catalog.close()
    run = SQLiteCatalog(f"sqlite:///{db_path}").get_run("r1")
    assert run.created_at == created and run.created_at.tzinfo == dt.UTC
    assert run.ended_at == created


def test_a_write_that_fails_midway_leaves_nothing_behind(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """record() is one transaction: runs, artifacts, links and facets commit together."""
    import consist_sqlite._catalog as module

    catalog = SQLiteCatalog(f"sqlite:///{db_path}")
    catalog.record(_record("kept", facet={"a": 1}))
    real_write = module._write

    def write_then_fail(db: sqlite_utils.Database, rows: object) -> None:
        real_write(db, rows)  # type: ignore[arg-type]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(module, "_write", write_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        catalog.record_many([_record("lost", 1, facet={"b": 2}), _record("kept", 2)])
    monkeypatch.undo()
    assert catalog.run_ids() == {"kept"}
    assert catalog.get_run("kept").created_at == _T0
    for table in ("artifacts", "run_artifact_links", "run_config_kv", "config_facet"):
        assert _count(catalog, table) == 1
    catalog.close()


def test_bad_sql_is_a_catalog_error() -> None:
    catalog = SQLiteCatalog("sqlite://:memory:")
    with pytest.raises(CatalogError, match="no_such_table"):
        catalog.query_sql("SELECT * FROM no_such_table")
    catalog.close()


def test_check_reports_dangling_links(db_path: Path) -> None:
    catalog = SQLiteCatalog(f"sqlite:///{db_path}")
    catalog.record(_record("r1"))
    catalog.query_sql("DELETE FROM artifacts")
    assert catalog.check() == ["1 links name an artifact that is not in the catalog"]
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

    catalog.record(_record("ours"))
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
