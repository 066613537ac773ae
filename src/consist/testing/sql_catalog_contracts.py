"""The contract of catalogs on the shared relational layout (``consist.relational``).

Beyond ``CatalogContract``: files shared by processes, URLs, damaged and foreign
files, migrations, the facet and file-schema tables, all-or-nothing writes and
``check``. Subclass it in an adapter's tests, set the class attributes and
write the four hooks that need the engine's own driver::

    class TestMyCatalogLayout(SQLCatalogContract):
        catalog_class = MyCatalog
        scheme, suffix = "mydb", ".mydb"

        def write_version_1_catalog(self, path): ...
        def write_foreign_file(self, path): ...
        def cut_to_damage(self, data): ...
        def make_writes_fail(self, monkeypatch): ...
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from consist.domain import (
    Artifact,
    Direction,
    Run,
    RunArtifactLink,
    RunQuery,
    RunRecord,
    Signature,
)
from consist.domain.errors import CatalogCorrupt, CatalogError, InvalidURI

__all__ = ["T0", "SQLCatalogContract", "record_with_output"]

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

# One writer process: records `count` runs (one input, one output each), reading between writes.
_WRITER = textwrap.dedent(
    """
    import sys, time
    from consist.domain import Artifact, Run, RunArtifactLink, RunRecord, Signature
    from {module} import {name} as Catalog

    url, worker, count, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    catalog = Catalog(url)
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(count):
        run_id = f"w{{worker}}-{{i}}"
        inp = Artifact(id=f"{{run_id}}-in", key="raw", uri=f"inputs://{{run_id}}.csv")
        out = Artifact(id=f"{{run_id}}-out", key="clean", uri=f"outputs://{{run_id}}.parquet",
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

REBUILD_REMEDY = "run `consist db rebuild` to recreate it from the JSON snapshots"


def record_with_output(run_id: str, minutes: int = 0, **fields: Any) -> RunRecord:
    """A run created ``minutes`` after ``T0`` with one output artifact."""
    out = Artifact(id=f"{run_id}-out", key="table", uri=f"workspace://{run_id}.parquet")
    run = Run(id=run_id, created_at=T0 + dt.timedelta(minutes=minutes), **fields)
    return RunRecord(run, (out,), (RunArtifactLink(run_id, out.id, Direction.OUTPUT, "table"),))


def count_rows(catalog: Any, table: str) -> int:
    value = catalog.query_sql(f"SELECT count(*) AS n FROM {table}")["n"][0].as_py()
    assert isinstance(value, int)
    return value


class SQLCatalogContract:
    """What every catalog on the shared relational layout must do."""

    catalog_class: ClassVar[type]
    scheme: ClassVar[str]
    suffix: ClassVar[str]

    # -- hooks: the engine's own driver ---------------------------------------

    def write_version_1_catalog(self, path: Path) -> None:
        """Write a catalog at ``path`` with only migration 1 applied, holding artifact
        ``a1`` (key ``persons``, created at ``T0``) whose meta has a ``file_schema``
        of ``id`` (int64) and ``age`` (no type)."""
        raise NotImplementedError

    def write_foreign_file(self, path: Path) -> None:
        """Write a database at ``path`` with a table named ``runs`` that Consist did not make."""
        raise NotImplementedError

    def cut_to_damage(self, data: bytes) -> bytes:
        """A prefix of a catalog file's bytes that leaves it damaged."""
        raise NotImplementedError

    def make_writes_fail(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make the catalog raise ``RuntimeError("disk on fire")`` after writing every
        table of a ``record_many`` and before it commits."""
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------

    @pytest.fixture
    def db_path(self, tmp_path: Path) -> Path:
        return tmp_path / f"c{self.suffix}"

    def url(self, path: Path | str) -> str:
        return f"{self.scheme}:///{path}"

    def open(self, url: str, **options: Any) -> Any:
        return self.catalog_class(url, **options)

    def memory(self) -> Any:
        return self.open(f"{self.scheme}://:memory:")

    # -- the contract --------------------------------------------------------

    def test_four_processes_writing_one_file_lose_nothing(self, db_path: Path) -> None:
        """4 processes x 100 runs on one file: every run and artifact lands, nobody errors."""
        url = self.url(db_path)
        self.open(url).close()
        writer = _WRITER.format(
            module=self.catalog_class.__module__, name=self.catalog_class.__name__
        )
        start_at = time.time() + 3.0
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", writer, url, str(w), "100", str(start_at)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(4)
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
        catalog = self.open(url)
        try:
            assert len(catalog.run_ids()) == 400
            assert count_rows(catalog, "artifacts") == 800
            assert count_rows(catalog, "run_artifact_links") == 800
            assert catalog.check() == []
        finally:
            catalog.close()

    @pytest.mark.parametrize("damage", ["garbage", "truncated"])
    def test_a_damaged_file_is_catalog_corrupt_with_the_remedy(
        self, db_path: Path, damage: str
    ) -> None:
        """Garbage or truncated bytes name the file and say how to rebuild it."""
        if damage == "garbage":
            db_path.write_bytes(b"\x13\x37not a database" * 4096)
        else:
            catalog = self.open(self.url(db_path))
            records = (
                record_with_output(f"r{i}", i, config={"pad": "x" * 200}) for i in range(2000)
            )
            catalog.record_many(records)
            catalog.close()
            db_path.write_bytes(self.cut_to_damage(db_path.read_bytes()))
        with pytest.raises(CatalogCorrupt) as caught:
            catalog = self.open(self.url(db_path))
            catalog.find_runs(RunQuery())
            catalog.run_ids()
        assert str(db_path) in str(caught.value)
        assert REBUILD_REMEDY in str(caught.value)

    def test_urls_resolve_paths_and_reject_nonsense(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        catalog = self.open(f"{self.scheme}://sub/rel{self.suffix}")
        assert catalog.path == str(tmp_path / "sub" / f"rel{self.suffix}")
        catalog.close()
        assert self.memory().path == ":memory:"
        other = "sqlite" if self.scheme != "sqlite" else "duckdb"
        for bad in [
            f"{other}:///x{self.suffix}",
            f"{self.scheme}://",
            f"{self.scheme}:///x{self.suffix}?colour=red",
            f"{self.scheme}:///x{self.suffix}?lock_timeout=soon",
        ]:
            with pytest.raises(InvalidURI):
                self.open(bad)

    def test_missing_folders_are_created_and_a_folder_is_not_a_catalog(
        self, tmp_path: Path
    ) -> None:
        self.open(self.url(f"{tmp_path}/new/dir/c{self.suffix}")).close()
        assert (tmp_path / "new" / "dir" / f"c{self.suffix}").is_file()
        with pytest.raises(CatalogError, match="new"):
            self.open(self.url(f"{tmp_path}/new"))

    def test_a_version_1_catalog_is_upgraded_in_place(self, db_path: Path) -> None:
        """A file with only the first layout gains file_schemas, backfilled from artifact meta."""
        self.write_version_1_catalog(db_path)
        catalog = self.open(self.url(db_path))
        versions = catalog.query_sql("SELECT version FROM schema_version ORDER BY version")
        assert versions["version"].to_pylist() == [1, 2]
        schema = catalog.query_sql(
            "SELECT position, name, type FROM file_schemas ORDER BY position"
        )
        assert schema.to_pylist() == [
            {"position": 0, "name": "id", "type": "int64"},
            {"position": 1, "name": "age", "type": None},
        ]
        artifact = catalog.get_artifact("a1")
        assert artifact.created_at == T0
        assert artifact.meta["file_schema"][0]["name"] == "id"
        catalog.close()

    def test_a_catalog_newer_than_the_code_is_refused(self, db_path: Path) -> None:
        catalog = self.open(self.url(db_path))
        catalog.query_sql(
            "INSERT INTO schema_version (version, applied_at, summary) VALUES (99, ?, 'future')",
            [T0.isoformat()],
        )
        catalog.close()
        with pytest.raises(CatalogError, match="schema version 99") as caught:
            self.open(self.url(db_path))
        assert "upgrade it" in str(caught.value)

    def test_a_foreign_file_is_not_adopted(self, db_path: Path) -> None:
        self.write_foreign_file(db_path)
        with pytest.raises(CatalogError, match="not written by Consist"):
            self.open(self.url(db_path))

    def test_facets_are_flattened_and_deduplicated(self) -> None:
        """Run facets: one stored copy per (namespace, facet), key/value rows per run."""
        catalog = self.memory()
        facet = {"mode": "car", "cost": {"fuel": 1.5}, "on": True, "n": 3, "ids": [1, 2]}
        catalog.record(record_with_output("r1", model="sim", facet=facet))
        catalog.record(record_with_output("r2", 1, model="sim", facet=facet))
        catalog.record(record_with_output("r3", 2, facet={"mode": "bus"}))
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
        assert rows[3]["value_int"] == 3 and rows[4]["value_bool"] in (True, 1)
        assert [r["value_bool"] for r in rows[:4]] == [None] * 4
        assert json.loads(rows[1]["value_json"]) == [1, 2]
        found = catalog.query_sql(
            "SELECT run_id FROM run_config_kv WHERE namespace = 'sim' AND key = 'mode' "
            "AND value_str = 'car' ORDER BY run_id"
        )
        assert found["run_id"].to_pylist() == ["r1", "r2"]

        catalog.record(record_with_output("r1", model="sim", facet={"mode": "walk"}))
        modes = catalog.query_sql("SELECT key, value_str FROM run_config_kv WHERE run_id = 'r1'")
        assert modes.to_pylist() == [{"key": "mode", "value_str": "walk"}]
        catalog.vacuum()
        assert count_rows(catalog, "config_facet") == 3
        assert catalog.check() == []
        catalog.close()

    def test_artifact_facets_and_file_schemas_are_indexed(self) -> None:
        catalog = self.memory()
        art = Artifact(
            id="a1",
            key="persons",
            uri="outputs://p.parquet",
            facet={"zone": {"id": 7}},
            meta={
                "file_schema": [{"name": "pid", "type": "int64"}, {"name": "age", "type": "int8"}]
            },
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

    def test_timestamps_come_back_aware_and_equal(self, db_path: Path) -> None:
        """Times in any zone round-trip to the same instant, as UTC."""
        paris = dt.timezone(dt.timedelta(hours=1))
        created = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=paris)
        catalog = self.open(self.url(db_path))
        catalog.record(RunRecord(Run(id="r1", created_at=created, ended_at=created)))
        catalog.close()
        reopened = self.open(self.url(db_path))
        run = reopened.get_run("r1")
        assert run.created_at == created and run.created_at.tzinfo == dt.UTC
        assert run.ended_at == created
        reopened.close()

    def test_a_write_that_fails_midway_leaves_nothing_behind(
        self, db_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """record() is one transaction: runs, artifacts, links and facets commit together."""
        catalog = self.open(self.url(db_path))
        catalog.record(record_with_output("kept", facet={"a": 1}))
        self.make_writes_fail(monkeypatch)
        with pytest.raises(RuntimeError, match="disk on fire"):
            catalog.record_many(
                [record_with_output("lost", 1, facet={"b": 2}), record_with_output("kept", 2)]
            )
        monkeypatch.undo()
        assert catalog.run_ids() == {"kept"}
        assert catalog.get_run("kept").created_at == T0
        for table in ("artifacts", "run_artifact_links", "run_config_kv", "config_facet"):
            assert count_rows(catalog, table) == 1
        with pytest.raises(ValueError, match="'lost'"):
            catalog.record(record_with_output("lost", config={"x": float("nan")}))
        assert catalog.run_ids() == {"kept"}
        catalog.close()

    def test_bad_sql_is_a_catalog_error(self) -> None:
        catalog = self.memory()
        with pytest.raises(CatalogError, match="no_such_table"):
            catalog.query_sql("SELECT * FROM no_such_table")
        assert catalog.query_sql("SELECT 1 AS one")["one"].to_pylist() == [1]
        catalog.close()

    def test_check_reports_dangling_links(self, db_path: Path) -> None:
        catalog = self.open(self.url(db_path))
        catalog.record(record_with_output("r1"))
        catalog.query_sql("DELETE FROM artifacts")
        assert catalog.check() == ["1 links name an artifact that is not in the catalog"]
        catalog.close()

    def test_has_run_answers_without_reading_the_run(self) -> None:
        catalog = self.memory()
        catalog.record(record_with_output("r1"))
        assert catalog.has_run("r1") is True
        assert catalog.has_run("r2") is False
        catalog.close()

    def test_a_file_with_catalog_tables_but_no_version_is_not_adopted(self, db_path: Path) -> None:
        """An emptied schema_version (a half-copied file, say) is refused, not re-created over."""
        catalog = self.open(self.url(db_path))
        catalog.record(record_with_output("r1"))
        catalog.query_sql("DELETE FROM schema_version")
        catalog.close()
        with pytest.raises(CatalogError, match="not written by Consist"):
            self.open(self.url(db_path))

    def test_signature_lookup_uses_the_signature_column(self, db_path: Path) -> None:
        sig = Signature("c", "f", "i")
        catalog = self.open(self.url(db_path))
        catalog.record(RunRecord(Run(id="r1", signature=sig).completed()))
        found = catalog.query_sql("SELECT id FROM runs WHERE signature = ?", [sig.digest])
        assert found["id"].to_pylist() == ["r1"]
        catalog.close()
