"""In-memory adapters for every port that needs no third-party engine.

``InMemoryCatalog`` (``memory://``), ``InMemoryBlobStore`` and
``InProcessExecutor`` are real implementations that keep their state in
Python objects: fast, thread-safe, and gone when the process ends. Tests use
them, and so can users who want provenance without any file on disk.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from consist.domain import Artifact, Run, RunArtifactLink, RunQuery, RunRecord, RunStatus
from consist.domain.digests import check_digest
from consist.domain.errors import (
    ArtifactNotFound,
    BlobNotFound,
    IntegrityError,
    MissingFile,
    RunNotFound,
)
from consist.domain.run import newest_first
from consist.files import write_atomically
from consist.ports.execute import CallTask, TaskOutcome

_CHUNK = 1 << 20


class InMemoryCatalog:
    """Catalog held in dictionaries; every query follows ``RunQuery.matches``."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.RLock()
        self._runs: dict[str, Run] = {}
        self._artifacts: dict[str, Artifact] = {}
        self._links_by_run: dict[str, tuple[RunArtifactLink, ...]] = {}
        # Completed runs by signature digest: a sweep's cache checks stay O(1) per item.
        self._completed_by_signature: dict[str, set[str]] = {}
        self._writes = 0

    @property
    def ephemeral(self) -> bool:
        """Always: the catalog is gone with the process (``SupportsEphemeral``)."""
        return True

    def record(self, record: RunRecord) -> None:
        with self._lock:
            earlier = self._runs.get(record.run.id)
            if earlier is not None and earlier.signature_digest is not None:
                self._completed_by_signature.get(earlier.signature_digest, set()).discard(
                    earlier.id
                )
            run = record.run
            if run.status is RunStatus.COMPLETED and run.signature_digest is not None:
                self._completed_by_signature.setdefault(run.signature_digest, set()).add(run.id)
            self._runs[record.run.id] = record.run
            for artifact in record.artifacts:
                self._artifacts[artifact.id] = artifact
            self._links_by_run[record.run.id] = tuple(record.links)
            self._writes += 1

    def change_token(self) -> int:
        """Counts writes: nothing outside this process can change the catalog."""
        return self._writes

    def get_record(self, run_id: str) -> RunRecord:
        with self._lock:
            run = self.get_run(run_id)
            links = self._links_by_run.get(run_id, ())
            artifacts = {link.artifact_id: self._artifacts[link.artifact_id] for link in links}
            return RunRecord(run, tuple(artifacts.values()), links)

    def has_run(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._runs

    def get_run(self, run_id: str) -> Run:
        with self._lock:
            try:
                return self._runs[run_id]
            except KeyError:
                raise RunNotFound(run_id) from None

    def find_runs(self, query: RunQuery) -> list[Run]:
        with self._lock:
            found = newest_first([r for r in self._runs.values() if query.matches(r)])
        return found[: query.limit] if query.limit is not None else found

    def completed_signatures(self, signatures: Collection[str]) -> set[str]:
        with self._lock:
            return {s for s in signatures if self._completed_by_signature.get(s)}

    def find_by_signature(self, signature: str) -> Run | None:
        with self._lock:
            ids = self._completed_by_signature.get(signature, ())
            found = newest_first([self._runs[run_id] for run_id in ids])
        return found[0] if found else None

    def get_artifact(self, artifact_id: str) -> Artifact:
        with self._lock:
            try:
                return self._artifacts[artifact_id]
            except KeyError:
                raise ArtifactNotFound(artifact_id) from None

    def find_artifacts(
        self,
        *,
        uri: str | None = None,
        content_hash: str | None = None,
        key: str | None = None,
    ) -> list[Artifact]:
        wanted = {"uri": uri, "content_hash": content_hash, "key": key}
        with self._lock:
            found = [
                a
                for a in self._artifacts.values()
                if all(v is None or getattr(a, f) == v for f, v in wanted.items())
            ]
        return sorted(found, key=lambda a: (a.created_at, a.id), reverse=True)

    def links_of_artifact(self, artifact_id: str) -> list[RunArtifactLink]:
        with self._lock:
            return [
                link
                for links in self._links_by_run.values()
                for link in links
                if link.artifact_id == artifact_id
            ]

    def run_ids(self) -> set[str]:
        with self._lock:
            return set(self._runs)

    def close(self) -> None:
        pass


class InMemoryBlobStore:
    """Blobs in a dict; digests verified on every read, like any other store.

    Also keeps named objects (``SupportsNamedObjects``) in a second dict.
    """

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._blobs: dict[str, bytes] = {}
        self._named: dict[str, bytes] = {}
        self._versions: dict[str, int] = {}  # name -> the write that last replaced it
        self._writes = 0

    def put(self, path: Path) -> str:
        path = Path(path)
        if not path.is_file():
            raise MissingFile(f"cannot store {path}: no such file")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._blobs.setdefault(digest, data)
        return digest

    def _verified(self, digest: str) -> bytes:
        check_digest(digest)
        with self._lock:
            data = self._blobs.get(digest)
        if data is None:
            raise BlobNotFound(digest, "the in-memory blob store")
        if hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(f"blob {digest} is corrupted in the in-memory blob store")
        return data

    def get(self, digest: str, destination: Path) -> Path:
        data = self._verified(digest)
        return write_atomically(Path(destination), iter([data]))

    def open(self, digest: str) -> BinaryIO:
        return io.BytesIO(self._verified(digest))

    def exists(self, digest: str) -> bool:
        with self._lock:
            return check_digest(digest) in self._blobs

    def delete(self, digest: str) -> None:
        with self._lock:
            self._blobs.pop(check_digest(digest), None)

    def digests(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._blobs))

    def corrupt_for_testing(self, digest: str, data: bytes) -> None:
        """Replace a blob's bytes without updating its digest (integrity tests)."""
        with self._lock:
            self._blobs[digest] = data

    def write_named(self, name: str, data: bytes) -> None:
        """Keep ``data`` under ``name``, replacing what was there. Raises ``InvalidURI``."""
        name = self._checked_name(name)
        with self._lock:
            self._named[name] = bytes(data)
            self._writes += 1
            self._versions[name] = self._writes

    def read_named(self, name: str) -> bytes:
        """Raises ``NotFound`` for an unknown name, ``InvalidURI`` for a bad one."""
        from consist.domain.errors import NotFound

        name = self._checked_name(name)
        with self._lock:
            data = self._named.get(name)
        if data is None:
            raise NotFound(f"no object named {name!r} in the in-memory blob store")
        return data

    def list_named(self, prefix: str = "") -> Iterator[str]:
        """Names starting with ``prefix`` (a plain string prefix), sorted."""
        if prefix:
            self._checked_name(prefix, prefix=True)
        with self._lock:
            return iter(sorted(n for n in self._named if n.startswith(prefix)))

    def named_versions(self, prefix: str = "") -> dict[str, str | None]:
        """Names starting with ``prefix``, each with the number of the write that stored it."""
        if prefix:
            self._checked_name(prefix, prefix=True)
        with self._lock:
            return {n: str(self._versions[n]) for n in sorted(self._named) if n.startswith(prefix)}

    @staticmethod
    def _checked_name(name: str, *, prefix: bool = False) -> str:
        """A relative POSIX path that stays inside the store, else ``InvalidURI``."""
        from consist.domain.errors import InvalidURI

        if not isinstance(name, str) or not name:
            raise InvalidURI(f"{name!r} is not a relative POSIX path such as 'snapshots/run.json'")
        if (
            name.startswith("/")
            or "\\" in name
            or "\x00" in name
            or "://" in name
            or re.match(r"^[A-Za-z]:", name)
        ):
            raise InvalidURI(f"{name!r} is not a relative POSIX path such as 'snapshots/run.json'")
        parts = name.split("/")
        if prefix and parts[-1] == "":
            parts = parts[:-1]
        if any(part in ("", ".", "..") for part in parts):
            raise InvalidURI(f"{name!r} must not contain empty, '.' or '..' segments")
        return name


class InProcessExecutor:
    """Calls the task's callable in this process; its exceptions propagate unchanged."""

    def __init__(self, url: str = "inprocess://") -> None:
        self.url = url

    def identity(self, task: CallTask) -> Mapping[str, Any]:
        return {}

    def execute(self, task: CallTask) -> TaskOutcome:
        return TaskOutcome(value=task.fn(**dict(task.kwargs)))
