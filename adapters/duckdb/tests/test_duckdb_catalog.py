"""DuckDBCatalog beyond the shared contract: files, locks, corruption, migrations, facets."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from consist.domain import Artifact, Direction, Run, RunArtifactLink, RunRecord, Signature
from consist.domain.errors import CatalogCorrupt, CatalogError, CatalogLocked, InvalidURI
from consist_duckdb._catalog import MIGRATIONS, DuckDBCatalog, migrate

_T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

# One writer process: records `count` runs (one input, one output each), reading between writes.
WRITER = textwrap.dedent(
    """
    import sys, time
    from consist.domain import Artifact, Run, RunArtifactLink, RunRecord, Signature
    from consist_duckdb import DuckDBCatalog

    url, worker, count, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    catalog = DuckDBCatalog(url)
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
    return tmp_path / "c.duckdb"


@pytest.mark.slow
def test_four_processes_writing_one_file_lose_nothing(db_path: Path) -> None:
    """4 processes x 100 runs on one file: every run and artifact lands, nobody errors."""
    url = f"duckdb:///{db_path}"
    DuckDBCatalog(url).close()
    start_at = time.time() + 3.0
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
    catalog = DuckDBCatalog(url)
    try:
        assert len(catalog.run_ids()) == 400
        assert catalog.query_sql("SELECT count(*) AS n FROM artifacts")["n"][0].as_py() == 800
        links = catalog.query_sql("SELECT count(*) AS n FROM run_artifact_links")
        assert links["n"][0].as_py() == 800
        assert catalog.check() == []
    finally:
        catalog.close()


def test_idle_catalog_releases_the_file_for_other_processes(db_path: Path) -> None:
    """After keep_open seconds without calls, another process can open the file."""
    catalog = DuckDBCatalog(f"duckdb:///{db_path}", keep_open=0.1)
    catalog.record(_record("r1"))
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
        catalog.record(_record("r1"))
        catalog.close()
    finally:
        holder.wait()


def test_an_empty_file_becomes_a_new_catalog(db_path: Path) -> None:
    """A 0-byte file holds nothing: it is opened as a new catalog (as SQLite does),
    which the Tracker then rebuilds from the snapshots."""
    db_path.write_bytes(b"")
    catalog = DuckDBCatalog(f"duckdb:///{db_path}")
    catalog.record(_record("r1"))
    assert catalog.run_ids() == {"r1"}
    catalog.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_file_is_catalog_corrupt_with_the_remedy(db_path: Path, damage: str) -> None:
    """Garbage or truncated bytes name the file and say how to rebuild it."""
    if damage == "garbage":
        db_path.write_bytes(b"\x13\x37not a database" * 4096)
    else:
        catalog = DuckDBCatalog(f"duckdb:///{db_path}")
        catalog.record_many(_record(f"r{i}", i, config={"pad": "x" * 200}) for i in range(2000))
        catalog.close()
        data = db_path.read_bytes()
        # Keep the file headers, lose every data block: where a cut at some
        # other point lands decides whether the tables read still survive.
        db_path.write_bytes(data[: 3 * 4096 + 512])
    with pytest.raises(CatalogCorrupt) as caught:
        catalog = DuckDBCatalog(f"duckdb:///{db_path}")
        catalog.run_ids()
    assert str(db_path) in str(caught.value)
    assert "run `consist db rebuild` to recreate it from the JSON snapshots" in str(caught.value)


def test_urls_resolve_paths_and_reject_nonsense(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = DuckDBCatalog("duckdb://sub/rel.duckdb")
    assert catalog.path == str(tmp_path / "sub" / "rel.duckdb")
    catalog.close()
    assert DuckDBCatalog("duckdb://:memory:").path == ":memory:"
    for bad in ["sqlite:///x.db", "duckdb://", "duckdb:///x.duckdb?colour=red"]:
        with pytest.raises(InvalidURI):
            DuckDBCatalog(bad)


def test_missing_folders_are_created_and_a_folder_is_not_a_catalog(tmp_path: Path) -> None:
    DuckDBCatalog(f"duckdb:///{tmp_path}/new/dir/c.duckdb").close()
    assert (tmp_path / "new" / "dir" / "c.duckdb").is_file()
    with pytest.raises(CatalogError, match="new"):
        DuckDBCatalog(f"duckdb:///{tmp_path}/new")


def test_a_version_1_catalog_is_upgraded_in_place(db_path: Path) -> None:
    """A file with only the first layout gains file_schemas, backfilled from artifact meta."""
    conn = duckdb.connect(str(db_path))
    assert migrate(conn, str(db_path), MIGRATIONS[:1]) == 1
    conn.execute(
        "INSERT INTO artifacts (id, key, uri, driver, meta, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            "a1",
            "persons",
            "outputs://p.parquet",
            "parquet",
            json.dumps({"file_schema": [{"name": "id", "type": "int64"}, {"name": "age"}]}),
            _T0,
        ],
    )
    tables = {
        name
        for (name,) in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert "file_schemas" not in tables
    conn.close()

    catalog = DuckDBCatalog(f"duckdb:///{db_path}")
    versions = catalog.query_sql("SELECT version FROM schema_version ORDER BY version")
    assert versions["version"].to_pylist() == [1, 2]
    schema = catalog.query_sql("SELECT position, name, type FROM file_schemas ORDER BY position")
    assert schema.to_pylist() == [
        {"position": 0, "name": "id", "type": "int64"},
        {"position": 1, "name": "age", "type": None},
    ]
    assert catalog.get_artifact("a1").meta["file_schema"][0]["name"] == "id"
    catalog.close()


def test_a_catalog_newer_than_the_code_is_refused(db_path: Path) -> None:
    DuckDBCatalog(f"duckdb:///{db_path}").close()
    conn = duckdb.connect(str(db_path))
    conn.execute("INSERT INTO schema_version VALUES (99, now(), 'from the future')")
    conn.close()
    with pytest.raises(CatalogError, match="schema version 99"):
        DuckDBCatalog(f"duckdb:///{db_path}")


def test_a_foreign_duckdb_file_is_not_adopted(db_path: Path) -> None:
    conn = duckdb.connect(str(db_path))
    conn.execute("CREATE TABLE runs (x INTEGER)")
    conn.close()
    with pytest.raises(CatalogError, match="not written by Consist"):
        DuckDBCatalog(f"duckdb:///{db_path}")


def test_facets_are_flattened_and_deduplicated() -> None:
    """Run facets: one stored copy per (namespace, facet), key/value rows per run."""
    catalog = DuckDBCatalog("duckdb://:memory:")
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
    assert rows[3]["value_int"] == 3 and rows[4]["value_bool"] is True
    assert json.loads(rows[1]["value_json"]) == [1, 2]
    found = catalog.query_sql(
        "SELECT run_id FROM run_config_kv WHERE namespace = 'sim' AND key = 'mode' "
        "AND value_str = 'car' ORDER BY run_id"
    )
    assert found["run_id"].to_pylist() == ["r1", "r2"]

    catalog.record(_record("r1", model="sim", facet={"mode": "walk"}))
    modes = catalog.query_sql("SELECT key, value_str FROM run_config_kv WHERE run_id = 'r1'")
    assert modes.to_pylist() == [{"key": "mode", "value_str": "walk"}]
    catalog.vacuum()
    assert catalog.query_sql("SELECT count(*) AS n FROM config_facet")["n"][0].as_py() == 3
    assert catalog.check() == []
    catalog.close()


def test_artifact_facets_and_file_schemas_are_indexed() -> None:
    catalog = DuckDBCatalog("duckdb://:memory:")
    art = Artifact(
        id="a1",
        key="persons",
        uri="outputs://p.parquet",
        facet={"zone": {"id": 7}},
        meta={"file_schema": [{"name": "pid", "type": "int64"}, {"name": "age", "type": "int8"}]},
    )
    run = Run(id="r1")
    catalog.record(RunRecord(run, (art,), (RunArtifactLink("r1", "a1", "output", "persons"),)))
    kv = catalog.query_sql("SELECT namespace, key, value_int FROM artifact_kv").to_pylist()
    assert kv == [{"namespace": "persons", "key": "zone.id", "value_int": 7}]
    names = catalog.query_sql(
        "SELECT name FROM file_schemas WHERE artifact_id = 'a1' ORDER BY position"
    )
    assert names["name"].to_pylist() == ["pid", "age"]
    assert catalog.get_artifact("a1") == art
    catalog.close()


def test_timestamps_come_back_aware_and_equal(db_path: Path) -> None:
    """Times in any zone round-trip to the same instant, as UTC."""
    paris = dt.timezone(dt.timedelta(hours=1))
    created = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=paris)
    catalog = DuckDBCatalog(f"duckdb:///{db_path}")
    catalog.record(RunRecord(Run(id="r1", created_at=created, ended_at=created)))
    catalog.close()
    run = DuckDBCatalog(f"duckdb:///{db_path}").get_run("r1")
    assert run.created_at == created and run.created_at.tzinfo == dt.UTC
    assert run.ended_at == created


def test_a_write_that_fails_midway_leaves_nothing_behind(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """record() is one transaction: runs, artifacts, links and facets commit together."""
    import consist_duckdb._catalog as module

    catalog = DuckDBCatalog(f"duckdb:///{db_path}")
    catalog.record(_record("kept", facet={"a": 1}))
    real_write = module.write_new_rows

    def write_then_fail(conn: duckdb.DuckDBPyConnection, filled: set[str]) -> None:
        real_write(conn, filled)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(module, "write_new_rows", write_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        catalog.record_many([_record("lost", 1, facet={"b": 2}), _record("kept", 2)])
    monkeypatch.undo()
    assert catalog.run_ids() == {"kept"}
    assert catalog.get_run("kept").created_at == _T0
    for table, n in [("artifacts", 1), ("run_artifact_links", 1), ("run_config_kv", 1)]:
        assert catalog.query_sql(f"SELECT count(*) AS n FROM {table}")["n"][0].as_py() == n
    with pytest.raises(ValueError, match="'lost'"):
        catalog.record(_record("lost", config={"x": float("nan")}))
    catalog.close()


def test_bad_sql_is_a_catalog_error() -> None:
    catalog = DuckDBCatalog("duckdb://:memory:")
    with pytest.raises(CatalogError, match="no_such_table"):
        catalog.query_sql("SELECT * FROM no_such_table")
    assert catalog.query_sql("SELECT 1 AS one")["one"].to_pylist() == [1]
    catalog.close()


def test_check_reports_dangling_links(db_path: Path) -> None:
    catalog = DuckDBCatalog(f"duckdb:///{db_path}")
    catalog.record(_record("r1"))
    catalog.query_sql("DELETE FROM artifacts")
    assert catalog.check() == ["1 links name an artifact that is not in the catalog"]
    catalog.close()


def test_signature_lookup_uses_the_signature_column(db_path: Path) -> None:
    sig = Signature("c", "f", "i")
    catalog = DuckDBCatalog(f"duckdb:///{db_path}")
    catalog.record(RunRecord(Run(id="r1", signature=sig).completed()))
    found = catalog.query_sql("SELECT id FROM runs WHERE signature = ?", [sig.digest])
    assert found["id"].to_pylist() == ["r1"]
    catalog.close()


def test_change_token_holds_across_reads_and_moves_with_writes_and_reopening(
    db_path: Path,
) -> None:
    """While the file is held, reads keep the token and writes change it; an idle
    close (when other processes may write) makes it equal to nothing."""
    catalog = DuckDBCatalog(f"duckdb:///{db_path}", keep_open=60)
    catalog.record(_record("r1"))
    token = catalog.change_token()
    catalog.get_run("r1")
    catalog.find_artifacts(key="table")
    assert catalog.change_token() == token
    catalog.record(_record("r2"))
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
