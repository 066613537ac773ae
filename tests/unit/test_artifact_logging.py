"""ArtifactLogging works from the collaborators it is handed: no Tracker is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from consist.domain import Artifact, MountTable, Run, RunStatus
from consist.domain.errors import MissingFile, MissingInputFile
from consist.memory import InMemoryCatalog
from consist.services.identity.hashing import FileHasher, HashMemo
from consist.services.runs.active_run import ActiveRun
from consist.services.runs.artifacts import ArtifactLogging
from consist.services.runs.queries import RunQueries
from consist.services.runs.remote_objects import RemoteObjects
from consist.services.store.catalog_reader import LayeredCatalog
from consist.services.store.snapshots import SnapshotStore


class Owner:
    """The one thing a run asks of its tracker: somewhere to log artifacts."""

    def __init__(self, artifacts: ArtifactLogging) -> None:
        self.artifacts = artifacts


class Parts:
    def __init__(self, tmp_path: Path, restore=None) -> None:
        self.root = tmp_path / "runs"
        self.inputs = tmp_path / "inputs"
        self.inputs.mkdir()
        self.mounts = MountTable.of({"runs": self.root, "inputs": self.inputs})
        self.snapshots = SnapshotStore(self.root)
        self.reader = LayeredCatalog(InMemoryCatalog(), recent=InMemoryCatalog())
        self.logging = ArtifactLogging(
            mounts=self.mounts,
            snapshots=self.snapshots,
            hasher=FileHasher(HashMemo(tmp_path / "memo.sqlite")),
            remote=RemoteObjects(None, tmp_path / "remote", "full"),
            reader=self.reader,
            find_artifacts=RunQueries(self.reader).find_artifacts,
            restore=restore,
        )
        self.owner = Owner(self.logging)

    def open(self, run_id: str) -> ActiveRun:
        workspace = self.snapshots.workspace(run_id)
        workspace.mkdir(parents=True)
        return ActiveRun(
            self.owner, Run(run_id, "step"), workspace, self.mounts.with_workspace(workspace)
        )

    def finish(self, active: ActiveRun) -> None:
        active.run = active.run.completed()
        self.reader.remember(active.record())


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    return Parts(tmp_path)


def test_an_output_is_recorded_with_a_portable_uri_and_its_hash(parts):
    active = parts.open("r1")
    (active.workspace / "zones.csv").write_text("id\n1\n")
    artifact = active.log_output(active.workspace / "zones.csv")
    assert artifact.uri == "workspace://zones.csv"
    assert artifact.key == "zones" and artifact.producer_run_id == "r1"
    assert artifact.content_hash and artifact.size == 5
    assert active.outputs == {"zones": artifact}


def test_an_input_with_bytes_a_run_produced_links_to_that_output(parts):
    """The next run's input is the producer's artifact (same id): the Merkle link."""
    first = parts.open("r1")
    (first.workspace / "skims.csv").write_text("a,b\n1,2\n")
    produced = first.log_output(first.workspace / "skims.csv")
    parts.finish(first)
    copy = parts.inputs / "skims_copy.csv"
    copy.write_text("a,b\n1,2\n")
    second = parts.open("r2")
    linked = second.log_input(copy, "skims")
    assert linked.id == produced.id and linked.producer_run_id == "r1"


def test_a_gone_input_known_to_the_catalog_is_linked_in_ghost_mode(parts):
    first = parts.open("r1")
    raw = parts.inputs / "land_use.csv"
    raw.write_text("zone\n1\n")
    known = first.log_input(raw)
    parts.finish(first)
    raw.unlink()
    assert parts.open("r2").log_input(raw).id == known.id
    with pytest.raises(MissingInputFile, match="no run recorded"):
        parts.open("r3").log_input(parts.inputs / "never.csv")


def test_a_missing_file_without_a_blob_store_names_its_producer(parts):
    active = parts.open("r1")
    (active.workspace / "out.csv").write_text("x\n")
    artifact = active.log_output(active.workspace / "out.csv")
    (active.workspace / "out.csv").unlink()
    with pytest.raises(MissingFile, match="written by run 'r1'"):
        parts.logging.artifact_path(artifact)


def test_a_missing_file_is_fetched_back_through_the_restore_it_was_given(tmp_path):
    """artifact_path asks the restore function (the blob store's) for a gone file."""
    asked: list[tuple[str, Path]] = []

    def restore(artifact: Artifact, target: Path) -> Path:
        asked.append((artifact.key, target))
        target.write_text("x\n")
        return target

    parts = Parts(tmp_path, restore)
    active = parts.open("r1")
    path = active.workspace / "out.csv"
    path.write_text("x\n")
    artifact = active.log_output(path)
    path.unlink()
    assert parts.logging.artifact_path(artifact) == path
    assert asked == [("out", path)] and path.read_text() == "x\n"


def test_log_dataframe_writes_parquet_in_the_run_workspace(parts):
    pd = pytest.importorskip("pandas")
    active = parts.open("r1")
    artifact = active.log_dataframe(pd.DataFrame({"a": [1, 2]}), "persons")
    assert artifact.driver == "parquet"
    assert (active.workspace / "persons.parquet").is_file()
    assert active.run.status is RunStatus.RUNNING
