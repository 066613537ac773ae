"""Signing a step: resolve its inputs to artifacts and ask the signer for its signature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from consist.domain import Artifact, Signature
from consist.services.identity.signer import EXECUTOR_CODE, Signer
from consist.services.steps.collaborators import Hydrator, RunStore, StepExecutor
from consist.services.steps.request import StepRequest
from consist.services.steps.step_io import StepInput, resolve_inputs


@attrs.frozen
class Engine:
    """The collaborators one step needs: runs, signer, hydrator, function executor."""

    runs: RunStore
    signer: Signer
    hydrator: Hydrator
    executor: StepExecutor

    def executor_for(self, request: StepRequest) -> StepExecutor:
        return request.executor or self.executor


@attrs.frozen
class SignedStep:
    """A step's signature with the inputs it was computed from (``sign_step``)."""

    signature: Signature
    inputs: Sequence[StepInput]
    input_artifacts: Mapping[str, Artifact]
    extra_identities: Mapping[str, str]


def sign_step(engine: Engine, request: StepRequest) -> SignedStep:
    """Resolve a step's inputs and compute its signature; runs and records nothing."""
    signer = engine.signer
    inputs = resolve_inputs(engine.runs.mounts, request.inputs, request.input_resolver)
    input_artifacts = {i.key: _as_artifact(engine, i) for i in inputs}
    extra = signer.file_identities("depends_on", request.depends_on)
    extra.update(signer.file_identities("hash_inputs", request.hash_inputs))
    executor_identity = engine.executor_for(request).identity()
    # A container step is identified by its image digest and command (its
    # executor's identity); the host repository's commit is not its code.
    default_code = EXECUTOR_CODE if executor_identity is not None else None
    signature = signer.sign_inputs(
        step=request.name,
        config_hash=signer.config_hash(request.config, executor_identity),
        inputs=input_artifacts,
        extra_identities=extra,
        fn=request.fn,
        code_identity=request.code_identity or default_code,
    )
    return SignedStep(signature, inputs, input_artifacts, extra)


def _as_artifact(engine: Engine, step_input: StepInput) -> Artifact:
    if step_input.artifact is not None:
        return step_input.artifact
    if step_input.url is not None:
        return engine.runs.remote_input(step_input.key, step_input.url)
    assert step_input.path is not None
    digest = engine.signer.hasher.identity(step_input.path)
    produced = engine.runs.find_produced_artifact(digest, step_input.path)
    if produced is not None:
        return produced
    # A raw file: identity is its content; the artifact is created when linked.
    return Artifact(
        id="", key=step_input.key, uri="", content_hash=digest, abs_path=str(step_input.path)
    )
