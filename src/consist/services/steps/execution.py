"""Executing a step that missed the cache: begin its run, call it, record what it wrote."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import Artifact, Run
from consist.domain.errors import InvalidInput, MissingOutputFile
from consist.domain.remote import is_remote
from consist.services.data.frames import hinted_kinds
from consist.services.runs.capture import capture_changed, file_states
from consist.services.runs.remote_artifacts import staging_path
from consist.services.steps.cache import link_input, run_id_for, run_spec
from consist.services.steps.request import RunResult, StepRequest
from consist.services.steps.step_io import (
    StepContext,
    StepInput,
    accepted_parameters,
    check_declared_outputs,
    input_value,
    path_parameters,
    record_return_value,
    unfilled_parameters,
)

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.steps.collaborators import StepFiles
    from consist.services.steps.signing import Engine, SignedStep

CONTEXT_PARAMETER = "_consist_ctx"


@attrs.define
class OpenStep:
    """A begun run of a signed step, its inputs linked (``open_step``)."""

    active: ActiveRun
    signed: SignedStep
    linked: Mapping[str, Artifact]


@attrs.frozen
class PreparedCall:
    """The arguments of a step function, and what to look at once it returned."""

    kwargs: Mapping[str, Any]
    output_paths: Mapping[str, Path]
    capture_root: Path | None
    before: Mapping[Path, tuple[int, int]]


def execute(engine: Engine, request: StepRequest, signed: SignedStep) -> RunResult:
    """Run a signed step that missed the cache on its executor and record it."""
    opened = open_step(engine, request, signed)
    try:
        call = prepare_call(engine, request, opened)
        value = engine.executor_for(request).run(request, opened.active, call.kwargs)
        record_call(engine, request, opened, call, value)
    except BaseException as exc:
        fail_step(engine, opened, exc)
        raise
    return finish_step(engine, opened, value)


def open_step(
    engine: Engine, request: StepRequest, signed: SignedStep, *, enter_context: bool = True
) -> OpenStep:
    """Begin the run of a step that missed the cache and link its inputs.

    Raises what linking raises, after recording the run as failed.
    """
    runs = engine.runs
    persist = request.cache_mode != "readonly"
    if request.cache_hydration == "inputs-missing":
        engine.hydrator.backfill_inputs({k: a for k, a in signed.input_artifacts.items() if a.id})
    run_id = run_id_for(engine, request, persist)
    active = runs.begin(run_spec(request, run_id, persist=persist, enter_context=enter_context))
    if not persist:
        scratch = Path(tempfile.mkdtemp(prefix="consist-readonly-"))
        active.workspace = scratch
        active.mounts = runs.mounts.with_workspace(scratch)
    active.run = attrs.evolve(active.run, signature=signed.signature)
    active.extra_identities.update(signed.extra_identities)
    opened = OpenStep(active, signed, {})
    try:
        opened.linked = {
            s.key: link_input(runs, active, s.key, signed.input_artifacts[s.key])
            for s in signed.inputs
        }
    except BaseException as exc:
        fail_step(engine, opened, exc)
        raise
    return opened


def fail_step(engine: Engine, opened: OpenStep, error: BaseException) -> Run:
    """Record a begun step as failed (never a cache hit later)."""
    return engine.runs.end(opened.active, error=error, signature=opened.signed.signature)


def finish_step(engine: Engine, opened: OpenStep, value: Any) -> RunResult:
    """End a run whose outputs are recorded (archiving them when it completes)."""
    run = engine.runs.end(opened.active, signature=opened.signed.signature)
    return RunResult(run, dict(opened.active.outputs), cache_hit=False, value=value)


def prepare_call(engine: Engine, request: StepRequest, opened: OpenStep) -> PreparedCall:
    """The step function's keyword arguments; output folders made, capture begun."""
    active = opened.active
    urls = url_outputs(request, active)
    output_paths = {
        key: (
            staging_path(active, key, urls[key])
            if key in urls
            else Path(p)
            if Path(p).is_absolute()
            else active.workspace / p
        )
        for key, p in (request.output_paths or {}).items()
    }
    for path in output_paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    capture_root = _capture_root(request)
    before = file_states(capture_root, request.capture_pattern) if capture_root else {}
    kwargs: dict[str, Any] = {}
    if request.fn is not None:
        context = StepContext(active, output_paths)
        kwargs = _kwargs(engine.runs, request, opened.signed.inputs, opened.linked, context)
    return PreparedCall(kwargs, output_paths, capture_root, before)


def url_outputs(request: StepRequest, active: ActiveRun) -> dict[str, str]:
    """Outputs bound for an object-store URL: written to a staging file, then uploaded."""
    return {
        key: str(p)
        for key, p in (request.output_paths or {}).items()
        if is_remote(p, active.mounts)
    }


def record_call(
    engine: Engine, request: StepRequest, opened: OpenStep, call: PreparedCall, value: Any
) -> None:
    """Turn what the step function returned and wrote into the run's outputs."""
    active = opened.active
    files = engine.runs
    record_return_value(files, active, value, list(request.outputs), request.name)
    urls = url_outputs(request, active)
    for key, path in call.output_paths.items():
        if key in urls:
            returned = active.outputs.get(key)
            if returned is None:
                files.upload_output(active, key, path, urls[key])
            elif returned.abs_path is not None:  # returned, not written: that file goes
                files.upload_output(active, key, Path(returned.abs_path), urls[key])
        elif key not in active.outputs:
            if not path.exists():
                raise MissingOutputFile(f"output {key!r} was not written to {path}")
            files.log_artifact(path, key, "output", run=active)
    if call.capture_root is not None:
        capture_changed(active, call.capture_root, request.capture_pattern, call.before)
    check_declared_outputs(active, list(request.outputs), request.name)


def _capture_root(request: StepRequest) -> Path | None:
    if request.capture_dir is None:
        return None
    # Relative to the working directory, as every path a user writes in Python.
    return Path(os.path.abspath(os.fspath(request.capture_dir)))


def _kwargs(
    files: StepFiles,
    request: StepRequest,
    inputs: Sequence[StepInput],
    linked: Mapping[str, Artifact],
    context: StepContext,
) -> dict[str, Any]:
    assert request.fn is not None
    accepted, takes_any = accepted_parameters(request.fn)
    wants_path = path_parameters(request.fn) if request.load_inputs else set()
    wants_kind = hinted_kinds(request.fn) if request.load_inputs else {}
    kwargs: dict[str, Any] = {}
    for step_input in inputs:
        if step_input.key in accepted or (takes_any and step_input.as_kwarg):
            load = request.load_inputs and step_input.key not in wants_path
            kwargs[step_input.key] = input_value(
                files, step_input, linked[step_input.key], load, wants_kind.get(step_input.key)
            )
        # Any other key is identity-only: hashed and linked, reachable as ctx.inputs[key].
    if "config" in accepted and request.config is not None:
        kwargs["config"] = request.config
    if "output_paths" in accepted and request.output_paths:
        kwargs["output_paths"] = dict(context.output_paths)
    if request.inject_context:
        name = CONTEXT_PARAMETER if request.inject_context is True else str(request.inject_context)
        if name not in accepted and not takes_any:
            raise InvalidInput(f"inject_context: {request.name}() has no parameter {name!r}")
        kwargs[name] = context
    kwargs.update(request.runtime_kwargs or {})
    unfilled = unfilled_parameters(request.fn, kwargs)
    if unfilled:
        unmatched = sorted(i.key for i in inputs if i.as_kwarg and i.key not in kwargs)
        raise InvalidInput(
            f"{request.name}() needs {unfilled}, which no input, config or runtime_kwargs "
            "gives"
            + (f"; inputs {unmatched} name no parameter (they are hashed, not passed)"
               if unmatched else "")
        )  # fmt: skip
    return kwargs
