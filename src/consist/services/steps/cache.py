"""Serving a cache hit: find a usable earlier run and record a new run reusing its outputs."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from consist.domain import Artifact, Direction, Run, Signature, new_id
from consist.domain.errors import DuplicateRun
from consist.domain.labels import RunLabels
from consist.domain.remote import is_remote
from consist.services.steps.collaborators import RunSpec, StepFiles
from consist.services.steps.request import RunResult, StepRequest

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.steps.signing import Engine, SignedStep

logger = logging.getLogger("consist.engine")


def serve_cached(engine: Engine, request: StepRequest, signed: SignedStep) -> RunResult | None:
    """Record and return a cache hit for a signed step, or None when it must execute."""
    if request.cache_mode not in ("reuse", "readonly"):
        return None
    hit = _usable_hit(engine, request, signed.signature)
    if hit is None:
        return None
    return _serve_hit(engine, request, hit, signed.signature, signed.input_artifacts)


def _usable_hit(engine: Engine, request: StepRequest, signature: Signature) -> Run | None:
    hit = engine.runs.find_by_signature(signature.digest)
    if hit is None:
        return None
    if request.validate_cached_outputs == "strict":
        requested = (
            request.hydration_paths or {} if request.cache_hydration == "outputs-requested" else {}
        )
        outputs = engine.runs.outputs_of(hit.id)
        missing = engine.hydrator.unrestorable_outputs(outputs, requested)
        if missing:
            logger.info("cached run %s lacks outputs %s; executing again", hit.id, missing)
            return None
    return hit


def _serve_hit(
    engine: Engine,
    request: StepRequest,
    hit: Run,
    signature: Signature,
    input_artifacts: Mapping[str, Artifact],
) -> RunResult:
    runs = engine.runs
    outputs = runs.outputs_of(hit.id)
    origin = hit.cached_from or hit.id
    persist = request.cache_mode == "reuse"
    # Re-running a step under its own explicit id: the existing run is the answer.
    same_run = request.run_id is not None and request.run_id == hit.id
    run_id = hit.id if same_run else run_id_for(engine, request, persist)
    hydrated = engine.hydrator.hydrate_outputs(
        request.cache_hydration,
        outputs,
        request.hydration_paths,
        request.hydration_dir or _own_directory(engine, request, run_id, persist),
    )
    if same_run:
        return RunResult(hit, outputs, cache_hit=True, cached_from=origin, hydrated=hydrated)
    # Begun and ended at once: only the final snapshot matters.
    active = runs.begin(
        run_spec(request, run_id, persist=persist, enter_context=False, write_start=False)
    )
    active.run = attrs.evolve(active.run, signature=signature, cache_hit=True, cached_from=origin)
    for key, artifact in input_artifacts.items():
        link_input(runs, active, key, artifact)
    for key, artifact in outputs.items():
        active.link(artifact, Direction.OUTPUT, key)
    run = runs.end(active, signature=signature)
    return RunResult(run, outputs, cache_hit=True, cached_from=origin, hydrated=hydrated)


def run_spec(
    request: StepRequest,
    run_id: str,
    *,
    persist: bool,
    enter_context: bool = True,
    write_start: bool = True,
) -> RunSpec:
    """The run to begin for a step, labelled as the request asks.

    Raises ``InvalidInput`` or ``ConfigNotSerializable`` for a bad label.
    """
    labels = RunLabels.of(
        request.model or request.name,
        year=request.year,
        iteration=request.iteration,
        tags=request.tags,
        parent_run_id=request.parent_run_id,
        config=request.config,
        facet=request.facet,
        meta=request.meta,
    )
    return RunSpec(
        run_id, labels, persist=persist, enter_context=enter_context, write_start=write_start
    )


def _own_directory(engine: Engine, request: StepRequest, run_id: str, persist: bool) -> Path | None:
    """Where ``outputs-all`` copies a hit's files when no ``hydration_dir`` is given:
    the new run's own folder (a scratch folder for readonly, which records nothing)."""
    if request.cache_hydration != "outputs-all":
        return None
    if not persist:
        return Path(tempfile.mkdtemp(prefix="consist-readonly-"))
    return engine.runs.workspace(run_id)


def run_id_for(engine: Engine, request: StepRequest, persist: bool) -> str:
    """The request's own id (refused if a run has it), else a new one from the step name."""
    if request.run_id is not None:
        if persist and engine.runs.exists(request.run_id):
            raise DuplicateRun(request.run_id)
        return request.run_id
    return f"{_id_prefix(request.name)}-{new_id()[:12]}"


def _id_prefix(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._-")
    return (cleaned or "step")[:60]


def link_input(files: StepFiles, active: ActiveRun, key: str, artifact: Artifact) -> Artifact:
    """Link an input to the run; a raw file becomes an artifact of its own first."""
    if artifact.id:
        active.link(artifact, Direction.INPUT, key)
        return artifact
    if is_remote(artifact.uri):
        artifact = attrs.evolve(artifact, id=new_id(), key=key)
        active.link(artifact, Direction.INPUT, key)
        return artifact
    assert artifact.abs_path is not None
    return files.log_artifact(
        artifact.abs_path, key, "input", run=active, content_hash=artifact.content_hash
    )
