"""Logging artifacts: files, directories and DataFrames, and finding their files again.

The Tracker builds one ``ArtifactLogging`` and forwards ``log_artifact`` and the
rest to it.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.domain import Artifact, MountTable, canonical
from consist.domain.errors import ConsistError, InvalidInput, MissingFile
from consist.domain.remote import is_remote
from consist.services.data.table_files import (
    check_table_driver,
    table_path,
    write_table,
)
from consist.services.runs import context
from consist.services.runs.active_run import ActiveRun
from consist.services.runs.artifact_logging import direction_of, log_path
from consist.services.runs.remote_objects import RemoteObjects
from consist.services.store.catalog_reader import LayeredCatalog
from consist.services.store.restore_targets import check_restore_target
from consist.services.store.snapshots import SnapshotStore

if TYPE_CHECKING:
    from consist.services.identity.hashing import FileHasher

RAW_INPUT_MEMORY_SECONDS = 10.0


# Fetches an archived artifact back from the blob store to a path (None: not there).
Restore = Callable[[Artifact, Path], Path | None]
FindArtifacts = Callable[..., list[Artifact]]


class ArtifactLogging:
    """Logs paths and tables as a run's artifacts, and finds their files again.

    Parameters
    ----------
    mounts
        The tracker's mount table (``runs://`` and the user's mounts).
    snapshots
        Where each run's workspace is.
    hasher, remote
        Content identity of local files and of objects at URLs.
    reader
        The layered catalog view, to find the run that produced given bytes.
    find_artifacts
        Catalog-wide artifact search (by ``key``, ``uri``, ``content_hash``).
    restore
        Fetches an archived artifact back from the blob store; None without one.
    """

    def __init__(
        self,
        *,
        mounts: MountTable,
        snapshots: SnapshotStore,
        hasher: FileHasher,
        remote: RemoteObjects,
        reader: LayeredCatalog,
        find_artifacts: FindArtifacts,
        restore: Restore | None = None,
    ) -> None:
        self.mounts = mounts
        self.snapshots = snapshots
        self.hasher = hasher
        self.remote = remote
        self._reader = reader
        self._find_artifacts = find_artifacts
        self._restore = restore
        self._raw_hashes: dict[str, float] = {}

    def find_artifacts(
        self, *, key: str | None = None, uri: str | None = None, content_hash: str | None = None
    ) -> list[Artifact]:
        return self._find_artifacts(key=key, uri=uri, content_hash=content_hash)

    def log_artifact(
        self,
        /,
        path: str | os.PathLike[str] | Artifact,
        key: str | None = None,
        direction: str = "output",
        *,
        driver: str | None = None,
        meta: Mapping[str, Any] | None = None,
        content_hash: str | None = None,
        force_hash_override: bool = False,
        validate_content_hash: bool = False,
        profile_file_schema: bool = False,
        file_schema_sample_rows: int | None = None,
        facet: Mapping[str, Any] | None = None,
        run: ActiveRun | None = None,
        **meta_kwargs: Any,
    ) -> Artifact:
        """Log a file or directory as an input or output of the active run.

        Returns the Artifact: portable URI, content hash, size, driver. An input
        that an earlier run produced links to that run's artifact (same id).

        Raises
        ------
        MissingInputFile, MissingOutputFile
            If nothing exists at ``path``.
        HashConflict
            If ``content_hash`` contradicts what is known about the file.
        """
        active = run or context.current_run("log_artifact")
        merged_meta = {**(meta or {}), **meta_kwargs}
        return log_path(
            self,
            active,
            path,
            key=key,
            direction=direction_of(direction),
            driver=driver,
            meta=canonical.normalize(merged_meta, "meta"),  # type: ignore[arg-type]
            content_hash=content_hash,
            force_hash_override=force_hash_override,
            validate_content_hash=validate_content_hash,
            profile_file_schema=profile_file_schema,
            file_schema_sample_rows=file_schema_sample_rows,
            facet=facet,
        )

    def log_input(self, /, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self.log_artifact(path, key, "input", **options)

    def log_output(self, /, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self.log_artifact(path, key, "output", **options)

    def log_artifacts(
        self,
        /,
        paths: Mapping[str, str | os.PathLike[str] | Artifact],
        *,
        direction: str = "output",
        metadata_by_key: Mapping[str, Mapping[str, Any]] | None = None,
        run: ActiveRun | None = None,
        **common_meta: Any,
    ) -> dict[str, Artifact]:
        """Log several paths at once: ``{key: path}``; common metadata plus per-key extras."""
        unknown = set(metadata_by_key or {}) - set(paths)
        if unknown:
            raise InvalidInput(f"metadata_by_key names keys not being logged: {sorted(unknown)}")
        return {
            key: self.log_artifact(
                path,
                key,
                direction,
                run=run,
                meta={**common_meta, **(metadata_by_key or {}).get(key, {})},
            )
            for key, path in paths.items()
        }

    def log_dataframe(
        self,
        /,
        df: Any,
        key: str,
        *,
        schema: type | None = None,
        direction: str = "output",
        driver: str = "parquet",
        path: str | os.PathLike[str] | None = None,
        run: ActiveRun | None = None,
        **options: Any,
    ) -> Artifact:
        """Write a pandas, polars or Arrow table in the run directory and log it.

        ``driver`` is ``"parquet"`` (default) or ``"csv"``; ``path`` writes it
        elsewhere (a relative path is taken from the working directory).

        With ``schema`` (a pydantic or SQLModel class) the table's columns are
        checked against it first: a column it does not declare, a required one
        missing, or values of another type raise ``SchemaColumnError`` and
        nothing is written.
        """
        active = run or context.current_run("log_dataframe")
        check_table_driver(driver)
        if schema is not None:
            from consist.services.data.ingestion import to_arrow
            from consist.services.data.validation import check_columns

            check_columns(to_arrow(df), schema)
        target = table_path(active.workspace, safe_file_stem(key), driver, path)
        write_table(df, target, driver)
        meta = dict(options.pop("meta", None) or {})
        if schema is not None:
            meta["schema"] = schema.__name__
        return self.log_artifact(
            target, key, direction, run=active, meta=meta, driver=driver, **options
        )

    def find_produced_artifact(self, content_hash: str, path: Path | str) -> Artifact | None:
        """The artifact a run produced with these bytes, preferring one at this very path
        (or URL, for an object in a store).

        "No run produced these bytes" is remembered for a few seconds: raw inputs
        are checked on every run, and at worst a Merkle link made meanwhile by
        another process is missed (a cache miss, never a wrong hit).
        """
        now = time.monotonic()
        if self._raw_hashes.get(content_hash, 0.0) > now:
            return None
        candidates = self._reader.find_produced(content_hash)
        if not candidates:
            self._raw_hashes[content_hash] = now + RAW_INPUT_MEMORY_SECONDS
            return None
        for artifact in candidates:
            if isinstance(path, str):
                if artifact.uri == path:
                    return artifact
                continue
            with contextlib.suppress(ConsistError):
                if self.resolve_path(artifact) == path:
                    return artifact
        return candidates[0]

    def resolve_path(self, artifact: Artifact) -> Path:
        """Where an artifact's file should be on this machine (it may be missing)."""
        uri = artifact.uri
        if uri.startswith("workspace://") and artifact.producer_run_id is not None:
            table = self.mounts.with_workspace(self.snapshots.workspace(artifact.producer_run_id))
            return table.to_path(uri)
        if self.mounts.is_local(uri):
            return self.mounts.to_path(uri)
        if artifact.abs_path:
            return Path(artifact.abs_path)
        raise InvalidInput(f"artifact {artifact.key!r} has URI {uri!r}, not resolvable here")

    def restore_from_blobs(self, artifact: Artifact, destination: Path) -> Path | None:
        """Fetch an archived artifact's bytes to ``destination``; None without a blob store."""
        return self._restore(artifact, destination) if self._restore is not None else None

    def artifact_path(self, artifact: Artifact) -> Path:
        """Path of an artifact's file, which must exist.

        An artifact at a URL (``s3://...``) answers a local copy of the object,
        fetched once per version (see ``consist.services.remote_objects``).

        Raises
        ------
        MissingFile
            Naming the artifact and how to get it back.
        IntegrityError
            A URL artifact's object changed since the run recorded it.
        """
        if is_remote(artifact.uri, self.mounts):
            return self.remote.local_copy(artifact.uri, artifact.content_hash)
        path = self.resolve_path(artifact)
        if path.exists():
            return path
        if artifact.abs_path and Path(artifact.abs_path).exists():
            return Path(artifact.abs_path)
        restored = None
        if self._restore is not None:  # archived: fetch it back, only to a place of ours
            run_dir = self.snapshots.run_dir
            target = check_restore_target(artifact, path, run_dir=run_dir, mounts=self.mounts)
            restored = self._restore(artifact, target)
        if restored is not None:
            return restored
        raise MissingFile(missing_artifact_message(artifact, path))


_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_stem(key: str) -> str:
    """A file name for an artifact key; awkward keys get a short hash to stay unique."""
    stem = _UNSAFE_FILE_CHARS.sub("_", key).strip("._") or "artifact"
    if stem != key or len(stem) > 80:
        stem = f"{stem[:80]}-{canonical.digest(key)[:8]}"
    return stem


def write_parquet(df: Any, path: Path) -> None:
    """Write a pandas, polars or pyarrow table to Parquet (index and library kept)."""
    from consist.services.data.frames import write_parquet as write

    write(df, path)


def missing_artifact_message(artifact: Artifact, path: Path) -> str:
    producer = artifact.producer_run_id
    remedies = [
        "re-run the producing step with validate_cached_outputs='strict' to regenerate it",
        "use consist.load_df(artifact, db_fallback='always') if it was ingested",
    ]
    if producer:
        remedies.insert(0, f"it was written by run {producer!r}")
    return (
        f"the file of artifact {artifact.key!r} ({artifact.uri}) is gone from {path}; "
        + "; ".join(remedies)
    )
