"""Archive, restore, push and pull on their own collaborators: no Tracker is built.

Each service gets a run store over real snapshot files, the in-memory blob store
(a real adapter of the port) or a fake that is unreachable, and a path resolver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from consist.domain import Artifact, Direction, Run, RunArtifactLink, RunRecord, RunStatus
from consist.domain.digests import BLOB_DIGEST
from consist.domain.errors import BlobStoreError, InvalidInput
from consist.memory import InMemoryBlobStore, InMemoryCatalog
from consist.services.identity.hashing import sha256_file
from consist.services.sharing.archiving import ARCHIVE_PENDING, OutputArchiver
from consist.services.sharing.publish import PULLED_FROM, PULLED_VERSION, push
from consist.services.sharing.pull import pull
from consist.services.sharing.restore import archived_copies, restore
from consist.services.store.run_store import RunStore


class UnreachableBlobs(InMemoryBlobStore):
    """A blob store whose network is down until ``up`` is set."""

    up = False

    def put(self, path: Path) -> str:
        if not self.up:
            raise BlobStoreError("connection refused")
        return super().put(path)


class FakeActive:
    """What archiving reads and writes of a run that is ending."""

    def __init__(self, run: Run, outputs: dict[str, Artifact]) -> None:
        self.run = run
        self.outputs = dict(outputs)
        self.persist = True

    def link(self, artifact: Artifact, direction: Direction, key: str) -> None:
        assert direction is Direction.OUTPUT
        self.outputs[key] = artifact


def resolver(root: Path) -> Any:
    return lambda artifact: root / artifact.uri.removeprefix("workspace://")


def output(tmp_path: Path, run_id: str, key: str, text: str) -> Artifact:
    path = tmp_path / "files" / f"{key}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return Artifact(
        id=f"a-{run_id}-{key}",
        key=key,
        uri=f"workspace://{key}.csv",
        content_hash=sha256_file(path),
        producer_run_id=run_id,
    )


def completed(run_id: str, outputs: list[Artifact], **meta: Any) -> RunRecord:
    run = Run(run_id, "step", status=RunStatus.COMPLETED, meta=meta)
    links = [RunArtifactLink(run_id, a.id, Direction.OUTPUT, a.key) for a in outputs]
    return RunRecord(run, tuple(outputs), links)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = RunStore(tmp_path / "runs", InMemoryCatalog(), InMemoryCatalog())
    yield store
    store.close()


def test_a_completed_run_archives_its_own_outputs_and_records_their_digests(
    tmp_path: Path, store: RunStore
) -> None:
    blobs = InMemoryBlobStore()
    archiver = OutputArchiver(blobs, "outputs", store, resolver(tmp_path / "files"))
    trips = output(tmp_path, "r1", "trips", "a,b\n1,2\n")
    reused = attrs.evolve(output(tmp_path, "r0", "zones", "z\n"), producer_run_id="r0")
    active = FakeActive(Run("r1", "step"), {"trips": trips, "zones": reused})
    archiver.archive(active)  # type: ignore[arg-type]
    assert active.outputs["trips"].meta[BLOB_DIGEST] == trips.content_hash
    assert blobs.exists(trips.content_hash or "")
    assert BLOB_DIGEST not in active.outputs["zones"].meta  # a cache hit's: not ours
    restored = restore(blobs, active.outputs["trips"], tmp_path / "back.csv")
    assert restored is not None and restored.read_text() == "a,b\n1,2\n"
    assert restore(None, active.outputs["trips"], tmp_path / "none.csv") is None


def test_outputs_that_failed_to_archive_are_retried_later(tmp_path: Path, store: RunStore) -> None:
    blobs = UnreachableBlobs()
    archiver = OutputArchiver(blobs, "outputs", store, resolver(tmp_path / "files"))
    trips = output(tmp_path, "r1", "trips", "x\n")
    active = FakeActive(Run("r1", "step"), {"trips": trips})
    archiver.archive(active)  # type: ignore[arg-type]  # never raises
    assert active.run.meta[ARCHIVE_PENDING] == ["trips"]
    store.persist(completed("r1", [trips], **active.run.meta))
    assert archiver.archive_pending().pending == [("r1", "trips")]
    blobs.up = True
    report = archiver.archive_pending()
    assert report.archived == [("r1", "trips")] and report.pending == []
    saved = store.snapshots.read("r1")
    assert ARCHIVE_PENDING not in saved.run.meta
    assert saved.artifacts[0].meta[BLOB_DIGEST] == trips.content_hash
    with pytest.raises(InvalidInput, match="blob store"):
        OutputArchiver(None, "outputs", store, resolver(tmp_path)).archive_pending()


def test_push_then_pull_moves_a_run_to_another_store_once(tmp_path: Path, store: RunStore) -> None:
    blobs = InMemoryBlobStore("memory://shared")
    archiver = OutputArchiver(blobs, "outputs", store, resolver(tmp_path / "files"))
    store.persist(completed("r1", [output(tmp_path, "r1", "trips", "x\n")]))
    first = push(store, blobs, archiver)
    assert first.published == ["r1"]
    assert push(store, blobs, archiver).unchanged == ["r1"]
    elsewhere = RunStore(tmp_path / "other", InMemoryCatalog(), InMemoryCatalog())
    try:
        assert pull(elsewhere, blobs).imported == ["r1"]
        meta = elsewhere.snapshots.read("r1").run.meta
        assert meta[PULLED_FROM] == "memory://shared" and PULLED_VERSION in meta
        assert pull(elsewhere, blobs).unchanged == ["r1"]
        elsewhere.flush()
        assert elsewhere.reader.get_run("r1").id == "r1"
    finally:
        elsewhere.close()


def test_pull_leaves_a_local_run_of_the_same_id_alone(tmp_path: Path, store: RunStore) -> None:
    blobs = InMemoryBlobStore()
    archiver = OutputArchiver(blobs, "none", store, resolver(tmp_path))
    store.persist(completed("r1", [], model_note="published"))
    push(store, blobs, archiver)
    mine = RunStore(tmp_path / "mine", InMemoryCatalog(), InMemoryCatalog())
    try:
        mine.persist(completed("r1", [], model_note="local"))
        assert pull(mine, blobs).conflicts == ["r1"]
        assert mine.snapshots.read("r1").run.meta["model_note"] == "local"
    finally:
        mine.close()


def test_push_and_pull_need_a_store_of_named_objects(tmp_path: Path, store: RunStore) -> None:
    archiver = OutputArchiver(None, "outputs", store, resolver(tmp_path))
    with pytest.raises(InvalidInput, match="push needs a blob store"):
        push(store, None, archiver)
    with pytest.raises(InvalidInput, match="pull needs a blob store"):
        pull(store, None)


def test_only_unchanged_local_copies_of_stored_outputs_may_be_deleted(
    tmp_path: Path, store: RunStore
) -> None:
    blobs = InMemoryBlobStore()
    files = tmp_path / "files"
    archiver = OutputArchiver(blobs, "outputs", store, resolver(files))
    kept = output(tmp_path, "r1", "kept", "same\n")
    edited = output(tmp_path, "r1", "edited", "before\n")
    active = FakeActive(Run("r1", "step"), {"kept": kept, "edited": edited})
    archiver.archive(active)  # type: ignore[arg-type]
    (files / "edited.csv").write_text("after\n")
    copies = archived_copies(
        blobs,
        active.outputs.values(),
        resolve_path=resolver(files),
        content_hash=sha256_file,
        get_run=lambda run_id: Run(run_id, "step"),
    )
    assert [(c.key, c.path) for c in copies] == [("kept", files / "kept.csv")]
