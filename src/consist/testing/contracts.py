"""Contract suites for the ports, shipped so adapter packages can run them.

Subclass a contract in your adapter's tests and provide the fixture it needs::

    class TestMyCatalog(CatalogContract):
        @pytest.fixture
        def catalog(self, tmp_path):
            cat = MyCatalog(f"mydb://{tmp_path}/c.db")
            yield cat
            cat.close()

Every adapter of a port must pass the same suite; the in-memory adapters
define the reference behaviour.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from consist.domain import (
    Artifact,
    Direction,
    Run,
    RunArtifactLink,
    RunQuery,
    RunRecord,
    RunStatus,
    Signature,
)
from consist.domain.errors import (
    ArtifactNotFound,
    BlobNotFound,
    ConsistError,
    IntegrityError,
    MissingFile,
    RunNotFound,
)
from consist.ports import SupportsChangeToken, SupportsSignatureLookup

_T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def make_run(run_id: str, minutes: int = 0, **fields: Any) -> Run:
    fields.setdefault("created_at", _T0 + dt.timedelta(minutes=minutes))
    return Run(id=run_id, **fields)


def make_artifact(artifact_id: str, key: str = "data", **fields: Any) -> Artifact:
    fields.setdefault("uri", f"workspace://{artifact_id}.parquet")
    fields.setdefault("created_at", _T0)
    return Artifact(id=artifact_id, key=key, **fields)


def make_record(
    run: Run, inputs: dict[str, Artifact] | None = None, outputs: dict[str, Artifact] | None = None
) -> RunRecord:
    links = [RunArtifactLink(run.id, a.id, Direction.INPUT, k) for k, a in (inputs or {}).items()]
    links += [
        RunArtifactLink(run.id, a.id, Direction.OUTPUT, k) for k, a in (outputs or {}).items()
    ]
    artifacts = {a.id: a for a in [*(inputs or {}).values(), *(outputs or {}).values()]}
    return RunRecord(run, tuple(artifacts.values()), tuple(links))


SIG_A = Signature("code-a", "config-a", "input-a")
SIG_B = Signature("code-b", "config-a", "input-a")


class CatalogContract:
    """What every Catalog must do. Needs a ``catalog`` fixture."""

    def test_missing_run_raises_run_not_found(self, catalog: Any) -> None:
        """Asking for an unknown id is an error, never None."""
        with pytest.raises(RunNotFound):
            catalog.get_run("no-such-run")
        with pytest.raises(LookupError):
            catalog.get_record("no-such-run")

    def test_recorded_run_reads_back_equal(self, catalog: Any) -> None:
        """Every field of a run survives the round trip."""
        run = make_run(
            "r1",
            model="simulate",
            year=2030,
            iteration=2,
            tags=("a", "b"),
            parent_run_id="scen",
            signature=SIG_A,
            config={"alpha": 1, "nested": {"x": [1, 2]}},
            facet={"alpha": 1},
            cache_hit=True,
            cached_from="r0",
            meta={"pid": 12},
            ended_at=_T0 + dt.timedelta(seconds=5),
            status=RunStatus.COMPLETED,
        )
        catalog.record(make_record(run))
        assert catalog.get_run("r1") == run

    def test_record_is_idempotent_and_replaces(self, catalog: Any) -> None:
        """Recording a run again updates it in place; there is still one copy."""
        out = make_artifact("a1", "out")
        run = make_run("r1", model="m", signature=SIG_A)
        catalog.record(make_record(run, outputs={"out": out}))
        catalog.record(make_record(run, outputs={"out": out}))
        done = run.completed(at=_T0 + dt.timedelta(minutes=1))
        catalog.record(make_record(done, outputs={"out": out}))
        assert catalog.get_run("r1").status == RunStatus.COMPLETED
        assert catalog.run_ids() == {"r1"}
        record = catalog.get_record("r1")
        assert [a.id for a in record.artifacts] == ["a1"]
        assert len(record.links) == 1

    def test_record_round_trips_artifacts_and_links(self, catalog: Any) -> None:
        """A record reads back with the same artifacts under the same keys."""
        inp = make_artifact(
            "in1", "raw", content_hash="h" * 64, size=10, driver="csv", meta={"rows": 3}
        )
        out = make_artifact("out1", "clean", producer_run_id="r1", driver="parquet")
        catalog.record(make_record(make_run("r1", signature=SIG_A), {"raw": inp}, {"clean": out}))
        record = catalog.get_record("r1")
        assert record.artifacts_by_direction(Direction.INPUT) == {"raw": inp}
        assert record.artifacts_by_direction(Direction.OUTPUT) == {"clean": out}
        assert catalog.get_artifact("in1") == inp

    def test_missing_artifact_raises(self, catalog: Any) -> None:
        with pytest.raises(ArtifactNotFound):
            catalog.get_artifact("nope")

    def test_find_by_signature_returns_newest_completed(self, catalog: Any) -> None:
        """Only completed runs serve hits; the newest wins."""
        catalog.record(make_record(make_run("old", 1, signature=SIG_A).completed()))
        catalog.record(make_record(make_run("new", 2, signature=SIG_A).completed()))
        catalog.record(make_record(make_run("other", 3, signature=SIG_B).completed()))
        found = catalog.find_by_signature(SIG_A.digest)
        assert found is not None and found.id == "new"

    def test_completed_signatures_names_only_those_with_a_completed_run(self, catalog: Any) -> None:
        """The batch check of a sweep agrees with find_by_signature (when supported)."""
        batched = isinstance(catalog, SupportsSignatureLookup)  # a bool: catalog stays Any
        if not batched:
            pytest.skip("this catalog checks signatures one at a time")
        catalog.record(make_record(make_run("done", 1, signature=SIG_A).completed()))
        catalog.record(make_record(make_run("failed", 2, signature=SIG_B).failed("E", "x")))
        asked = [SIG_A.digest, SIG_B.digest, "0" * 64]
        assert catalog.completed_signatures(asked) == {SIG_A.digest}
        assert catalog.completed_signatures([]) == set()

    def test_failed_or_running_runs_never_match_a_signature(self, catalog: Any) -> None:
        """A run that failed (or never finished) must not serve a cache hit."""
        catalog.record(make_record(make_run("f", 1, signature=SIG_A).failed("E", "boom")))
        catalog.record(make_record(make_run("r", 2, signature=SIG_A)))
        assert catalog.find_by_signature(SIG_A.digest) is None
        assert catalog.find_by_signature("0" * 64) is None

    def test_find_runs_filters_and_orders_newest_first(self, catalog: Any) -> None:
        """Filters combine with AND; results come newest first."""
        for i, (parent, model, year) in enumerate(
            [
                ("s1", "sim", 2020),
                ("s1", "sim", 2030),
                ("s1", "init", None),
                ("s2", "sim", 2030),
                (None, "sim", 2030),
            ]
        ):
            run = make_run(
                f"r{i}",
                i,
                parent_run_id=parent,
                model=model,
                year=year,
                tags=("x",) if i % 2 else ("x", "y"),
            )
            catalog.record(make_record(run.completed() if i != 4 else run))

        def ids(query: RunQuery) -> list[str]:
            return [r.id for r in catalog.find_runs(query)]

        assert ids(RunQuery()) == ["r4", "r3", "r2", "r1", "r0"]
        assert ids(RunQuery(parent_run_id="s1", model="sim")) == ["r1", "r0"]
        assert ids(RunQuery(model="sim", year=2030)) == ["r4", "r3", "r1"]
        assert ids(RunQuery(parent_run_id="s1", model="sim", year=2030)) == ["r1"]
        assert ids(RunQuery(status="running")) == ["r4"]
        assert ids(RunQuery(tags=("y",))) == ["r4", "r2", "r0"]
        assert ids(RunQuery(tags=("x", "y"), model="sim")) == ["r4", "r0"]
        assert ids(RunQuery(limit=2)) == ["r4", "r3"]
        assert ids(RunQuery(signature="nope")) == []

    def test_find_runs_matches_the_reference_semantics(self, catalog: Any) -> None:
        """Whatever the backend, a filter means what RunQuery.matches says."""
        runs = [
            make_run(
                f"r{i}",
                i,
                model=f"m{i % 2}",
                year=2020 + i % 3,
                iteration=i % 2,
                status=RunStatus.COMPLETED if i % 3 else RunStatus.FAILED,
            )
            for i in range(12)
        ]
        for run in runs:
            catalog.record(make_record(run))
        for query in [
            RunQuery(model="m1"),
            RunQuery(year=2021, iteration=1),
            RunQuery(status="failed", model="m0"),
            RunQuery(iteration=0, limit=3),
        ]:
            expected = [
                r.id
                for r in sorted(runs, key=lambda r: r.created_at, reverse=True)
                if query.matches(r)
            ][: query.limit]
            assert [r.id for r in catalog.find_runs(query)] == expected

    def test_find_artifacts_by_uri_hash_and_key(self, catalog: Any) -> None:
        a1 = make_artifact("a1", "persons", uri="outputs://p.parquet", content_hash="1" * 64)
        a2 = make_artifact("a2", "persons", uri="outputs://q.parquet", content_hash="2" * 64)
        catalog.record(make_record(make_run("r1"), outputs={"persons": a1}))
        catalog.record(make_record(make_run("r2", 1), outputs={"persons": a2}))
        assert [a.id for a in catalog.find_artifacts(uri="outputs://p.parquet")] == ["a1"]
        assert [a.id for a in catalog.find_artifacts(content_hash="2" * 64)] == ["a2"]
        assert {a.id for a in catalog.find_artifacts(key="persons")} == {"a1", "a2"}
        assert catalog.find_artifacts(key="persons", uri="outputs://q.parquet")[0].id == "a2"
        assert catalog.find_artifacts(uri="nowhere://x") == []

    def test_links_of_artifact_support_lineage_walks(self, catalog: Any) -> None:
        """An artifact knows the run that wrote it and every run that read it."""
        shared = make_artifact("shared", "pop", producer_run_id="up")
        catalog.record(make_record(make_run("up"), outputs={"pop": shared}))
        catalog.record(make_record(make_run("down1", 1), inputs={"pop": shared}))
        catalog.record(make_record(make_run("down2", 2), inputs={"population": shared}))
        links = catalog.links_of_artifact("shared")
        assert {(link.run_id, str(link.direction), link.key) for link in links} == {
            ("up", "output", "pop"),
            ("down1", "input", "pop"),
            ("down2", "input", "population"),
        }
        assert catalog.links_of_artifact("unknown") == []

    def test_awkward_text_is_stored_verbatim(self, catalog: Any) -> None:
        """Keys and values with quotes or SQL are data, never code."""
        nasty = 'x"; DROP TABLE runs; --'
        art = make_artifact("a'1", nasty, uri=f"workspace://{nasty}")
        run = make_run("r'1", model=nasty, tags=(nasty,), config={nasty: nasty})
        catalog.record(make_record(run, outputs={nasty: art}))
        assert catalog.get_run("r'1") == run
        assert catalog.find_runs(RunQuery(model=nasty))[0].id == "r'1"
        assert catalog.find_artifacts(key=nasty)[0] == art

    def test_change_token_moves_with_every_write(self, catalog: Any) -> None:
        """Optional capability: a token read before a write never equals one read after."""
        token = catalog.change_token if isinstance(catalog, SupportsChangeToken) else None
        if token is None:
            pytest.skip(f"{type(catalog).__name__} offers no change token (optional)")
        tokens = [token()]
        for i in range(3):
            catalog.record(make_record(make_run(f"tok{i}")))
            tokens.append(token())
        assert len(set(tokens)) == len(tokens)

    def test_close_is_safe_twice(self, catalog: Any) -> None:
        catalog.close()
        catalog.close()


class BlobStoreContract:
    """What every BlobStore must do. Needs a ``blobs`` fixture."""

    @staticmethod
    def _file(tmp_path: Path, data: bytes, name: str = "f.bin") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    def test_put_returns_sha256_and_get_restores_bytes(self, blobs: Any, tmp_path: Path) -> None:
        data = b"hello consist\n" * 1000
        digest = blobs.put(self._file(tmp_path, data))
        assert digest == hashlib.sha256(data).hexdigest()
        assert blobs.exists(digest)
        out = blobs.get(digest, tmp_path / "nested" / "out.bin")
        assert out.read_bytes() == data

    def test_put_is_idempotent(self, blobs: Any, tmp_path: Path) -> None:
        path = self._file(tmp_path, b"same")
        assert blobs.put(path) == blobs.put(path)
        assert list(blobs.digests()).count(hashlib.sha256(b"same").hexdigest()) == 1

    def test_open_reads_the_bytes(self, blobs: Any, tmp_path: Path) -> None:
        digest = blobs.put(self._file(tmp_path, b"abc"))
        with blobs.open(digest) as handle:
            assert handle.read() == b"abc"

    def test_empty_file_round_trips(self, blobs: Any, tmp_path: Path) -> None:
        digest = blobs.put(self._file(tmp_path, b""))
        assert blobs.get(digest, tmp_path / "e").read_bytes() == b""

    def test_unknown_digest_is_blob_not_found(self, blobs: Any, tmp_path: Path) -> None:
        unknown = "0" * 64
        assert not blobs.exists(unknown)
        with pytest.raises(BlobNotFound):
            blobs.get(unknown, tmp_path / "x")
        with pytest.raises(LookupError):
            blobs.open(unknown)
        assert not (tmp_path / "x").exists()

    def test_malformed_digest_is_refused(self, blobs: Any, tmp_path: Path) -> None:
        """A digest is never a path: '../' and friends are refused before any I/O."""
        for bad in ["../../etc/passwd", "ABC", "", "g" * 64]:
            with pytest.raises(ConsistError):
                blobs.get(bad, tmp_path / "x")

    def test_put_of_missing_file_is_clear(self, blobs: Any, tmp_path: Path) -> None:
        with pytest.raises(MissingFile, match=r"nope\.bin"):
            blobs.put(tmp_path / "nope.bin")

    def test_delete_and_listing(self, blobs: Any, tmp_path: Path) -> None:
        d1 = blobs.put(self._file(tmp_path, b"one", "1"))
        d2 = blobs.put(self._file(tmp_path, b"two", "2"))
        assert {d1, d2} <= set(blobs.digests())
        blobs.delete(d1)
        blobs.delete(d1)  # absent: not an error
        assert not blobs.exists(d1)
        assert d1 not in set(blobs.digests())
        assert blobs.exists(d2)

    def test_get_replaces_destination_atomically(self, blobs: Any, tmp_path: Path) -> None:
        digest = blobs.put(self._file(tmp_path, b"new bytes"))
        dest = self._file(tmp_path, b"old", "dest.bin")
        blobs.get(digest, dest)
        assert dest.read_bytes() == b"new bytes"
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".dest.bin")]
        assert leftovers == []

    def test_corrupted_blob_is_an_integrity_error(
        self, blobs: Any, tmp_path: Path, corrupt_blob: Any
    ) -> None:
        """Bytes that no longer match their digest are never returned silently."""
        digest = blobs.put(self._file(tmp_path, b"precious"))
        corrupt_blob(blobs, digest, b"tampered")
        dest = self._file(tmp_path, b"keep me", "dest.bin")
        with pytest.raises(IntegrityError):
            blobs.get(digest, dest)
        assert dest.read_bytes() == b"keep me"

    @pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
    @pytest.mark.parametrize("umask", [0o022, 0o077])
    def test_fetched_file_gets_default_permissions(
        self, blobs: Any, tmp_path: Path, umask: int
    ) -> None:
        """A restored file is readable like any new file: 0666 less the umask, not 0600."""
        digest = blobs.put(self._file(tmp_path, b"shared with the group"))
        previous = os.umask(umask)
        try:
            fresh = blobs.get(digest, tmp_path / "fresh.bin")
            replaced = blobs.get(digest, self._file(tmp_path, b"old", "replaced.bin"))
        finally:
            os.umask(previous)
        for path in (fresh, replaced):
            assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
