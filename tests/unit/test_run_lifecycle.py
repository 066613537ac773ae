"""RunLifecycle opens, ends and re-opens runs from the parts it is handed: no Tracker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consist.domain import MountTable, RunRecord, RunStatus, Signature
from consist.domain.errors import DuplicateRun, InvalidInput
from consist.domain.labels import RunLabels
from consist.domain.redaction import Redactor
from consist.memory import InMemoryCatalog
from consist.services.identity.hashing import FileHasher, HashMemo
from consist.services.runs import context
from consist.services.runs.active_run import ActiveRun
from consist.services.runs.artifacts import ArtifactLogging
from consist.services.runs.events import EventHooks
from consist.services.runs.lifecycle import RunLifecycle
from consist.services.runs.queries import RunQueries
from consist.services.runs.remote_objects import RemoteObjects
from consist.services.store.catalog_reader import LayeredCatalog
from consist.services.store.snapshots import SnapshotStore

SIGNATURE = Signature("code", "config", "inputs")


class NoRows:
    def ingestion_of(self, artifact):
        return None

    def read_ingested(self, artifact, as_="pandas"):
        raise AssertionError("nothing was ingested")


class Parts:
    """Fakes for the other rooms: what was persisted, archived and remembered is kept."""

    def __init__(self, tmp_path: Path, sidecars: bool = False) -> None:
        root = tmp_path / "runs"
        self.snapshots = SnapshotStore(root)
        self.mounts = MountTable.of({"runs": root})
        reader = LayeredCatalog(InMemoryCatalog(), recent=InMemoryCatalog())
        hasher = FileHasher(HashMemo(tmp_path / "memo.sqlite"))
        self.artifacts = ArtifactLogging(
            mounts=self.mounts,
            snapshots=self.snapshots,
            hasher=hasher,
            remote=RemoteObjects(None, tmp_path / "remote", "full"),
            reader=reader,
            find_artifacts=RunQueries(reader).find_artifacts,
        )
        self.persisted: list[RunRecord] = []
        self.archived: list[str] = []
        self.signatures: dict[str, str | None] = {}
        self.events = EventHooks()
        self.seen: list[tuple[str, str]] = []
        self.events.on_run_complete(lambda run, outputs: self.seen.append(("complete", run.id)))
        self.events.on_run_failed(lambda run, error: self.seen.append(("failed", run.id)))
        self.lifecycle = RunLifecycle(
            owner=self,
            snapshots=self.snapshots,
            mounts=self.mounts,
            redactor=Redactor.of(None),
            events=self.events,
            hasher=hasher,
            rows=NoRows(),
            persist=self.persist,
            run_exists=lambda run_id: any(r.run.id == run_id for r in self.persisted),
            read_record=lambda run_id: self.snapshots.read(run_id),
            sign=lambda active, fn: SIGNATURE,
            archive=lambda active: self.archived.append(active.id),
            remember_signature=self.signatures.__setitem__,
            resolve_path=self.artifacts.resolve_path,
            sidecars=sidecars,
        )

    def persist(self, active: ActiveRun) -> RunRecord:
        record = active.record()
        self.snapshots.write(record)
        self.persisted.append(record)
        return record


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    return Parts(tmp_path)


def test_an_opened_run_is_persisted_current_and_its_id_is_taken(parts):
    active = parts.lifecycle.open("r1", RunLabels.of("step", year=2030))
    try:
        assert context.current_run_or_none() is active
        assert parts.persisted[-1].run.status is RunStatus.RUNNING
        assert active.run.year == 2030 and "pid" in active.run.meta
        with pytest.raises(DuplicateRun):
            parts.lifecycle.open("r1", RunLabels.of("step"))
    finally:
        parts.lifecycle.end(active)


def test_a_completed_run_is_signed_archived_and_remembered(parts):
    active = parts.lifecycle.open("r1", RunLabels.of("step"))
    run = parts.lifecycle.end(active)
    assert run.status is RunStatus.COMPLETED and run.signature == SIGNATURE
    assert parts.archived == ["r1"]
    assert parts.signatures == {"r1": SIGNATURE.digest}
    assert parts.seen == [("complete", "r1")]
    assert context.current_run_or_none() is None
    assert parts.lifecycle.end(active) is run  # ending twice changes nothing


def test_a_failed_run_records_the_error_and_is_no_merkle_parent(parts):
    active = parts.lifecycle.open("r1", RunLabels.of("step"))
    run = parts.lifecycle.end(active, error=ValueError("bad zone"))
    assert (run.status, run.error_type, run.error_message) == (
        RunStatus.FAILED,
        "ValueError",
        "bad zone",
    )
    assert parts.archived == [] and parts.signatures == {"r1": None}
    assert parts.seen == [("failed", "r1")]


def test_a_readonly_run_writes_nothing(parts):
    active = parts.lifecycle.open("r1", RunLabels.of("step"), persist=False)
    parts.lifecycle.end(active)
    assert parts.persisted == [] and parts.archived == [] and parts.signatures == {}


def test_sidecars_are_written_beside_the_outputs_a_run_produced(tmp_path):
    parts = Parts(tmp_path, sidecars=True)
    active = parts.lifecycle.open("r1", RunLabels.of("step"))
    (active.workspace / "out.csv").write_text("a\n1\n")
    active.log_output(active.workspace / "out.csv")
    parts.lifecycle.end(active)
    sidecar = json.loads((active.workspace / "out.csv.provenance.json").read_text())
    assert sidecar["run_id"] == "r1" and sidecar["signature"] == SIGNATURE.digest


def test_a_reopened_run_keeps_its_links_and_loses_its_signature_until_it_ends(parts):
    active = parts.lifecycle.open("sc", RunLabels.of("scenario"))
    (active.workspace / "zones.csv").write_text("z\n1\n")
    active.log_output(active.workspace / "zones.csv")
    parts.lifecycle.end(active)
    again = parts.lifecycle.reopen("sc", changes={"tags": ("again",)})
    try:
        assert set(again.outputs) == {"zones"} and again.run.tags == ("again",)
        assert again.run.signature is None and parts.signatures["sc"] is None
        with pytest.raises(InvalidInput, match="still running"):
            parts.lifecycle.reopen("sc", changes={})
    finally:
        parts.lifecycle.end(again)
