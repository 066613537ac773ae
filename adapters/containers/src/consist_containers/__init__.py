"""Container executors for Consist: Docker (docker SDK) and Apptainer (its CLI)."""

from __future__ import annotations

from ._apptainer import ApptainerCall, ApptainerExecutor, apptainer_command
from ._common import SECRET_MARKER, env_digest
from ._docker import DockerExecutor

__all__ = [
    "SECRET_MARKER",
    "ApptainerCall",
    "ApptainerExecutor",
    "DockerExecutor",
    "apptainer_command",
    "env_digest",
]
