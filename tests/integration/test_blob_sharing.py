"""Outputs archived to a blob store, and runs shared between machines through it.

Two "machines" are two trackers with their own run directory and catalog; they
share one bucket on moto's S3 server (tests.support.s3), spoken to over HTTP.
Machine A's whole directory is deleted before B reads, so B can only get
bytes from the bucket.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pandas as pd
import pytest

import consist
from consist.domain import Direction
from consist.domain.errors import BlobStoreError, IntegrityError, InvalidInput, MissingFile
from consist.services.sharing.archiving import (
    ARCHIVE_PENDING,
    BLOB_DIGEST,
    BLOB_MANIFEST,
    ArchiveReport,
)
from consist.services.sharing.publish import PULLED_FROM, PULLED_VERSION
from consist_fsspec import FsspecBlobStore

# Distinctive credentials (moto accepts any), so a leak is found by grepping for them.
ACCESS_KEY = "AKIACONSISTLEAKPROBE1"
SECRET = "consist-secret-must-never-be-stored"


class Calls:
    def __init__(self) -> None:
        self.count = 0


def pipeline(calls: Calls) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Two steps: ``prepare`` scales a CSV, ``summarize`` totals it; both count their calls."""

    def prepare(raw: Path, output_paths: dict[str, Path]) -> None:
        calls.count += 1
        frame = pd.read_csv(raw)
        frame.assign(value=frame["value"] * 10).to_csv(output_paths["scaled"], index=False)

    def summarize(scaled: Path, output_paths: dict[str, Path]) -> None:
        calls.count += 1
        frame = pd.read_csv(scaled)
        frame.groupby("group", as_index=False)["value"].sum().to_csv(
            output_paths["totals"], index=False
        )

    return prepare, summarize


def run_pipeline(tracker: Any, raw: Path, calls: Calls, **options: Any) -> tuple[Any, Any]:
    prepare, summarize = pipeline(calls)
    first = tracker.run(
        prepare,
        inputs={"raw": raw},
        output_paths={"scaled": "scaled.csv"},
        load_inputs=False,
        **options,
    )
    second = tracker.run(
        summarize,
        inputs={"scaled": first.outputs["scaled"]},
        output_paths={"totals": "totals.csv"},
        load_inputs=False,
        **options,
    )
    return first, second


def machine(root: Path, blobs: Any, catalog: str = "duckdb", **options: Any) -> Any:
    """A tracker with its own run directory, catalog file and copy of the raw input."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "raw.csv").write_text("value,group\n1,a\n2,b\n3,a\n")
    db = root / ("provenance.duckdb" if catalog == "duckdb" else "provenance.sqlite")
    return consist.Tracker(
        root / "runs", db_path=db, blobs=blobs, code_identity="function", **options
    )


@pytest.fixture
def s3_url(s3_prefix: str) -> str:
    return f"s3://{s3_prefix}"


@pytest.fixture
def s3_options(s3_endpoint: str) -> dict[str, Any]:
    return {"client_kwargs": {"endpoint_url": s3_endpoint}, "key": ACCESS_KEY, "secret": SECRET}


def s3_machine(root: Path, url: str, options: dict[str, Any], **kw: Any) -> Any:
    return machine(root, url, storage_options=options, **kw)


def a_runs_and_pushes(tmp_path: Path, url: str, options: dict[str, Any]) -> dict[str, Any]:
    """Machine A runs the pipeline, pushes, and disappears; returns what B should see."""
    calls = Calls()
    with s3_machine(tmp_path / "a", url, options) as a:
        first, second = run_pipeline(a, tmp_path / "a" / "raw.csv", calls)
        pushed = a.push()
        expected = {
            "run_ids": (first.run_id, second.run_id),
            "scaled": a.artifact_path(first.outputs["scaled"]).read_bytes(),
            "totals": a.artifact_path(second.outputs["totals"]).read_bytes(),
            "pushed": pushed,
            "calls": calls.count,
        }
    shutil.rmtree(tmp_path / "a")  # machine A is gone: only the bucket remains
    return expected


@pytest.mark.s3
def test_two_machines_share_runs_and_outputs_through_one_bucket(
    tmp_path: Path, s3_url: str, s3_options: dict[str, Any]
) -> None:
    a = a_runs_and_pushes(tmp_path, s3_url, s3_options)
    assert a["calls"] == 2
    assert sorted(a["pushed"].published) == sorted(a["run_ids"])

    calls = Calls()
    with s3_machine(tmp_path / "b", s3_url, s3_options, catalog="sqlite") as b:
        report = b.pull()
        assert sorted(report.imported) == sorted(a["run_ids"])
        first, second = run_pipeline(b, tmp_path / "b" / "raw.csv", calls)
        assert calls.count == 0  # neither step ran on B
        assert (first.cached_from, second.cached_from) == a["run_ids"]

        totals = second.outputs["totals"]
        local = b.resolve_path(totals)
        assert local.is_relative_to(tmp_path / "b") and not local.exists()
        loaded = consist.load(totals, tracker=b)
        assert local.read_bytes() == a["totals"]  # fetched from the bucket, verified
        pd.testing.assert_frame_equal(loaded, pd.read_csv(local))
        local.unlink()
        consist.load(totals, tracker=b)
        assert local.read_bytes() == a["totals"]  # fetched again

        # Hydrating a hit on B also comes from the bucket.
        hit = b.run(
            pipeline(calls)[0],
            inputs={"raw": tmp_path / "b" / "raw.csv"},
            output_paths={"scaled": "scaled.csv"},
            load_inputs=False,
            cache_hydration="outputs-all",
            hydration_dir=tmp_path / "b" / "hydrated",
        )
        assert calls.count == 0
        assert (tmp_path / "b" / "hydrated" / "scaled.csv").read_bytes() == a["scaled"]
        pulled = b.get_run(a["run_ids"][0])
        assert pulled.meta[PULLED_FROM] == s3_url
        assert hit.cache_hit
        # B pushing back what it pulled changes nothing in the bucket.
        again = b.push(list(a["run_ids"]))
        assert again.unchanged == list(a["run_ids"]) and again.published == []
        records = [b.get_record(run_id).to_dict() for run_id in (first.run_id, second.run_id)]

    # Credentials are nowhere: not in snapshots, the catalog file, or any record.
    for path in (tmp_path / "b").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and ACCESS_KEY.encode() not in data, path
    assert SECRET not in json.dumps(records, default=str)


@pytest.mark.s3
def test_a_tampered_blob_is_refused_not_returned(
    tmp_path: Path,
    s3_url: str,
    s3_options: dict[str, Any],
    s3_prefix: str,
    s3_client: Any,
) -> None:
    a = a_runs_and_pushes(tmp_path, s3_url, s3_options)
    with s3_machine(tmp_path / "b", s3_url, s3_options) as b:
        b.pull()
        totals = b.get_artifacts_for_run(a["run_ids"][1]).outputs["totals"]
        digest = totals.meta[BLOB_DIGEST]
        bucket, _, prefix = s3_prefix.partition("/")
        key = f"{prefix}/sha256/{digest[:2]}/{digest[2:4]}/{digest}"
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"group,value\na,999\nb,0\n")
        with pytest.raises(IntegrityError):
            consist.load(totals, tracker=b)
        assert not b.resolve_path(totals).exists()  # nothing half-trusted left behind
        # Strict validation does not serve the bad bytes either: the step runs again.
        calls = Calls()
        _, second = run_pipeline(
            b, tmp_path / "b" / "raw.csv", calls, validate_cached_outputs="strict"
        )
        assert calls.count == 1 and not second.cache_hit
        assert b.artifact_path(second.outputs["totals"]).read_bytes() == a["totals"]


# -- the archive policy ----------------------------------------------------------------


def local_store(tmp_path: Path) -> FsspecBlobStore:
    return FsspecBlobStore(str(tmp_path / "blobs"))


def test_outputs_are_archived_by_default_and_identity_is_unchanged(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    with machine(tmp_path / "plain", None) as plain:
        _, unarchived = run_pipeline(plain, tmp_path / "plain" / "raw.csv", Calls())
    with machine(tmp_path / "m", store) as tracker:
        first, second = run_pipeline(tracker, tmp_path / "m" / "raw.csv", Calls())
        scaled = first.outputs["scaled"]
        assert scaled.meta[BLOB_DIGEST] == scaled.content_hash
        assert set(store.digests()) == {
            scaled.content_hash,
            second.outputs["totals"].content_hash,
        }
        # The digest is in the snapshot and the catalog, not only in memory.
        snapshot = json.loads((tmp_path / "m" / "runs" / first.run_id / "consist.json").read_text())
        assert [a["meta"][BLOB_DIGEST] for a in snapshot["artifacts"] if a["key"] == "scaled"] == [
            scaled.content_hash
        ]
        tracker.flush()
        assert tracker.catalog.get_record(first.run_id).artifacts_by_direction(Direction.OUTPUT)[
            "scaled"
        ].meta[BLOB_DIGEST] == (scaled.content_hash)
    totals = second.outputs["totals"]
    assert totals.content_hash == unarchived.outputs["totals"].content_hash
    assert second.run.signature_digest == unarchived.run.signature_digest


def test_archive_none_stores_nothing(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    with machine(tmp_path / "m", store, archive="none") as tracker:
        first, _ = run_pipeline(tracker, tmp_path / "m" / "raw.csv", Calls())
    assert list(store.digests()) == []
    assert BLOB_DIGEST not in first.outputs["scaled"].meta


def test_archive_keys_stores_only_those_outputs(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    with machine(tmp_path / "m", store, archive=["totals"]) as tracker:
        first, second = run_pipeline(tracker, tmp_path / "m" / "raw.csv", Calls())
    assert list(store.digests()) == [second.outputs["totals"].content_hash]
    assert BLOB_DIGEST not in first.outputs["scaled"].meta


def test_an_unknown_archive_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="archive"):
        machine(tmp_path / "m", local_store(tmp_path), archive="everything")


def test_a_run_whose_archiving_fails_still_completes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-directory").write_text("a file where the store's root should be")
    store = FsspecBlobStore(str(tmp_path / "not-a-directory" / "blobs"))
    calls = Calls()
    with caplog.at_level(logging.WARNING), machine(tmp_path / "m", store) as tracker:
        first, second = run_pipeline(tracker, tmp_path / "m" / "raw.csv", calls)
        again, _ = run_pipeline(tracker, tmp_path / "m" / "raw.csv", calls)
    assert first.run.status.value == "completed" and second.run.status.value == "completed"
    assert BLOB_DIGEST not in first.outputs["scaled"].meta
    assert "was not archived" in caplog.text
    assert again.cache_hit and calls.count == 2


class FlakyStore(FsspecBlobStore):
    """A local store whose puts fail while ``down`` (an unreachable endpoint, say)."""

    down = True

    def put(self, path: Path) -> str:
        if self.down:
            raise BlobStoreError(f"blob store {self.url}: put failed (ConnectTimeout)")
        return super().put(path)


def snapshot_of(tracker: Any, run_id: str) -> dict[str, Any]:
    return dict(json.loads((Path(tracker.run_dir) / run_id / "consist.json").read_text()))


def archived_meta(document: dict[str, Any], key: str) -> dict[str, Any]:
    return dict(next(a["meta"] for a in document["artifacts"] if a["key"] == key))


def test_outputs_whose_archiving_failed_are_archived_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(str(tmp_path / "blobs"))
    with caplog.at_level(logging.WARNING), machine(tmp_path / "m", store) as tracker:
        first, second = run_pipeline(tracker, tmp_path / "m" / "raw.csv", Calls())
        assert "archive_pending()" in caplog.text
        assert list(store.digests()) == []
        for result, key in ((first, "scaled"), (second, "totals")):
            document = snapshot_of(tracker, result.run_id)
            assert document["run"]["meta"][ARCHIVE_PENDING] == [key]  # remembered, on disk
            assert BLOB_DIGEST not in archived_meta(document, key)

        store.down = False  # the store is back
        report = tracker.archive_pending()
        assert sorted(report.archived) == sorted(
            [(first.run_id, "scaled"), (second.run_id, "totals")]
        )
        assert report.pending == []
        scaled, totals = first.outputs["scaled"], second.outputs["totals"]
        assert set(store.digests()) == {scaled.content_hash, totals.content_hash}
        document = snapshot_of(tracker, first.run_id)
        assert ARCHIVE_PENDING not in document["run"]["meta"]
        assert archived_meta(document, "scaled")[BLOB_DIGEST] == scaled.content_hash
        tracker.flush()
        indexed = tracker.catalog.get_record(first.run_id)
        assert ARCHIVE_PENDING not in indexed.run.meta
        assert indexed.artifacts_by_direction(Direction.OUTPUT)["scaled"].meta[BLOB_DIGEST] == (
            scaled.content_hash
        )
        assert tracker.archive_pending() == ArchiveReport([], [])  # nothing left
        # The archive is usable: a deleted output comes back from the store.
        recorded = tracker.get_artifacts_for_run(second.run_id).outputs["totals"]
        assert recorded.meta[BLOB_DIGEST] == totals.content_hash
        local = tracker.resolve_path(recorded)
        content = local.read_bytes()
        local.unlink()
        assert tracker.artifact_path(recorded).read_bytes() == content


def test_push_archives_pending_outputs_before_publishing(tmp_path: Path) -> None:
    store = FlakyStore(str(tmp_path / "blobs"))
    with machine(tmp_path / "m", store) as tracker:
        first, _ = run_pipeline(tracker, tmp_path / "m" / "raw.csv", Calls())
        store.down = False
        report = tracker.push([first.run_id])
        assert report.published == [first.run_id]
        assert report.archived == [(first.run_id, "scaled")] and report.unarchived == []
    published = json.loads(store.read_named(f"snapshots/{first.run_id}.json"))
    assert archived_meta(published, "scaled")[BLOB_DIGEST] == first.outputs["scaled"].content_hash
    assert ARCHIVE_PENDING not in published["run"]["meta"]


def test_an_output_changed_since_its_run_stays_pending(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What is archived late must still be what the run logged; a changed file is refused."""
    store = FlakyStore(str(tmp_path / "blobs"))
    with machine(tmp_path / "m", store) as tracker:
        first, second = run_pipeline(tracker, tmp_path / "m" / "raw.csv", Calls())
        tracker.resolve_path(first.outputs["scaled"]).write_text("value,group\n0,edited\n")
        tracker.resolve_path(second.outputs["totals"]).unlink()
        store.down = False
        with caplog.at_level(logging.WARNING):
            report = tracker.archive_pending()
    assert report.archived == []
    assert sorted(report.pending) == sorted([(first.run_id, "scaled"), (second.run_id, "totals")])
    assert "changed after it was logged" in caplog.text and "no longer" in caplog.text
    for result, key in ((first, "scaled"), (second, "totals")):
        assert snapshot_of(tracker, result.run_id)["run"]["meta"][ARCHIVE_PENDING] == [key]
    assert BLOB_DIGEST not in archived_meta(snapshot_of(tracker, first.run_id), "scaled")


# -- directories, strict validation, hydration ---------------------------------------------


def write_grid(output_paths: dict[str, Path]) -> None:
    """A small Zarr-like store: metadata files and chunk files in sub-folders."""
    root = output_paths["grid"]
    (root / "temp" / "0").mkdir(parents=True)
    (root / ".zgroup").write_text('{"zarr_format": 2}')
    (root / "temp" / ".zarray").write_text('{"chunks": [2, 2], "shape": [4, 2]}')
    (root / "temp" / "0" / "0").write_bytes(bytes(range(32)))
    (root / "temp" / "1.0").write_bytes(bytes(range(32, 64)))


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_directory_output_round_trips_through_a_manifest(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    with machine(tmp_path / "m", store) as tracker:
        result = tracker.run(write_grid, output_paths={"grid": "grid.zarr"})
        grid = result.outputs["grid"]
        assert grid.content_hash.startswith("dir:") and BLOB_MANIFEST in grid.meta
        path = tracker.resolve_path(grid)
        original = tree(path)
        shutil.rmtree(path)
        assert tracker.artifact_path(grid) == path
        assert tree(path) == original
        assert len(original) == 4


def test_strict_validation_restores_from_blobs_instead_of_executing(tmp_path: Path) -> None:
    calls = Calls()
    with machine(tmp_path / "m", local_store(tmp_path)) as tracker:
        first, second = run_pipeline(tracker, tmp_path / "m" / "raw.csv", calls)
        totals = tracker.resolve_path(second.outputs["totals"])
        content = totals.read_bytes()
        shutil.rmtree(tmp_path / "m" / "runs" / first.run_id)
        totals.unlink()
        _, again = run_pipeline(
            tracker, tmp_path / "m" / "raw.csv", calls, validate_cached_outputs="strict"
        )
        assert calls.count == 2 and again.cache_hit
        assert totals.read_bytes() == content


def test_without_an_archive_a_missing_file_is_still_a_missing_file(tmp_path: Path) -> None:
    with machine(tmp_path / "m", local_store(tmp_path), archive="none") as tracker:
        _, second = run_pipeline(tracker, tmp_path / "m" / "raw.csv", Calls())
        tracker.resolve_path(second.outputs["totals"]).unlink()
        with pytest.raises(MissingFile, match="totals"):
            consist.load(second.outputs["totals"], tracker=tracker)


def test_a_manual_run_archives_its_outputs_when_it_ends(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    with machine(tmp_path / "m", store) as tracker, tracker.start_run("manual", "export") as run:
        (run.workspace / "report.txt").write_text("done\n")
        logged = run.log_output(run.workspace / "report.txt", "report")
        assert BLOB_DIGEST not in logged.meta  # not yet: the run has not ended
    record = json.loads((tmp_path / "m" / "runs" / "manual" / "consist.json").read_text())
    (artifact,) = record["artifacts"]
    assert artifact["meta"][BLOB_DIGEST] == logged.content_hash
    assert list(store.digests()) == [logged.content_hash]


def test_pull_never_replaces_a_local_run_with_the_same_id(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    for name, text in (("a", "from a\n"), ("b", "from b\n")):
        with machine(tmp_path / name, store) as tracker:
            with tracker.start_run("shared-id", "export") as run:
                (run.workspace / "out.txt").write_text(text)
                run.log_output(run.workspace / "out.txt", "out")
            if name == "a":
                assert tracker.push().published == ["shared-id"]
            else:
                report = tracker.pull()
                assert report.conflicts == ["shared-id"] and report.imported == []
                kept = tracker.get_artifacts_for_run("shared-id").outputs["out"]
                assert tracker.artifact_path(kept).read_text() == "from b\n"
                assert PULLED_FROM not in tracker.get_run("shared-id").meta


# -- repeated pulls ------------------------------------------------------------------


class CountingReads:
    """Wraps a store's read_named (the one call that downloads a snapshot) to count it."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []
        real = store.read_named

        def read_named(name: str) -> bytes:
            self.names.append(name)
            return bytes(real(name))

        monkeypatch.setattr(store, "read_named", read_named)


def publish_manual_run(tracker: Any, run_id: str, text: str, **changes: Any) -> None:
    """A finished run with one output; published again (changed) when it exists already."""
    if tracker.run_exists(run_id):
        tracker.end_run(tracker.reopen_run(run_id, enter_context=False, **changes))
    else:
        with tracker.start_run(run_id, "export") as run:
            (run.workspace / "out.txt").write_text(text)
            run.log_output(run.workspace / "out.txt", "out")
    tracker.push([run_id])


def assert_repeated_pulls_download_only_what_changed(
    a: Any, b: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_manual_run(a, "run-1", "one\n")
    publish_manual_run(a, "run-2", "two\n")
    first = b.pull()
    assert first.imported == ["run-1", "run-2"]
    reads = CountingReads(b.blobs, monkeypatch)
    second = b.pull()
    assert reads.names == []  # nothing downloaded: both publications are as imported
    assert second.unchanged == ["run-1", "run-2"] and second.imported == []

    publish_manual_run(a, "run-2", "", tags=["reviewed"])  # A publishes run-2 again
    third = b.pull()
    assert reads.names == ["snapshots/run-2.json"]
    assert third.imported == ["run-2"] and third.unchanged == ["run-1"]
    assert b.get_run("run-2").tags == ("reviewed",)
    reads.names.clear()
    assert b.pull().unchanged == ["run-1", "run-2"] and reads.names == []


@pytest.mark.parametrize("url", ["local", "memory"])
def test_repeated_pulls_download_only_publications_that_changed(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = str(tmp_path / "blobs") if url == "local" else f"memory://pull-{tmp_path.name}"
    with machine(tmp_path / "a", blobs) as a, machine(tmp_path / "b", blobs) as b:
        assert_repeated_pulls_download_only_what_changed(a, b, monkeypatch)


@pytest.mark.s3
def test_repeated_pulls_from_s3_download_only_publications_that_changed(
    tmp_path: Path, s3_url: str, s3_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        s3_machine(tmp_path / "a", s3_url, s3_options) as a,
        s3_machine(tmp_path / "b", s3_url, s3_options) as b,
    ):
        assert_repeated_pulls_download_only_what_changed(a, b, monkeypatch)


def test_a_run_pulled_before_versions_were_recorded_is_checked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run imported without a version (an older pull) is downloaded and compared once,
    then its version is remembered."""
    blobs = str(tmp_path / "blobs")
    with machine(tmp_path / "a", blobs) as a, machine(tmp_path / "b", blobs) as b:
        publish_manual_run(a, "run-1", "one\n")
        assert b.pull().imported == ["run-1"]
        record = b.snapshots.read("run-1")
        meta = {k: v for k, v in record.run.meta.items() if k != PULLED_VERSION}
        b.save_record(attrs.evolve(record, run=attrs.evolve(record.run, meta=meta)))
        reads = CountingReads(b.blobs, monkeypatch)
        assert b.pull().unchanged == ["run-1"] and reads.names == ["snapshots/run-1.json"]
        assert b.pull().unchanged == ["run-1"] and reads.names == ["snapshots/run-1.json"]
        # The version is a pull mark: pushing the pulled run back publishes the same bytes.
        assert b.push(["run-1"]).unchanged == ["run-1"]


@pytest.mark.s3
def test_a_view_reads_archived_outputs_in_place_on_another_machine(
    tmp_path: Path, s3_url: str, s3_options: dict[str, Any]
) -> None:
    """B's view over A's outputs reads the blobs on S3 through DuckDB's fsspec
    registration: rows and system columns right, nothing downloaded."""
    a = a_runs_and_pushes(tmp_path, s3_url, s3_options)
    with s3_machine(tmp_path / "b", s3_url, s3_options) as b:
        b.pull()
        b.create_view("v_totals", "totals")
        rows = consist.run_query(
            'SELECT consist_run_id, "group", value FROM v_totals ORDER BY "group"', tracker=b
        )
        record = b.get_record(a["run_ids"][1])
        totals = record.artifacts_by_direction(Direction.OUTPUT)["totals"]
        assert not b.resolve_path(totals).exists()  # read in place, not fetched
    expected = pd.read_csv(io.BytesIO(a["totals"]))
    assert rows["group"].tolist() == expected["group"].tolist()
    assert rows["value"].tolist() == expected["value"].tolist()
    assert set(rows["consist_run_id"]) == {a["run_ids"][1]}


def test_a_view_reads_blobs_of_an_fsspec_memory_store(tmp_path: Path) -> None:
    """Any fsspec protocol works the same way; here the in-process memory filesystem."""
    url = f"memory://consist-view-test-{tmp_path.name}"
    calls = Calls()
    with machine(tmp_path / "a", url) as a:
        _, second = run_pipeline(a, tmp_path / "a" / "raw.csv", calls)
        a.push()
        expected = a.artifact_path(second.outputs["totals"]).read_bytes()
    shutil.rmtree(tmp_path / "a")
    with machine(tmp_path / "b", url) as b:
        b.pull()
        b.create_view("v_totals", "totals")
        got = consist.run_query('SELECT "group", value FROM v_totals ORDER BY "group"', tracker=b)
    assert got.to_csv(index=False).encode() == expected
