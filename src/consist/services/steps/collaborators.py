"""What the engine needs from the rest of Consist, as small Protocols.

The facade hands the engine a run store (begin, end and look up runs), the
files of artifacts (mounts, logging, paths), the signer, a hydrator and the
executor of Python functions; a container step brings its own executor.
Tests hand it in-memory fakes.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from consist.domain import Artifact, MountTable, Run, Signature
from consist.domain.labels import RunLabels
from consist.ports.execute import CallTask, Executor

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.steps.request import StepRequest


@attrs.frozen
class RunSpec:
    """A run to begin for a step: its labels, and how much of it is written.

    ``persist=False``: a readonly step, nothing written. ``write_start=False``: a
    cache hit, begun and ended at once, so only its final snapshot is written.
    ``enter_context``: the run becomes ``consist.current_run()`` while it runs.
    """

    run_id: str
    labels: RunLabels
    persist: bool = True
    enter_context: bool = True
    write_start: bool = True


class StepFiles(Protocol):
    """Where a step's files live, and how they become artifacts of its run."""

    @property
    def mounts(self) -> MountTable: ...

    def log_artifact(
        self,
        path: str | os.PathLike[str] | Artifact,
        key: str | None = None,
        direction: str = "output",
        *,
        content_hash: str | None = None,
        run: ActiveRun | None = None,
    ) -> Artifact: ...

    def artifact_path(self, artifact: Artifact) -> Path: ...  # raises MissingFile

    def find_produced_artifact(self, content_hash: str, path: Path | str) -> Artifact | None: ...

    def remote_input(self, key: str, url: str) -> Artifact: ...  # an object-store input

    def upload_output(self, active: ActiveRun, key: str, staged: Path, url: str) -> Artifact: ...


class RunStore(StepFiles, Protocol):
    """Begins, ends and finds runs (the facade's lifecycle and catalog reader)."""

    def begin(self, spec: RunSpec) -> ActiveRun: ...  # raises DuplicateRun, ConfigNotSerializable

    def end(
        self,
        active: ActiveRun,
        *,
        error: BaseException | None = None,
        signature: Signature | None = None,
    ) -> Run: ...

    def exists(self, run_id: str) -> bool: ...

    def find_by_signature(self, digest: str) -> Run | None: ...

    def outputs_of(self, run_id: str) -> Mapping[str, Artifact]: ...

    def workspace(self, run_id: str) -> Path: ...

    def completed_signatures(self, digests: Sequence[str]) -> Collection[str]:
        """Which of these signatures a completed run has (one query for a sweep)."""
        ...

    def one_sync(self) -> AbstractContextManager[None]:
        """Runs recorded inside are made durable together, in one fsync pass, on exit."""
        ...


class Hydrator(Protocol):
    """Puts the files of recorded artifacts back on disk (``hydration.Hydrator``)."""

    def hydrate_outputs(
        self,
        mode: str | None,
        outputs: Mapping[str, Artifact],
        paths: Mapping[str, str | os.PathLike[str]] | None,
        directory: str | os.PathLike[str] | None,
    ) -> dict[str, Path]: ...

    def unrestorable_outputs(
        self, outputs: Mapping[str, Artifact], requested: Mapping[str, str | os.PathLike[str]]
    ) -> list[str]: ...

    def backfill_inputs(self, inputs: Mapping[str, Artifact]) -> dict[str, Path]: ...


class StepExecutor(Protocol):
    """Runs a step that missed the cache, in its begun run."""

    def identity(self) -> Mapping[str, Any] | None:
        """What identifies the work besides the step's code (a container's image
        digest, command...), hashed into the signature; None for a Python function."""
        ...

    def run(self, request: StepRequest, active: ActiveRun, kwargs: Mapping[str, Any]) -> Any:
        """Do the work; returns the step's value. Raising marks the run failed."""
        ...


@attrs.frozen
class FunctionExecutor:
    """Calls the step function through an :class:`Executor` of call tasks."""

    executor: Executor[CallTask]

    def identity(self) -> Mapping[str, Any] | None:
        return None

    def run(self, request: StepRequest, active: ActiveRun, kwargs: Mapping[str, Any]) -> Any:
        assert request.fn is not None
        return self.executor.execute(CallTask(request.fn, kwargs)).value
