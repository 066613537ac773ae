"""Where recorded bytes may be written back: under the run directory or a mount, nowhere else.

A record says where an artifact lives; a record may come from another machine
(``pull``). Before bytes are restored to the place a record names, that place,
with symlinks followed, must lie inside the run directory or a configured mount
(and not be a root itself). A place the user names (``hydration_paths``,
``restore_from_blobs(artifact, destination)``) is the user's choice and is not
checked here.
"""

from __future__ import annotations

import os
from pathlib import Path

from consist.domain import Artifact, MountTable
from consist.domain.errors import PathEscapesMount

__all__ = ["check_restore_target"]


def check_restore_target(
    artifact: Artifact, path: Path, *, run_dir: Path, mounts: MountTable
) -> Path:
    """``path`` when bytes of ``artifact`` may be restored there.

    Raises
    ------
    PathEscapesMount
        ``path`` (symlinks followed) is outside the run directory and every mount.
    """
    real = os.path.realpath(path)
    roots = {os.path.realpath(run_dir)} | {os.path.realpath(m.root) for m in mounts}
    if any(real != root and real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
        return path
    producer = f" of run {artifact.producer_run_id!r}" if artifact.producer_run_id else ""
    raise PathEscapesMount(
        f"artifact {artifact.key!r}{producer} ({artifact.uri}) would be restored to {path}"
        + (f" (really {real})" if real != os.path.abspath(path) else "")
        + ", outside the run directory and every mount; Consist writes recorded bytes "
        "only there. Add a mount for that folder, or fetch it yourself with "
        "tracker.restore_from_blobs(artifact, destination)"
    )
