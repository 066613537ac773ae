"""Pieces of scenario steps: the trace handle, input lists, run ids.

Kept apart from ``scenario.py`` so that module stays about the scenario's
lifecycle.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.domain import Artifact, Run, canonical, new_id
from consist.domain.errors import DuplicateRun, UnknownCouplerKey
from consist.services.scenarios.coupler import Coupler
from consist.services.steps.engine import RunResult, build_request
from consist.services.steps.step_io import InputResolver
from consist.services.store.snapshots import check_run_id

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.tracker import Tracker

Inputs = Mapping[str, Any] | Sequence[Any] | None


class StepTrace:
    """Yielded by ``sc.trace(...)``: the step's run, and whether it matched an earlier one.

    Attributes
    ----------
    cache_hit : bool
        A completed run with the same signature (step name, code, config,
        inputs known at entry) existed: the block ran anyway.
    cached_from : str | None
        Id of that earlier run.
    """

    def __init__(self, active: ActiveRun, hit: Run | None) -> None:
        self.active = active
        self.cache_hit = hit is not None
        self.cached_from = None if hit is None else (hit.cached_from or hit.id)

    @property
    def run(self) -> Run:
        return self.active.run

    @property
    def run_id(self) -> str:
        return self.active.id

    @property
    def run_dir(self) -> Path:
        return self.active.workspace

    @property
    def inputs(self) -> dict[str, Artifact]:
        return self.active.inputs

    @property
    def outputs(self) -> dict[str, Artifact]:
        return self.active.outputs

    def log_artifact(self, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self.active.log_artifact(path, key, **options)

    def log_output(self, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self.active.log_output(path, key, **options)

    def log_input(self, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self.active.log_input(path, key, **options)

    def log_dataframe(self, df: Any, key: str, **options: Any) -> Artifact:
        return self.active.log_dataframe(df, key, **options)

    def __repr__(self) -> str:
        return f"<StepTrace {self.run_id!r} cache_hit={self.cache_hit}>"


def combine_inputs(
    coupler: Coupler, inputs: Inputs, input_keys: Sequence[str], optional_input_keys: Sequence[str]
) -> Inputs:
    """``inputs`` plus the coupler keys named by ``input_keys`` / ``optional_input_keys``.

    Raises
    ------
    UnknownCouplerKey
        For a required key that is not set, or a bare name in ``inputs`` that is
        neither a coupler key nor a file.
    """
    for key in input_keys:
        coupler.require(key)
    keys = list(dict.fromkeys([*input_keys, *(k for k in optional_input_keys if k in coupler)]))
    _check_names(coupler, inputs)
    if not keys:
        return inputs
    if isinstance(inputs, Mapping):
        return {**inputs, **{k: k for k in keys if k not in inputs}}
    listed: list[Any] = [] if inputs is None else _as_list(inputs)
    return [*listed, *(k for k in keys if k not in listed)]


def _check_names(coupler: Coupler, inputs: Inputs) -> None:
    """A bare name that is neither a coupler key nor a file is a coupler typo."""
    if inputs is None:
        return
    values = inputs.values() if isinstance(inputs, Mapping) else _as_list(inputs)
    for value in values:
        if (
            isinstance(value, str)
            and value not in coupler
            and not Path(value).exists()
            and os.sep not in value
            and "/" not in value
            and "." not in value
        ):
            raise UnknownCouplerKey(value, coupler.keys())


def free_run_id(exists: Callable[[str], bool], run_id: str) -> str:
    """``run_id`` if unused, else ``<run_id>@2``, ``@3``... (its use on a later pass).

    ``exists`` says whether a run id is taken (the run store's ``run_exists``).
    """
    check_run_id(run_id)
    if not exists(run_id):
        return run_id
    occurrence = 2
    while exists(f"{run_id}@{occurrence}"):
        occurrence += 1
    return f"{run_id}@{occurrence}"


def new_step_id(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._-")
    return f"{(cleaned or 'step')[:60]}-{new_id()[:12]}"


def _as_list(inputs: Sequence[Any] | str | os.PathLike[str] | Artifact) -> list[Any]:
    if isinstance(inputs, (str, os.PathLike, Artifact)):
        return [inputs]
    return list(inputs)


def as_config(config: Any) -> dict[str, Any]:
    """A config as the dict a Run stores (a non-mapping config under ``"value"``)."""
    normal = canonical.normalize(config if config is not None else {}, "config")
    return normal if isinstance(normal, dict) else {"value": normal}


def run_step_as(
    tracker: Tracker,
    fn: Callable[..., Any] | None,
    run_id: str | None,
    options: Mapping[str, Any],
    resolver: InputResolver,
) -> RunResult:
    """Run an ``sc.run`` step under ``run_id``, or ``<run_id>@2``... when an earlier
    pass holds that id (and this call is not a hit on that very run)."""

    def run_as(step_id: str | None) -> RunResult:
        request = build_request(fn, {**options, "run_id": step_id}, input_resolver=resolver)
        return tracker.run_request(request)

    if run_id is None:
        return run_as(None)
    try:
        return run_as(run_id)
    except DuplicateRun as exc:
        # Raised before anything ran: this id belongs to an earlier pass.
        if exc.run_id != run_id:
            raise
    return run_as(free_run_id(tracker.run_exists, run_id))
