"""URL artifacts of a run: inputs read in place, outputs written to an object store.

The artifact keeps its URL as its URI (``s3://bucket/zones.parquet``) and no
local path; its identity is the one ``RemoteObjects.identity`` gives (version
and size, or the SHA-256 with ``hashing_strategy="full"``). An output bound for
a URL is written by the step to a local staging file, then uploaded when the
step returns.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.domain import Artifact, Direction, new_id
from consist.domain.errors import HashConflict, MissingOutputFile
from consist.domain.remote import check_remote_url, object_name
from consist.services.data.drivers import infer_driver
from consist.services.runs.capture import stem

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.runs.artifact_index import ArtifactIndex

# Inside a run's workspace: where a step writes outputs that go to URLs.
STAGING_DIR = "remote-outputs"


def remote_input(index: ArtifactIndex, key: str, url: str) -> Artifact:
    """The artifact for an input at ``url``: an earlier run's output there (Merkle link),
    else a raw object identified from its metadata (``id`` empty until linked)."""
    stat, identity = index.remote.identity(check_remote_url(url))
    produced = index.find_produced_artifact(identity, url)
    if produced is not None:
        return produced
    return Artifact(
        id="",
        key=key,
        uri=url,
        driver=_driver_of(url),
        content_hash=identity,
        size=stat.size,
    )


def log_remote(
    index: ArtifactIndex,
    active: ActiveRun,
    url: str,
    *,
    key: str | None,
    direction: Direction,
    driver: str | None,
    meta: Mapping[str, Any] | None,
    content_hash: str | None,
    validate_content_hash: bool,
    facet: Mapping[str, Any] | None,
) -> Artifact:
    """``log_artifact("s3://...")``: an object that already exists at ``url``."""
    check_remote_url(url)
    key = key or stem(Path(object_name(url)))
    stat, identity = index.remote.identity(url)
    if content_hash is not None and content_hash != identity and validate_content_hash:
        raise HashConflict(
            f"content_hash {content_hash} does not match {url} (identifies as {identity})"
        )
    if direction is Direction.INPUT:
        produced = index.find_produced_artifact(identity, url)
        if produced is not None:
            active.link(produced, direction, key)
            return produced
    artifact = Artifact(
        id=new_id(),
        key=key,
        uri=url,
        driver=driver or _driver_of(url),
        content_hash=content_hash or identity,
        size=stat.size,
        producer_run_id=active.id if direction is Direction.OUTPUT else None,
        meta=dict(meta or {}),
        facet=dict(facet) if facet is not None else None,
    )
    active.link(artifact, direction, key)
    return artifact


def staging_path(active: ActiveRun, key: str, url: str) -> Path:
    """The local file a step writes for output ``key`` before it goes to ``url``."""
    from consist.services.runs.artifacts import safe_file_stem

    check_remote_url(url)
    return active.workspace / STAGING_DIR / safe_file_stem(key) / object_name(url)


def upload_output(
    index: ArtifactIndex, active: ActiveRun, key: str, staged: Path, url: str
) -> Artifact:
    """Upload what the step wrote at ``staged`` to ``url`` and log it as output ``key``."""
    if not staged.exists():
        raise MissingOutputFile(
            f"output {key!r} for {url} was not written: the step must write the file "
            f"{staged} (output_paths[{key!r}]), which Consist then uploads"
        )
    stat, identity = index.remote.upload(staged, url)
    artifact = Artifact(
        id=new_id(),
        key=key,
        uri=url,
        driver=infer_driver(staged),
        content_hash=identity,
        size=stat.size,
        producer_run_id=active.id,
    )
    active.link(artifact, Direction.OUTPUT, key)
    staging = active.workspace / STAGING_DIR
    if staged.is_relative_to(staging):  # the bytes now live at the URL and in the cache
        if staged.is_dir():
            shutil.rmtree(staged)
        else:
            staged.unlink()
        with contextlib.suppress(OSError):  # tidy the staging folders once empty
            for folder in (staged.parent, staging):
                folder.rmdir()
    return artifact


def _driver_of(url: str) -> str:
    return infer_driver(Path(object_name(url)))
