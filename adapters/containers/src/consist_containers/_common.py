"""What the Docker and Apptainer executors share: the task's identity and a log sink."""

from __future__ import annotations

import collections
import posixpath
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from consist.domain import canonical
from consist.domain.errors import ExecutionError
from consist.ports.execute import ContainerTask

# Stands in for a secret value wherever the environment is hashed, so changing
# a token neither busts the cache nor leaves a guessable hash of the token.
SECRET_MARKER = "<secret>"

TAIL_LINES = 20


def env_digest(env: Mapping[str, str], secret_env: frozenset[str]) -> str:
    """SHA-256 of the canonical JSON of ``env`` with secret values masked.

    Raises
    ------
    ExecutionError
        ``secret_env`` names a key that ``env`` does not have (a typo would
        otherwise pass the real value through unmasked under another name).
    """
    missing = sorted(secret_env - set(env))
    if missing:
        raise ExecutionError(
            f"secret_env names {', '.join(missing)} but env has no such key; "
            "put the value in env and its name in secret_env"
        )
    masked = {key: SECRET_MARKER if key in secret_env else value for key, value in env.items()}
    return canonical.digest(masked)


def mount_points(volumes: Mapping[str, str]) -> list[str]:
    """The container-side mount points, normalised and sorted.

    Host paths are not part of a step's identity: the same step run from
    another checkout, or on another machine, is the same step.

    Raises
    ------
    ExecutionError
        A container path is relative, or two host paths land on one container path.
    """
    seen: dict[str, str] = {}
    for host, target in volumes.items():
        if not target.startswith("/"):
            raise ExecutionError(
                f"container mount point {target!r} (for host path {host!r}) must be absolute"
            )
        point = posixpath.normpath(target)
        if point in seen:
            raise ExecutionError(
                f"host paths {seen[point]!r} and {host!r} are both mounted at {point!r}; "
                "give each its own container path"
            )
        seen[point] = host
    return sorted(seen)


def host_sources(volumes: Mapping[str, str]) -> dict[str, str]:
    """Absolute host path -> container path, refusing host paths that do not exist.

    Engines would otherwise create a missing host directory (owned by root,
    for Docker), which hides a typo until the outputs are missing.
    """
    resolved: dict[str, str] = {}
    for host, target in volumes.items():
        path = Path(host).expanduser().absolute()
        if not path.exists():
            raise ExecutionError(
                f"mount source {host!r} does not exist; create it before running the container"
            )
        resolved[str(path)] = posixpath.normpath(target)
    return resolved


def base_identity(backend: str, image_digest: str, task: ContainerTask) -> dict[str, Any]:
    """The identity fields both backends report, in one shape."""
    return {
        "backend": backend,
        "image_digest": image_digest,
        "command": list(task.command),
        "env_hash": env_digest(task.env, task.secret_env),
        "mounts": mount_points(task.volumes),
        "workdir": task.workdir,
        "user": task.user,
    }


class LogSink:
    """Writes a container's output to its log file as it arrives and keeps the last lines.

    Used as a context manager; without a ``log_path`` only the tail is kept.
    """

    def __init__(self, log_path: str | None, tail_lines: int = TAIL_LINES) -> None:
        self._path = log_path
        self._file: IO[bytes] | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._partial = b""

    def __enter__(self) -> LogSink:
        if self._path is not None:
            path = Path(self._path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("wb")
            except OSError as exc:
                raise ExecutionError(f"cannot open the log file {self._path!r}: {exc}") from None
        return self

    def write(self, chunk: bytes) -> None:
        if self._file is not None:
            self._file.write(chunk)
            self._file.flush()
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._tail.append(line.decode("utf-8", errors="replace"))

    def tail(self) -> list[str]:
        """The last lines written so far, an unterminated last line included."""
        lines = list(self._tail)
        if self._partial:
            lines.append(self._partial.decode("utf-8", errors="replace"))
        return lines[-(self._tail.maxlen or TAIL_LINES) :]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
