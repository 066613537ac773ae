"""Provenance records for simple pipelines: steps, versions and config, as JSON sidecars.

A sidecar is ``<output>.provenance.json`` next to an output file: what made it,
readable without Consist installed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from consist.domain import canonical, utcnow
from consist.domain.errors import InvalidInput, MissingFile
from consist.files import write_atomically

SIDECAR_SUFFIX = ".provenance.json"


def sidecar_path(output_path: str | os.PathLike[str]) -> Path:
    """``data/genes.parquet`` -> ``data/genes.parquet.provenance.json``."""
    path = Path(output_path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def write_sidecar(output_path: str | os.PathLike[str], metadata: Mapping[str, Any]) -> Path:
    """Write ``metadata`` as the sidecar of ``output_path`` (atomically)."""
    text = json.dumps(canonical.normalize(dict(metadata), "provenance"), indent=2, sort_keys=True)
    return write_atomically(sidecar_path(output_path), iter([text.encode()]))


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a sidecar, given either the sidecar itself or the output it describes.

    Raises
    ------
    MissingFile
        If neither exists.
    """
    candidate = Path(path)
    if not candidate.name.endswith(SIDECAR_SUFFIX):
        candidate = sidecar_path(candidate)
    if not candidate.is_file():
        raise MissingFile(f"no provenance sidecar at {candidate}")
    document: dict[str, Any] = json.loads(candidate.read_text())
    return document


class ProvenanceRecorder:
    """Collects what a pipeline did, to save beside its outputs or in a checkpoint store.

    Parameters
    ----------
    pipeline_version
        Your pipeline's version (defaults to the code identity of the working directory).
    config
        The pipeline's configuration (dict or pydantic model); only its hash is kept.
    package_versions, data_source_versions
        Versions you want on record (``{"gnomad": "v4.1"}``).
    """

    def __init__(
        self,
        pipeline_version: str | None = None,
        config: Any = None,
        *,
        package_versions: Mapping[str, str] | None = None,
        data_source_versions: Mapping[str, str] | None = None,
    ) -> None:
        if pipeline_version is None:
            from consist.services.identity.code_identity import git_identity

            pipeline_version = git_identity(Path.cwd())
        self.pipeline_version = pipeline_version
        self.config_hash = canonical.digest(config if config is not None else {})
        self.package_versions = dict(package_versions or {})
        self.data_source_versions = dict(data_source_versions or {})
        self.created_at = utcnow()
        self.steps: list[dict[str, Any]] = []

    def record_step(self, name: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Append a timestamped step; ``details`` must be JSON-serialisable."""
        if not name:
            raise InvalidInput("a provenance step needs a name")
        step = {
            "step": name,
            "at": utcnow().isoformat(),
            "details": canonical.normalize(dict(details or {}), f"steps.{name}"),
        }
        self.steps.append(step)
        return step

    def metadata(self) -> dict[str, Any]:
        return {
            "pipeline_version": self.pipeline_version,
            "package_versions": dict(self.package_versions),
            "data_source_versions": dict(self.data_source_versions),
            "config_hash": self.config_hash,
            "created_at": self.created_at.isoformat(),
            "steps": list(self.steps),
        }

    def save_sidecar(self, output_path: str | os.PathLike[str]) -> Path:
        """Write ``<output>.provenance.json`` next to ``output_path``."""
        return write_sidecar(output_path, self.metadata())

    @staticmethod
    def load_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
        return read_sidecar(path)

    def save_to(self, store: Any, name: str = "provenance") -> None:
        """Save the record as one row in a CheckpointStore (table ``name``)."""
        import pyarrow as pa

        row = {**self.metadata(), "saved_at": dt.datetime.now(dt.UTC).isoformat()}
        flat = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()}
        store.save(pa.Table.from_pylist([flat]), name, description="pipeline provenance")
