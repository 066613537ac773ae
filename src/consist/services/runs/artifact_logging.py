"""Turning a path (or a DataFrame) into a logged Artifact of the active run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.domain import Artifact, Direction, canonical, new_id
from consist.domain.checks import MAX_KEY_CHARS, check_facet_keys, check_key
from consist.domain.errors import (
    HashConflict,
    InvalidInput,
    MissingInputFile,
    MissingOutputFile,
)
from consist.domain.mount import URI_PATTERN
from consist.domain.remote import is_remote
from consist.services.data.drivers import infer_driver
from consist.services.data.table_files import profile_schema
from consist.services.runs.remote_artifacts import log_remote

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.runs.artifact_index import ArtifactIndex


def direction_of(value: str | Direction) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise InvalidInput(f"direction must be 'input' or 'output', not {value!r}") from None


def log_path(
    index: ArtifactIndex,
    active: ActiveRun,
    path: str | os.PathLike[str] | Artifact,
    *,
    key: str | None,
    direction: Direction,
    driver: str | None = None,
    meta: Mapping[str, Any] | None = None,
    content_hash: str | None = None,
    force_hash_override: bool = False,
    validate_content_hash: bool = False,
    profile_file_schema: bool = False,
    file_schema_sample_rows: int | None = None,
    facet: Mapping[str, Any] | None = None,
) -> Artifact:
    """Log ``path`` as an input or output of ``active`` and return its Artifact."""
    if isinstance(path, Artifact):
        return _log_existing(
            index,
            active,
            path,
            key,
            direction,
            content_hash,
            force_hash_override,
            validate_content_hash,
        )
    if key is not None:
        check_key(key)
    if facet is not None:  # checked now: the catalog would refuse it only after the run
        check_facet_keys(canonical.normalize(facet, "artifact facet"), "artifact facet")
    if is_remote(path, active.mounts):
        if profile_file_schema:
            raise InvalidInput(f"profile_file_schema reads local files only, not {path}")
        return log_remote(
            index,
            active,
            str(path),
            key=key,
            direction=direction,
            driver=driver,
            meta=meta,
            content_hash=content_hash,
            validate_content_hash=validate_content_hash,
            facet=facet,
        )
    target = _local_path(active, path)
    key = key or _default_key(target)
    if not _exists(target):
        if direction is Direction.INPUT:
            return _log_known_input(index, active, target, key)
        if profile_file_schema:
            raise MissingOutputFile(f"cannot profile output {key!r}: {target} does not exist")
        return _log_deferred_output(active, target, key, driver, meta, content_hash, facet)
    digest = _content_identity(
        index, target, content_hash, force_hash_override, validate_content_hash
    )
    uri = active.mounts.to_uri(target)
    if direction is Direction.INPUT:
        produced = index.find_produced_artifact(digest, target)
        if produced is not None:
            active.link(produced, direction, key)
            return produced
    artifact_meta = dict(meta or {})
    driver = driver or infer_driver(target)
    if profile_file_schema:
        artifact_meta["file_schema"] = profile_schema(target, driver, file_schema_sample_rows)
    artifact = Artifact(
        id=new_id(),
        key=key,
        uri=uri,
        driver=driver,
        content_hash=digest,
        size=size_of(target),
        producer_run_id=active.id if direction is Direction.OUTPUT else None,
        meta=artifact_meta,
        facet=dict(facet) if facet is not None else None,
        abs_path=str(target),
    )
    active.link(artifact, direction, key)
    return artifact


def _log_known_input(index: ArtifactIndex, active: ActiveRun, target: Path, key: str) -> Artifact:
    """Ghost Mode: an input whose file is gone but whose URI the catalog knows, with a hash.

    The known artifact is linked (an output of an earlier run when there is one), so
    lineage, the Merkle signature and ``load_df(..., db_fallback="always")`` still work.
    """
    uri = active.mounts.to_uri(target)
    known = [a for a in index.find_artifacts(uri=uri) if a.content_hash]
    if not known:
        raise MissingInputFile(
            f"cannot log input {key!r}: {target} does not exist and no run recorded {uri}"
        )
    artifact = next((a for a in known if a.producer_run_id is not None), known[0])
    active.link(artifact, Direction.INPUT, key)
    return artifact


def _log_deferred_output(
    active: ActiveRun,
    target: Path,
    key: str,
    driver: str | None,
    meta: Mapping[str, Any] | None,
    content_hash: str | None,
    facet: Mapping[str, Any] | None,
) -> Artifact:
    """An output whose file does not exist yet: hashed when the run ends, from the file
    or from its ingested rows (``consist.services.runs.deferred_outputs``)."""
    artifact = Artifact(
        id=new_id(),
        key=key,
        uri=active.mounts.to_uri(target),
        driver=driver or infer_driver(target),
        content_hash=content_hash,
        producer_run_id=active.id,
        meta=dict(meta or {}),
        facet=dict(facet) if facet is not None else None,
        abs_path=str(target),
    )
    active.link(artifact, Direction.OUTPUT, key)
    if content_hash is None:
        active.deferred_outputs[artifact.id] = target
    return artifact


def _log_existing(
    index: ArtifactIndex,
    active: ActiveRun,
    artifact: Artifact,
    key: str | None,
    direction: Direction,
    content_hash: str | None,
    force: bool,
    validate: bool,
) -> Artifact:
    """Link an artifact that already exists (an upstream output, say): same id, same lineage."""
    if content_hash is not None and artifact.content_hash not in (None, content_hash) and not force:
        raise HashConflict(
            f"artifact {artifact.key!r} is recorded with hash {artifact.content_hash}, not "
            f"{content_hash}; pass force_hash_override=True if the recorded one is wrong"
        )
    if validate:
        path = index.resolve_path(artifact)
        actual = index.hasher.identity(path)
        if actual != artifact.content_hash:
            raise HashConflict(
                f"{path} no longer matches artifact {artifact.key!r}: recorded "
                f"{artifact.content_hash}, on disk {actual}"
            )
    active.link(artifact, direction, key or artifact.key)
    return artifact


def _content_identity(
    index: ArtifactIndex, target: Path, given: str | None, force: bool, validate: bool
) -> str:
    if given is None:
        return index.hasher.identity(target)
    if validate:
        actual = index.hasher.identity(target)
        if actual != given:
            raise HashConflict(
                f"content_hash {given} does not match {target} (hashes to {actual}); "
                "fix the hash or drop validate_content_hash"
            )
        return given
    if not force:
        known = index.hasher.known_identity(target)
        if known is not None and known != given:
            raise HashConflict(
                f"{target} is already known with hash {known}, not {given}; "
                "pass force_hash_override=True to record the given hash anyway"
            )
    return given


def _local_path(active: ActiveRun, path: str | os.PathLike[str] | bytes) -> Path:
    """An absolute path; a ``name://relative`` string resolves through the run's mounts.

    Raises ``InvalidURI`` for an unknown mount and ``PathEscapesMount`` for a URI that
    climbs out of its mount (``..``, encoded or not, or a symlink leading out).
    """
    if isinstance(path, str) and URI_PATTERN.match(path):
        return active.mounts.to_path(path)
    return _absolute(path)


def _absolute(path: str | os.PathLike[str] | bytes) -> Path:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    elif not isinstance(path, str | os.PathLike):
        raise InvalidInput(
            f"path must be a str, bytes or os.PathLike (or an Artifact), not {type(path).__name__}"
        )
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text or "\x00" in text:
        raise InvalidInput(f"path {text!r} is empty or holds a NUL character")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise InvalidInput(
            f"path {text!r} holds a lone surrogate no file name can hold; fix its encoding"
        ) from None
    return Path(os.path.abspath(text))


def _exists(path: Path) -> bool:
    """Whether something is at ``path``; a name the OS refuses (too long, say) is our error."""
    try:
        return path.exists()
    except OSError as exc:
        raise InvalidInput(f"cannot use path {str(path)!r:.200}: {exc.strerror}") from None


def _default_key(path: Path) -> str:
    """The file name without suffixes; bytes that are not UTF-8 shown as ``\\xe9``."""
    name = path.name
    for suffix in reversed(path.suffixes):
        name = name.removesuffix(suffix)
    name = name or path.name
    readable = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else "_" for c in readable)[:MAX_KEY_CHARS]


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
