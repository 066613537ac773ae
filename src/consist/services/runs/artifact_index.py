"""What logging a path needs to know about artifacts already recorded: a small Protocol.

``ArtifactLogging`` provides it (and so does the Tracker, which forwards to it);
``log_path`` and the URL-artifact helpers take it instead of the whole Tracker.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from consist.domain import Artifact

if TYPE_CHECKING:
    from consist.services.identity.hashing import FileHasher
    from consist.services.runs.remote_objects import RemoteObjects


class ArtifactIndex(Protocol):
    """Hashing, recorded artifacts by URI or content, and where an artifact lives here."""

    @property
    def hasher(self) -> FileHasher: ...

    @property
    def remote(self) -> RemoteObjects: ...

    def find_artifacts(
        self, *, key: str | None = None, uri: str | None = None, content_hash: str | None = None
    ) -> list[Artifact]: ...

    def find_produced_artifact(self, content_hash: str, path: Path | str) -> Artifact | None: ...

    def resolve_path(self, artifact: Artifact) -> Path: ...
