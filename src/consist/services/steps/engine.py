"""The run engine: compute a step's signature, decide hit or miss, execute, record.

``reuse``: a completed run with the same signature is a hit; the function is
not called and a new run record (``cache_hit``, ``cached_from``) links the same
output artifacts. ``overwrite``: always execute. ``readonly``: use hits,
persist nothing new (a miss executes in a temporary directory and leaves no
snapshot and no catalog row).

The engine works with the collaborators it is handed (:class:`Engine`), never
the Tracker. The steps of one run are separate functions so that fan-out
(``fanout.py``) signs and serves many items before it executes the misses:
:func:`sign_step`, :func:`serve_cached`, :func:`open_step`, :func:`prepare_call`,
:func:`record_call`, :func:`finish_step`.
"""

from __future__ import annotations

from consist.services.steps.cache import serve_cached
from consist.services.steps.collaborators import (
    FunctionExecutor,
    Hydrator,
    RunSpec,
    RunStore,
    StepExecutor,
)
from consist.services.steps.execution import (
    CONTEXT_PARAMETER,
    OpenStep,
    PreparedCall,
    execute,
    fail_step,
    finish_step,
    open_step,
    prepare_call,
    record_call,
    url_outputs,
)
from consist.services.steps.request import (
    CACHE_MODES,
    STEP_ATTRIBUTE,
    RunResult,
    StepRequest,
    build_request,
    check_cache_mode,
    define_step,
    step_defaults,
)
from consist.services.steps.signing import Engine, SignedStep, sign_step

__all__ = [
    "CACHE_MODES",
    "CONTEXT_PARAMETER",
    "STEP_ATTRIBUTE",
    "Engine",
    "FunctionExecutor",
    "Hydrator",
    "OpenStep",
    "PreparedCall",
    "RunResult",
    "RunSpec",
    "RunStore",
    "SignedStep",
    "StepExecutor",
    "StepRequest",
    "build_request",
    "check_cache_mode",
    "define_step",
    "fail_step",
    "finish_step",
    "open_step",
    "prepare_call",
    "record_call",
    "run_step",
    "serve_cached",
    "sign_step",
    "step_defaults",
    "url_outputs",
]


def run_step(engine: Engine, request: StepRequest) -> RunResult:
    """Execute or reuse one step (see the module docstring for the cache modes)."""
    signed = sign_step(engine, request)
    hit = serve_cached(engine, request, signed)
    if hit is not None:
        return hit
    return execute(engine, request, signed)
