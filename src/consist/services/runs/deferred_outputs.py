"""Outputs logged before their file exists, completed when the run ends.

``tracker.log_artifact("outputs.csv", key="persons")`` may name a file the run
has not written yet, or one it never writes because its rows go straight to the
database (``tracker.ingest(artifact=..., data=rows)``). When the run ends, each
such output gets its content hash: from the file if it exists by then, else
from the ingested rows (``rows:<sha256>``); with neither, the run fails.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from consist.domain import Artifact
from consist.domain.errors import MissingOutputFile
from consist.services.runs.artifact_logging import size_of

if TYPE_CHECKING:
    from consist.services.identity.hashing import FileHasher
    from consist.services.runs.active_run import ActiveRun

ROWS_PREFIX = "rows:"


class IngestedRows(Protocol):
    """Where an artifact's rows were ingested, and those rows (the data service)."""

    def ingestion_of(self, artifact: Artifact | str) -> Any: ...

    def read_ingested(self, artifact: Artifact | str, as_: str = "pandas") -> Any: ...


def settle(hasher: FileHasher, rows: IngestedRows, active: ActiveRun) -> None:
    """Give every deferred output of ``active`` its content hash.

    Raises
    ------
    MissingOutputFile
        An output has neither a file nor ingested rows; the message names it.
    """
    for artifact_id, path in list(active.deferred_outputs.items()):
        artifact = active.artifact(artifact_id)
        if artifact is None:  # replaced by another artifact under the same key
            del active.deferred_outputs[artifact_id]
            continue
        if path.exists():
            settled = attrs.evolve(artifact, content_hash=hasher.identity(path), size=size_of(path))
        elif rows.ingestion_of(artifact) is not None:
            settled = attrs.evolve(artifact, content_hash=rows_identity(rows, artifact))
        else:
            raise MissingOutputFile(
                f"output {artifact.key!r} of run {active.id!r} was logged as {path}, which "
                "does not exist, and no rows were ingested for it; write the file before "
                "the run ends or pass its rows to tracker.ingest(artifact=..., data=...)"
            )
        active.replace(settled)
        del active.deferred_outputs[artifact_id]


def rows_identity(rows: IngestedRows, artifact: Artifact) -> str:
    """``rows:`` + SHA-256 of the ingested rows as an Arrow IPC stream."""
    import pyarrow as pa

    table = rows.read_ingested(artifact, "arrow")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return ROWS_PREFIX + hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
