"""JSON snapshots, the source of truth: ``<run_dir>/<run_id>/consist.json``.

Each write goes to a temporary file, is fsynced, then renamed over the old
snapshot, so a reader sees the old or the new version, never half of one.
Beside the runs, ``.consist/`` holds small bookkeeping: ``pending/`` marks runs
whose catalog write failed (the outbox ``db sync`` drains) and ``active/``
marks runs in progress with the process that owns them, so a run killed
mid-flight is found and marked failed by the next Tracker.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from consist.domain import Artifact, MountTable, RunRecord, RunStatus
from consist.domain.checks import check_run_id as check_run_id  # re-exported: run ids name folders
from consist.domain.errors import CatalogCorrupt, ConsistError
from consist.domain.mount import WORKSPACE
from consist.domain.redaction import Redactor
from consist.files import write_atomically

SNAPSHOT_NAME = "consist.json"
_REASONS = Redactor.of()
SNAPSHOT_FORMAT = 1
_WORKSPACE_URI = f"{WORKSPACE}://"


def snapshot_document(record: RunRecord) -> dict[str, Any]:
    """The JSON document of a run, portable: no machine's path for a ``workspace://`` URI
    (it resolves under any run_dir); the run's own folder is recorded once, in
    ``run.meta["_physical_run_dir"]``."""
    document = {"format": SNAPSHOT_FORMAT, **record.to_dict()}
    for artifact in document["artifacts"]:
        if artifact["uri"].startswith(_WORKSPACE_URI):
            artifact["abs_path"] = None
    return document


class SnapshotStore:
    """Reads and writes run snapshots and the bookkeeping markers under one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._meta = run_dir / ".consist"
        self._pending = self._meta / "pending"
        self._active = self._meta / "active"

    def workspace(self, run_id: str) -> Path:
        return self.run_dir / check_run_id(run_id)

    def path_of(self, run_id: str) -> Path:
        return self.workspace(run_id) / SNAPSHOT_NAME

    def exists(self, run_id: str) -> bool:
        return self.path_of(run_id).is_file()

    def write(self, record: RunRecord, durable: bool | None = None) -> Path:
        """Write the snapshot atomically; fsynced once the run has ended (unless
        ``durable=False``: a ``SyncBatch`` fsyncs it later).

        A running run's snapshot is rewritten at its end, so only that one
        needs to survive a power cut.
        """
        text = json.dumps(snapshot_document(record), indent=2, sort_keys=False, default=str)
        if durable is None:
            durable = record.run.status is not RunStatus.RUNNING
        return write_atomically(self.path_of(record.run.id), iter([text.encode()]), durable)

    def read(self, run_id: str) -> RunRecord:
        return self.read_path(self.path_of(run_id))

    def read_path(self, path: Path) -> RunRecord:
        try:
            document = json.loads(path.read_text())
            record = RunRecord.from_dict(document)
        except (ValueError, KeyError, TypeError) as exc:
            raise CatalogCorrupt(f"snapshot {path} cannot be read: {exc}") from exc
        return attrs.evolve(record, artifacts=[self._located(a) for a in record.artifacts])

    def _located(self, artifact: Artifact) -> Artifact:
        """The artifact with ``abs_path`` where its ``workspace://`` URI is on this machine."""
        producer = artifact.producer_run_id
        if artifact.abs_path is not None or producer is None:
            return artifact
        if not artifact.uri.startswith(_WORKSPACE_URI):
            return artifact
        try:
            path = MountTable().with_workspace(self.workspace(producer)).to_path(artifact.uri)
        except ConsistError:  # a malformed id or URI, or a symlink leading out
            return artifact
        return attrs.evolve(artifact, abs_path=str(path))

    def paths(self) -> Iterator[Path]:
        """Every snapshot file under the run directory, in name order."""
        if not self.run_dir.is_dir():
            return
        for entry in sorted(os.scandir(self.run_dir), key=lambda e: e.name):
            if entry.is_dir() and not entry.name.startswith("."):
                candidate = Path(entry.path) / SNAPSHOT_NAME
                if candidate.is_file():
                    yield candidate

    def remove(self, run_id: str) -> None:
        self.path_of(run_id).unlink(missing_ok=True)

    # -- the outbox: runs the catalog has not indexed yet --------------------------
    def mark_pending(self, run_id: str, reason: str = "") -> None:
        """Park ``run_id`` in the outbox; ``reason`` says why the catalog did not take it
        (credentials in URLs masked: a catalog's error may quote its connection URL)."""
        self._pending.mkdir(parents=True, exist_ok=True)
        reason = _REASONS.text(reason)
        (self._pending / run_id).write_text(reason, encoding="utf-8", errors="backslashreplace")

    def clear_pending(self, run_id: str) -> None:
        (self._pending / run_id).unlink(missing_ok=True)

    def pending(self) -> list[str]:
        if not self._pending.is_dir():
            return []
        return sorted(p.name for p in self._pending.iterdir())

    def pending_reasons(self) -> dict[str, str]:
        """``{run_id: reason}`` for every run in the outbox (an empty reason if none was kept)."""
        reasons = {}
        for run_id in self.pending():
            try:
                reasons[run_id] = (self._pending / run_id).read_text(errors="replace").strip()
            except OSError:
                reasons[run_id] = ""
        return reasons

    # -- runs in progress, for finding interrupted ones ------------------------------
    def mark_active(self, run_id: str) -> None:
        owner = {"pid": os.getpid(), "host": socket.gethostname()}
        marker = self._active / f"{run_id}.json"
        write_atomically(marker, iter([json.dumps(owner).encode()]), durable=False)

    def clear_active(self, run_id: str) -> None:
        (self._active / f"{run_id}.json").unlink(missing_ok=True)

    def active_runs(self) -> set[str]:
        """Runs marked in progress (by any process, alive or not)."""
        if not self._active.is_dir():
            return set()
        return {marker.stem for marker in self._active.glob("*.json")}

    def abandoned(self) -> list[str]:
        """Runs marked active whose owning process, on this host, no longer exists."""
        if not self._active.is_dir():
            return []
        host = socket.gethostname()
        gone = []
        for marker in sorted(self._active.glob("*.json")):
            try:
                owner: dict[str, Any] = json.loads(marker.read_text())
            except (OSError, ValueError):
                continue
            if owner.get("host") == host and not _process_alive(int(owner.get("pid", -1))):
                gone.append(marker.stem)
        return gone


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
