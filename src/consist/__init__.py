"""Consist: provenance, caching and data virtualization for simulation workflows.

The public API is listed once, in ``__all__``; names load on first use so that
``import consist`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "ConsistError": "consist.domain.errors",
    "Run": "consist.domain",
    "Artifact": "consist.domain",
    "Signature": "consist.domain",
    "MountTable": "consist.domain",
    "RunStatus": "consist.domain",
    "Tracker": "consist.tracking",
    "CheckpointStore": "consist.checkpoints",
    "ProvenanceRecorder": "consist.services.identity.provenance",
    "use_tracker": "consist.api",
    "current_run": "consist.api",
    "current_tracker": "consist.api",
    "log_artifact": "consist.api",
    "log_artifacts": "consist.api",
    "log_input": "consist.api",
    "log_output": "consist.api",
    "log_dataframe": "consist.api",
    "find_run": "consist.api",
    "find_runs": "consist.api",
    "load": "consist.api",
    "run": "consist.api",
    "run_query": "consist.api",
    "define_step": "consist.api",
    "ingest": "consist.api_data",
    "load_df": "consist.api_data",
    "export_schema": "consist.api_data",
    "RunResult": "consist.services.steps.engine",
    "scenario": "consist.api_scenario",
    "pivot_facets": "consist.api_scenario",
    "coupler_schema": "consist.api_scenario",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'consist' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
