"""Bringing recorded artifacts' bytes back onto this machine.

A cache hit is metadata only by default. Hydration copies bytes when asked:
from the artifact's own location, from another file with the same content
hash (another run's copy), or from the blob store when one is configured.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from consist.domain import Artifact, MountTable
from consist.domain.errors import ConsistError, InvalidInput, MissingFile
from consist.domain.remote import OBJECT_IDENTITY_PREFIX, ObjectStat, is_remote, object_name
from consist.services.store.restore_targets import check_restore_target

HYDRATION_MODES = (None, "outputs-requested", "outputs-all", "inputs-missing")


def check_hydration(mode: str | None) -> str | None:
    if mode not in HYDRATION_MODES:
        raise InvalidInput(f"cache_hydration must be one of {HYDRATION_MODES}, not {mode!r}")
    return mode


class ArtifactLocator(Protocol):
    """Where recorded artifacts' bytes may be found (the facade's artifact queries)."""

    def resolve_path(self, artifact: Artifact) -> Path: ...  # raises ConsistError

    def artifact_path(self, artifact: Artifact) -> Path: ...  # fetches a URL's object

    def find_artifacts(self, *, content_hash: str | None = None) -> list[Artifact]: ...

    def restore_from_blobs(self, artifact: Artifact, destination: Path) -> Path | None: ...


class ObjectStats(Protocol):
    """Metadata of objects at URLs (the tracker's remote objects)."""

    def stat(self, url: str) -> ObjectStat: ...  # raises MissingFile


def copy_path(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        if destination.exists():
            shutil.rmtree(destination)
        shutil.copytree(source, destination)
    else:
        shutil.copy2(source, destination)


class Hydrator:
    """Copies recorded artifacts' bytes where a step asks for them.

    A restore target a record names (rather than the caller) must lie under
    ``run_dir`` or a mount (``check_restore_target``).
    """

    def __init__(
        self, locator: ArtifactLocator, remote: ObjectStats, run_dir: Path, mounts: MountTable
    ) -> None:
        self.locator = locator
        self.remote = remote
        self.run_dir = run_dir
        self.mounts = mounts

    def existing_copy(self, artifact: Artifact) -> Path | None:
        """A file on this machine holding the artifact's bytes, if there is one (for an
        artifact at a URL: the local copy of its object, fetched if need be)."""
        locator = self.locator
        if is_remote(artifact.uri, self.mounts):
            return locator.artifact_path(artifact)
        candidates: list[Path] = []
        with contextlib.suppress(ConsistError):
            candidates.append(locator.resolve_path(artifact))
        if artifact.abs_path:
            candidates.append(Path(artifact.abs_path))
        if artifact.content_hash:
            for twin in locator.find_artifacts(content_hash=artifact.content_hash):
                with contextlib.suppress(ConsistError):
                    candidates.append(locator.resolve_path(twin))
                if twin.abs_path:
                    candidates.append(Path(twin.abs_path))
        for path in candidates:
            if path.exists():
                return path
        return None

    def restore(self, artifact: Artifact, destination: Path) -> Path:
        """Put the artifact's bytes at ``destination`` from any copy or the blob store.

        Raises
        ------
        MissingFile
            If no copy exists anywhere reachable.
        """
        source = self.existing_copy(artifact)
        if source is not None:
            if source.resolve() != destination.resolve():
                copy_path(source, destination)
            return destination
        restored = self.locator.restore_from_blobs(artifact, destination)
        if restored is not None:
            return restored
        raise MissingFile(
            f"no copy of artifact {artifact.key!r} ({artifact.uri}) exists on this machine "
            "and no blob store holds it; re-run its producing step"
            + (f" ({artifact.producer_run_id!r})" if artifact.producer_run_id else "")
        )

    def missing_outputs(self, outputs: Mapping[str, Artifact]) -> list[str]:
        """Keys of outputs whose file is not where the catalog says it is."""
        missing = []
        for key, artifact in outputs.items():
            if is_remote(artifact.uri, self.mounts):
                if not self._object_unchanged(artifact):
                    missing.append(key)
                continue
            try:
                path = self.locator.resolve_path(artifact)
            except ConsistError:
                missing.append(key)
                continue
            if not path.exists():
                missing.append(key)
        return missing

    def _object_unchanged(self, artifact: Artifact) -> bool:
        """The object is still at its URL and, when its identity came from the store's
        version, still that version (a SHA-256 identity is not re-checked: that would
        download it)."""
        try:
            stat = self.remote.stat(artifact.uri)
        except MissingFile:
            return False
        recorded = artifact.content_hash or ""
        return not recorded.startswith(OBJECT_IDENTITY_PREFIX) or stat.identity == recorded

    def unrestorable_outputs(
        self, outputs: Mapping[str, Artifact], requested: Mapping[str, str | os.PathLike[str]]
    ) -> list[str]:
        """Restore missing outputs (at ``requested`` paths, else where recorded);
        returns the keys that could not be restored."""
        missing = self.missing_outputs(outputs)
        for key in list(missing):
            try:
                if key in requested:  # the caller's own path for it: theirs to choose
                    target = Path(os.fspath(requested[key]))
                else:  # the place a record names: only under the run dir or a mount
                    target = self._recorded_target(outputs[key])
                self.restore(outputs[key], target)
                missing.remove(key)
            except Exception:
                continue
        return missing

    def hydrate_outputs(
        self,
        mode: str | None,
        outputs: Mapping[str, Artifact],
        paths: Mapping[str, str | os.PathLike[str]] | None,
        directory: str | os.PathLike[str] | None,
    ) -> dict[str, Path]:
        """Copy cached outputs where the caller asked; returns key -> path written."""
        written: dict[str, Path] = {}
        if mode == "outputs-requested":
            if not paths:
                raise InvalidInput(
                    "cache_hydration='outputs-requested' needs hydration_paths={key: path}"
                )
            unknown = sorted(set(paths) - set(outputs))
            if unknown:
                raise InvalidInput(
                    f"hydration_paths names outputs the run does not have: {unknown}"
                )
            for key, dest in paths.items():
                written[key] = self.restore(outputs[key], Path(dest))
        elif mode == "outputs-all":
            if directory is None:
                raise InvalidInput("cache_hydration='outputs-all' needs hydration_dir=...")
            for key, artifact in outputs.items():
                name = (
                    object_name(artifact.uri)
                    if is_remote(artifact.uri, self.mounts)
                    else Path(self.locator.resolve_path(artifact)).name
                )
                if name in ("", ".", ".."):  # a record's name must not climb out of the folder
                    raise InvalidInput(f"output {key!r} ({artifact.uri}) has no usable file name")
                written[key] = self.restore(artifact, Path(directory) / name)
        return written

    def backfill_inputs(self, inputs: Mapping[str, Artifact]) -> dict[str, Path]:
        """Restore input files that are missing where their artifact says they live."""
        restored = {}
        for key, artifact in inputs.items():
            try:
                target = self.locator.resolve_path(artifact)
            except ConsistError:
                continue
            if not target.exists():
                restored[key] = self.restore(artifact, self._recorded_target(artifact, target))
        return restored

    def _recorded_target(self, artifact: Artifact, path: Path | None = None) -> Path:
        return check_restore_target(
            artifact,
            path if path is not None else self.locator.resolve_path(artifact),
            run_dir=self.run_dir,
            mounts=self.mounts,
        )
