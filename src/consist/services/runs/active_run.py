"""A run in progress: its workspace, the artifacts it has logged, and its record so far."""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from consist.domain import (
    Artifact,
    Direction,
    MountTable,
    Run,
    RunArtifactLink,
    RunRecord,
    canonical,
)
from consist.domain.checks import check_key
from consist.domain.redaction import Redactor
from consist.services.runs import owners

if TYPE_CHECKING:
    from consist.services.runs.artifacts import ArtifactLogging


class RunOwner(Protocol):
    """What a run needs of the tracker it belongs to: somewhere to log its artifacts."""

    @property
    def artifacts(self) -> ArtifactLogging: ...


class ActiveRun:
    """Handle yielded by ``tracker.start_run``; also what ``consist.current_run()`` returns.

    Attributes
    ----------
    run : Run
        The run's current state (a new frozen value after every change).
    workspace : Path
        The run's own directory (``workspace://`` in URIs).
    """

    def __init__(self, tracker: RunOwner, run: Run, workspace: Path, mounts: MountTable) -> None:
        self.tracker = tracker
        self.run = run
        self.workspace = workspace
        self.mounts = mounts
        self._artifacts: dict[str, Artifact] = {}
        self._links: dict[tuple[Direction, str], RunArtifactLink] = {}
        # key -> identity for inputs that count in the signature but are not linked
        # as artifacts (depends_on, hash_inputs).
        self.extra_identities: dict[str, str] = {}
        self.context_token: contextvars.Token[Any] | None = None
        # False for readonly cache misses: nothing about the run is written.
        self.persist = True
        self._config_hash: str | None = None
        # artifact id -> path of outputs logged before their file existed
        # (see consist.services.runs.deferred_outputs).
        self.deferred_outputs: dict[str, Path] = {}

    def redact(self, redactor: Redactor, config_hash: str | None = None) -> None:
        """Remember the hash of the config as given, then redact secrets in the run."""
        self._config_hash = config_hash or canonical.digest(dict(self.run.config))
        self.run = redactor.run(self.run)

    def config_hash(self) -> str:
        """Hash of the run's config as given, before its secrets were redacted."""
        return self._config_hash or canonical.digest(dict(self.run.config))

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def run_dir(self) -> Path:
        return self.workspace

    def link(self, artifact: Artifact, direction: Direction, key: str) -> None:
        """Add (or replace, for the same direction and key) a link to an artifact."""
        check_key(key)
        previous = self._links.get((direction, key))
        self._links[(direction, key)] = RunArtifactLink(self.run.id, artifact.id, direction, key)
        self._artifacts[artifact.id] = artifact
        owners.remember(self.tracker, (artifact,))
        if previous is not None and previous.artifact_id != artifact.id:
            still_linked = {link.artifact_id for link in self._links.values()}
            if previous.artifact_id not in still_linked:
                self._artifacts.pop(previous.artifact_id, None)

    def artifact(self, artifact_id: str) -> Artifact | None:
        return self._artifacts.get(artifact_id)

    def replace(self, artifact: Artifact) -> None:
        """Swap in a new version of an artifact this run links (same id)."""
        if artifact.id in self._artifacts:
            self._artifacts[artifact.id] = artifact

    def _by_direction(self, direction: Direction) -> dict[str, Artifact]:
        return {
            key: self._artifacts[link.artifact_id]
            for (d, key), link in self._links.items()
            if d == direction
        }

    @property
    def inputs(self) -> dict[str, Artifact]:
        return self._by_direction(Direction.INPUT)

    @property
    def outputs(self) -> dict[str, Artifact]:
        return self._by_direction(Direction.OUTPUT)

    def record(self) -> RunRecord:
        return RunRecord(self.run, tuple(self._artifacts.values()), tuple(self._links.values()))

    # Convenience: the same calls as the tracker's, bound to this run.
    def log_artifact(self, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self.tracker.artifacts.log_artifact(path, key=key, run=self, **options)

    def log_input(self, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self.log_artifact(path, key, direction="input", **options)

    def log_output(self, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self.log_artifact(path, key, direction="output", **options)

    def log_dataframe(self, df: Any, key: str, **options: Any) -> Artifact:
        return self.tracker.artifacts.log_dataframe(df, key=key, run=self, **options)

    def set_meta(self, **meta: Any) -> None:
        import attrs

        self.run = attrs.evolve(self.run, meta={**self.run.meta, **meta})

    def __repr__(self) -> str:
        return f"<ActiveRun {self.run.id!r} status={self.run.status}>"
