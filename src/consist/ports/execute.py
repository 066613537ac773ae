"""The Executor port: something that runs a task and reports how it went."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs


@attrs.frozen
class CallTask:
    """Call a Python callable in this process with keyword arguments."""

    fn: Callable[..., Any]
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ContainerTask:
    """Run a command in a container image with host directories mounted.

    ``volumes`` maps host paths to container paths. ``secret_env`` names keys of
    ``env`` whose values are passed to the container but never hashed or stored.
    """

    image: str
    command: tuple[str, ...] = attrs.field(converter=tuple)
    volumes: Mapping[str, str] = attrs.field(factory=dict)
    env: Mapping[str, str] = attrs.field(factory=dict)
    secret_env: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)
    workdir: str | None = None
    user: str | None = None
    network: str = "none"
    log_path: str | None = None


@attrs.frozen
class TaskOutcome:
    """What came back: the callable's return value, or a container's exit code and logs."""

    value: Any = None
    exit_code: int = 0
    log_path: str | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict)


TaskT_contra = TypeVar("TaskT_contra", contravariant=True)


class Executor(Protocol[TaskT_contra]):
    """Runs tasks of one kind. Raises ``ExecutionError`` when it cannot run one."""

    def identity(self, task: TaskT_contra) -> Mapping[str, Any]:
        """What about the task belongs in the signature (an image digest, a command).

        Raises ``ExecutionError`` if that identity cannot be determined (an
        image without a digest, say): a step without a stable identity must
        not be cached.
        """
        ...

    def execute(self, task: TaskT_contra) -> TaskOutcome:
        """Run the task. An exception raised by an in-process callable propagates
        unchanged; a container that exits non-zero raises ``ExecutionError``
        carrying the tail of its log."""
        ...
