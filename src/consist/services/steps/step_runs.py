"""The engine's run store, built from the run lifecycle, the run store and the artifacts.

``StepRuns`` satisfies the ``RunStore`` Protocol of ``steps/collaborators.py``:
runs begin and end through the lifecycle, lookups go to the catalog reader and
the queries, files and URL artifacts to the artifact logging.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import attrs

from consist.domain import Artifact, MountTable, Run, Signature
from consist.services.runs import remote_artifacts
from consist.services.runs.active_run import ActiveRun
from consist.services.runs.artifacts import ArtifactLogging
from consist.services.runs.lifecycle import RunLifecycle
from consist.services.runs.queries import RunQueries
from consist.services.steps.collaborators import RunSpec
from consist.services.store.run_store import RunStore
from consist.services.store.snapshots import check_run_id


@attrs.frozen
class StepRuns:
    """Begins, ends and finds the runs of steps; logs their files."""

    lifecycle: RunLifecycle
    store: RunStore
    queries: RunQueries
    artifacts: ArtifactLogging
    check_open: Callable[[], None]

    @property
    def mounts(self) -> MountTable:
        return self.artifacts.mounts

    def begin(self, spec: RunSpec) -> ActiveRun:
        self.check_open()
        check_run_id(spec.run_id)
        # The engine checked an explicit id already; generated ids are unique.
        return self.lifecycle.open(
            spec.run_id,
            spec.labels,
            persist=spec.persist,
            check_unique=False,
            write_start=spec.write_start,
            enter_context=spec.enter_context,
        )

    def end(
        self,
        active: ActiveRun,
        *,
        error: BaseException | None = None,
        signature: Signature | None = None,
    ) -> Run:
        return self.lifecycle.end(active, error=error, signature=signature)

    def exists(self, run_id: str) -> bool:
        return self.store.run_exists(run_id)

    def find_by_signature(self, digest: str) -> Run | None:
        return self.store.reader.find_by_signature(digest)

    def outputs_of(self, run_id: str) -> Mapping[str, Artifact]:
        return self.queries.get_artifacts_for_run(run_id).outputs

    def workspace(self, run_id: str) -> Path:
        return self.store.snapshots.workspace(run_id)

    def completed_signatures(self, digests: Sequence[str]) -> set[str]:
        return self.queries.completed_signatures(digests)

    def one_sync(self) -> AbstractContextManager[None]:
        return self.store.one_sync()

    def log_artifact(
        self,
        path: str | os.PathLike[str] | Artifact,
        key: str | None = None,
        direction: str = "output",
        *,
        content_hash: str | None = None,
        run: ActiveRun | None = None,
    ) -> Artifact:
        return self.artifacts.log_artifact(path, key, direction, content_hash=content_hash, run=run)

    def artifact_path(self, artifact: Artifact) -> Path:
        return self.artifacts.artifact_path(artifact)

    def find_produced_artifact(self, content_hash: str, path: Path | str) -> Artifact | None:
        return self.artifacts.find_produced_artifact(content_hash, path)

    def remote_input(self, key: str, url: str) -> Artifact:
        return remote_artifacts.remote_input(self.artifacts, key, url)

    def upload_output(self, active: ActiveRun, key: str, staged: Path, url: str) -> Artifact:
        return remote_artifacts.upload_output(self.artifacts, active, key, staged, url)
