"""The run engine: compute a step's signature, decide hit or miss, execute, record.

``reuse``: a completed run with the same signature is a hit; the function is
not called and a new run record (``cache_hit``, ``cached_from``) links the same
output artifacts. ``overwrite``: always execute. ``readonly``: use hits,
persist nothing new (a miss executes in a temporary directory and leaves no
snapshot and no catalog row).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from consist.display import cards
from consist.domain import Artifact, Direction, Run, Signature, new_id
from consist.domain.display import Card, Displayable
from consist.domain.errors import (
    DuplicateRun,
    InvalidCacheMode,
    InvalidInput,
    MissingOutputFile,
)
from consist.domain.remote import is_remote
from consist.ports.execute import CallTask
from consist.services.data.frames import hinted_kinds
from consist.services.identity.signer import EXECUTOR_CODE
from consist.services.runs.capture import capture_changed, file_states
from consist.services.runs.remote_artifacts import remote_input, staging_path, upload_output
from consist.services.steps import hydration
from consist.services.steps.step_io import (
    InputResolver,
    StepContext,
    StepInput,
    accepted_parameters,
    check_declared_outputs,
    input_value,
    path_parameters,
    record_return_value,
    resolve_inputs,
    unfilled_parameters,
)
from consist.services.store.restore_targets import check_restore_target

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.tracker import Tracker

logger = logging.getLogger("consist.engine")

CACHE_MODES = ("reuse", "overwrite", "readonly")
VALIDATION_MODES = ("lazy", "strict")
CONTEXT_PARAMETER = "_consist_ctx"
STEP_ATTRIBUTE = "__consist_step__"


@attrs.frozen
class RunResult(Displayable):
    """What ``tracker.run`` returns.

    Attributes
    ----------
    run : Run
        The run record (for a readonly miss, a record that was not persisted).
    outputs : Mapping[str, Artifact]
        Output artifacts by key (also available as ``artifacts``).
    cache_hit : bool
    cached_from : str | None
        Id of the run whose outputs were reused.
    value : Any
        What the function returned (None on a hit: it was not called).
    """

    run: Run
    outputs: Mapping[str, Artifact]
    cache_hit: bool = False
    cached_from: str | None = None
    value: Any = None
    hydrated: Mapping[str, Path] = attrs.field(factory=dict)

    @property
    def artifacts(self) -> Mapping[str, Artifact]:
        return self.outputs

    @property
    def run_id(self) -> str:
        return self.run.id

    def _card(self) -> Card:
        return cards.result_card(self.run, self.outputs, self.value)


def check_cache_mode(mode: str) -> str:
    if mode not in CACHE_MODES:
        raise InvalidCacheMode(f"cache_mode must be one of {CACHE_MODES}, not {mode!r}")
    return mode


def check_validation(mode: str) -> str:
    if mode not in VALIDATION_MODES:
        raise InvalidInput(
            f"validate_cached_outputs must be one of {VALIDATION_MODES}, not {mode!r}"
        )
    return mode


def step_defaults(fn: Callable[..., Any] | None) -> dict[str, Any]:
    return dict(getattr(fn, STEP_ATTRIBUTE, None) or {})


@attrs.define
class StepRequest:
    """Everything ``tracker.run`` was asked, after defaults are applied."""

    fn: Callable[..., Any] | None
    name: str
    run_id: str | None = None
    inputs: Mapping[str, Any] | Sequence[Any] | None = None
    config: Any = None
    outputs: Sequence[str] = ()
    output_paths: Mapping[str, str | os.PathLike[str]] | None = None
    load_inputs: bool = True
    runtime_kwargs: Mapping[str, Any] | None = None
    inject_context: bool | str = False
    capture_dir: str | os.PathLike[str] | None = None
    capture_pattern: str = "*"
    depends_on: Sequence[str | os.PathLike[str]] = ()
    hash_inputs: Sequence[str | os.PathLike[str]] = ()
    cache_mode: str = "reuse"
    cache_hydration: str | None = None
    hydration_paths: Mapping[str, str | os.PathLike[str]] | None = None
    hydration_dir: str | os.PathLike[str] | None = None
    validate_cached_outputs: str = "lazy"
    year: int | None = None
    iteration: int | None = None
    tags: Sequence[str] | str | None = None
    facet: Any = None
    model: str | None = None
    parent_run_id: str | None = None
    code_identity: Any = None
    input_resolver: InputResolver | None = None
    identity_extra: Mapping[str, Any] | None = None
    execute: Callable[[ActiveRun, dict[str, Any]], Any] | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict)

    def validate(self) -> None:
        check_cache_mode(self.cache_mode)
        check_validation(self.validate_cached_outputs)
        hydration.check_hydration(self.cache_hydration)
        if self.fn is None and self.execute is None:
            raise InvalidInput("tracker.run needs fn=... (the step function)")


def build_request(fn: Callable[..., Any] | None, options: Mapping[str, Any]) -> StepRequest:
    """Merge ``define_step`` defaults with the call's options (the call wins)."""
    merged = {**step_defaults(fn), **{k: v for k, v in options.items() if v is not None}}
    name = merged.pop("name", None) or getattr(fn, "__name__", None) or "step"
    fields = {f.name for f in attrs.fields(StepRequest)}
    unknown = sorted(set(merged) - fields)
    if unknown:
        raise TypeError(f"tracker.run got unexpected option(s) {unknown}")
    if isinstance(merged.get("outputs"), str):
        merged["outputs"] = [merged["outputs"]]
    if isinstance(merged.get("outputs"), Mapping):  # {key: path or URL}: declared and placed
        merged["output_paths"] = {**merged["outputs"], **(merged.get("output_paths") or {})}
        merged["outputs"] = list(merged["outputs"])
    request = StepRequest(fn=fn, name=name, **merged)
    request.validate()
    return request


@attrs.frozen
class SignedStep:
    """A step's signature with the inputs it was computed from (``sign_step``)."""

    signature: Signature
    inputs: Sequence[StepInput]
    input_artifacts: Mapping[str, Artifact]
    extra_identities: Mapping[str, str]


def run_step(tracker: Tracker, request: StepRequest) -> RunResult:
    """Execute or reuse one step (see the module docstring for the cache modes)."""
    signed = sign_step(tracker, request)
    hit = serve_cached(tracker, request, signed)
    if hit is not None:
        return hit
    return _execute(tracker, request, signed)


def sign_step(tracker: Tracker, request: StepRequest) -> SignedStep:
    """Resolve a step's inputs and compute its signature; runs and records nothing."""
    signer = tracker.signer
    inputs = resolve_inputs(tracker, request.inputs, request.input_resolver)
    input_artifacts = {i.key: _as_artifact(tracker, i) for i in inputs}
    extra = signer.file_identities("depends_on", request.depends_on)
    extra.update(signer.file_identities("hash_inputs", request.hash_inputs))
    signature = signer.sign_inputs(
        step=request.name,
        config_hash=signer.config_hash(request.config, request.identity_extra),
        inputs=input_artifacts,
        extra_identities=extra,
        fn=request.fn,
        code_identity=request.code_identity or _identity_for_executor(request),
    )
    return SignedStep(signature, inputs, input_artifacts, extra)


def serve_cached(tracker: Tracker, request: StepRequest, signed: SignedStep) -> RunResult | None:
    """Record and return a cache hit for a signed step, or None when it must execute."""
    if request.cache_mode not in ("reuse", "readonly"):
        return None
    hit = _usable_hit(tracker, request, signed.signature)
    if hit is None:
        return None
    return _serve_hit(tracker, request, hit, signed.signature, signed.input_artifacts)


def _identity_for_executor(request: StepRequest) -> Any:
    # A container step is identified by its image digest and command, which
    # identity_extra carries; the host repository's commit is not its code.
    if request.identity_extra is not None:
        return EXECUTOR_CODE
    return None


def _as_artifact(tracker: Tracker, step_input: StepInput) -> Artifact:
    if step_input.artifact is not None:
        return step_input.artifact
    if step_input.url is not None:
        return remote_input(tracker, step_input.key, step_input.url)
    assert step_input.path is not None
    digest = tracker.hasher.identity(step_input.path)
    produced = tracker.find_produced_artifact(digest, step_input.path)
    if produced is not None:
        return produced
    # A raw file: identity is its content; the artifact is created when linked.
    return Artifact(
        id="", key=step_input.key, uri="", content_hash=digest, abs_path=str(step_input.path)
    )


def _usable_hit(tracker: Tracker, request: StepRequest, signature: Signature) -> Run | None:
    hit = tracker.find_by_signature(signature.digest)
    if hit is None:
        return None
    if request.validate_cached_outputs == "strict":
        outputs = tracker.get_artifacts_for_run(hit.id).outputs
        missing = hydration.missing_outputs(tracker, outputs)
        requested = (
            request.hydration_paths or {} if request.cache_hydration == "outputs-requested" else {}
        )
        for key in list(missing):
            try:
                if key in requested:  # the caller's own path for it: theirs to choose
                    target = Path(os.fspath(requested[key]))
                else:  # the place a record names: only under the run dir or a mount
                    target = check_restore_target(
                        outputs[key],
                        tracker.resolve_path(outputs[key]),
                        run_dir=tracker.run_dir,
                        mounts=tracker.mounts,
                    )
                hydration.restore(tracker, outputs[key], target)
                missing.remove(key)
            except Exception:
                continue
        if missing:
            logger.info("cached run %s lacks outputs %s; executing again", hit.id, missing)
            return None
    return hit


def _serve_hit(
    tracker: Tracker,
    request: StepRequest,
    hit: Run,
    signature: Signature,
    input_artifacts: Mapping[str, Artifact],
) -> RunResult:
    outputs = tracker.get_artifacts_for_run(hit.id).outputs
    origin = hit.cached_from or hit.id
    persist = request.cache_mode == "reuse"
    # Re-running a step under its own explicit id: the existing run is the answer.
    same_run = request.run_id is not None and request.run_id == hit.id
    run_id = hit.id if same_run else _run_id_for(tracker, request, persist)
    hydrated = hydration.hydrate_outputs(
        tracker,
        request.cache_hydration,
        outputs,
        request.hydration_paths,
        request.hydration_dir or _own_directory(tracker, request, run_id, persist),
    )
    if same_run:
        return RunResult(hit, outputs, cache_hit=True, cached_from=origin, hydrated=hydrated)
    active = tracker.begin_run(
        run_id,
        request.model or request.name,
        year=request.year,
        iteration=request.iteration,
        tags=request.tags,
        parent_run_id=request.parent_run_id,
        config=request.config,
        facet=request.facet,
        persist=persist,
        enter_context=False,
        check_unique=False,  # _run_id_for checked explicit ids; generated ones are unique
        write_start=False,  # begun and ended at once: only the final snapshot matters
        **request.meta,
    )
    active.run = attrs.evolve(active.run, signature=signature, cache_hit=True, cached_from=origin)
    for key, artifact in input_artifacts.items():
        _link_input(tracker, active, key, artifact)
    for key, artifact in outputs.items():
        active.link(artifact, Direction.OUTPUT, key)
    run = tracker.end_run(active, signature=signature)
    return RunResult(run, outputs, cache_hit=True, cached_from=origin, hydrated=hydrated)


def _own_directory(
    tracker: Tracker, request: StepRequest, run_id: str, persist: bool
) -> Path | None:
    """Where ``outputs-all`` copies a hit's files when no ``hydration_dir`` is given:
    the new run's own folder (a scratch folder for readonly, which records nothing)."""
    if request.cache_hydration != "outputs-all":
        return None
    if not persist:
        return Path(tempfile.mkdtemp(prefix="consist-readonly-"))
    return tracker.snapshots.workspace(run_id)


def _run_id_for(tracker: Tracker, request: StepRequest, persist: bool) -> str:
    if request.run_id is not None:
        if persist and tracker.run_exists(request.run_id):
            raise DuplicateRun(request.run_id)
        return request.run_id
    return f"{_id_prefix(request.name)}-{new_id()[:12]}"


def _id_prefix(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._-")
    return (cleaned or "step")[:60]


def _link_input(tracker: Tracker, active: ActiveRun, key: str, artifact: Artifact) -> Artifact:
    if artifact.id:
        active.link(artifact, Direction.INPUT, key)
        return artifact
    if is_remote(artifact.uri):
        artifact = attrs.evolve(artifact, id=new_id(), key=key)
        active.link(artifact, Direction.INPUT, key)
        return artifact
    assert artifact.abs_path is not None
    return tracker.log_artifact(
        artifact.abs_path, key, "input", run=active, content_hash=artifact.content_hash
    )


def _execute(tracker: Tracker, request: StepRequest, signed: SignedStep) -> RunResult:
    opened = open_step(tracker, request, signed)
    try:
        call = prepare_call(tracker, request, opened)
        if request.execute is not None:
            value = request.execute(opened.active, {})
        else:
            assert request.fn is not None
            value = tracker.executor.execute(CallTask(request.fn, call.kwargs)).value
        record_call(tracker, request, opened, call, value)
    except BaseException as exc:
        tracker.end_run(opened.active, error=exc, signature=signed.signature)
        raise
    return finish_step(tracker, opened, value)


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


def open_step(
    tracker: Tracker, request: StepRequest, signed: SignedStep, *, enter_context: bool = True
) -> OpenStep:
    """Begin the run of a step that missed the cache and link its inputs.

    Raises what linking raises, after recording the run as failed.
    """
    persist = request.cache_mode != "readonly"
    if request.cache_hydration == "inputs-missing":
        hydration.backfill_inputs(
            tracker, {k: a for k, a in signed.input_artifacts.items() if a.id}
        )
    active = tracker.begin_run(
        _run_id_for(tracker, request, persist),
        request.model or request.name,
        year=request.year,
        iteration=request.iteration,
        tags=request.tags,
        parent_run_id=request.parent_run_id,
        config=request.config,
        facet=request.facet,
        persist=persist,
        enter_context=enter_context,
        check_unique=False,  # _run_id_for checked explicit ids; generated ones are unique
        **request.meta,
    )
    if not persist:
        scratch = Path(tempfile.mkdtemp(prefix="consist-readonly-"))
        active.workspace = scratch
        active.mounts = tracker.mounts.with_workspace(scratch)
    active.run = attrs.evolve(active.run, signature=signed.signature)
    active.extra_identities.update(signed.extra_identities)
    try:
        linked = {
            s.key: _link_input(tracker, active, s.key, signed.input_artifacts[s.key])
            for s in signed.inputs
        }
    except BaseException as exc:
        tracker.end_run(active, error=exc, signature=signed.signature)
        raise
    return OpenStep(active, signed, linked)


def finish_step(tracker: Tracker, opened: OpenStep, value: Any) -> RunResult:
    """End a run whose outputs are recorded (archiving them when it completes)."""
    run = tracker.end_run(opened.active, signature=opened.signed.signature)
    return RunResult(run, dict(opened.active.outputs), cache_hit=False, value=value)


def prepare_call(tracker: Tracker, request: StepRequest, opened: OpenStep) -> PreparedCall:
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
    if request.execute is None:
        context = StepContext(active, output_paths)
        kwargs = _kwargs(tracker, request, opened.signed.inputs, opened.linked, context)
    return PreparedCall(kwargs, output_paths, capture_root, before)


def url_outputs(request: StepRequest, active: ActiveRun) -> dict[str, str]:
    """Outputs bound for an object-store URL: written to a staging file, then uploaded."""
    return {
        key: str(p)
        for key, p in (request.output_paths or {}).items()
        if is_remote(p, active.mounts)
    }


def record_call(
    tracker: Tracker, request: StepRequest, opened: OpenStep, call: PreparedCall, value: Any
) -> None:
    """Turn what the step function returned and wrote into the run's outputs."""
    active = opened.active
    record_return_value(tracker, active, value, list(request.outputs), request.name)
    urls = url_outputs(request, active)
    for key, path in call.output_paths.items():
        if key in urls:
            returned = active.outputs.get(key)
            if returned is None:
                upload_output(tracker, active, key, path, urls[key])
            elif returned.abs_path is not None:  # returned, not written: that file goes
                upload_output(tracker, active, key, Path(returned.abs_path), urls[key])
        elif key not in active.outputs:
            if not path.exists():
                raise MissingOutputFile(f"output {key!r} was not written to {path}")
            tracker.log_artifact(path, key, "output", run=active)
    if call.capture_root is not None:
        capture_changed(active, call.capture_root, request.capture_pattern, call.before)
    check_declared_outputs(active, list(request.outputs), request.name)


def _capture_root(request: StepRequest) -> Path | None:
    if request.capture_dir is None:
        return None
    # Relative to the working directory, as every path a user writes in Python.
    return Path(os.path.abspath(os.fspath(request.capture_dir)))


def _kwargs(
    tracker: Tracker,
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
                tracker, step_input, linked[step_input.key], load, wants_kind.get(step_input.key)
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
