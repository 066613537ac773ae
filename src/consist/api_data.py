"""Module-level data functions: ingest, load_df with database fallback, schema export.

Like ``consist.api``, each takes ``tracker=`` or uses the active tracker.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from consist.domain import Artifact
from consist.domain.errors import InvalidInput, MissingFile
from consist.services.current import current_tracker, tracker_for
from consist.services.data.frames import requested_kind
from consist.services.steps import loaders
from consist.services.tracker import Tracker

__all__ = ["DB_FALLBACK", "export_schema", "ingest", "load_df"]

logger = logging.getLogger("consist.load")
DB_FALLBACK = ("never", "if_missing", "always")
_TABULAR = ("parquet", "csv", "json", "feather")


def ingest(
    artifact: Artifact | str,
    data: Any = None,
    *,
    schema: type | None = None,
    tracker: Tracker | None = None,
) -> Any:
    """Ingest an artifact's rows into the tracker's table store (see ``Tracker.ingest``)."""
    return tracker_for(artifact, tracker, "consist.ingest").ingest(artifact, data, schema)


def load_df(
    artifact: Artifact | str,
    *,
    db_fallback: str = "if_missing",
    tracker: Tracker | None = None,
    as_: Any = None,
    **options: Any,
) -> Any:
    """A tabular artifact as a DataFrame, from its file or from its ingested rows.

    Parameters
    ----------
    artifact
        The Artifact, or its id.
    db_fallback
        ``"never"``: read the file only. ``"if_missing"`` (default): read the
        file, or the ingested rows when the file is gone (Ghost Mode).
        ``"always"``: read the ingested rows when there are any, else the file.
    tracker
        The tracker to use; the active one by default.
    as_
        ``"pandas"``, ``"arrow"`` or ``"polars"`` (or one of their classes). By
        default a file comes back as the kind it was written from (pandas for
        files Consist did not write), and rows from the database as pandas.
    **options
        Passed to the file reader (``pandas.read_parquet`` and the like).

    Raises
    ------
    MissingFile
        The file is gone and the rows cannot come from the database; the
        message names the artifact, its run and the remedies.
    InvalidInput
        An unknown ``db_fallback``, or an artifact that is not tabular.
    """
    if db_fallback not in DB_FALLBACK:
        raise InvalidInput(f"db_fallback must be one of {DB_FALLBACK}, not {db_fallback!r}")
    kind = requested_kind(as_)
    owner = tracker_for(artifact, tracker, "consist.load_df")
    found = owner.resolve_artifact(artifact)
    if found.driver not in _TABULAR:
        raise InvalidInput(
            f"artifact {found.key!r} has driver {found.driver!r}, not a table; "
            "use consist.load(artifact) for arrays and other files"
        )
    ingested = owner.ingestion_of(found) if db_fallback != "never" else None
    if db_fallback == "always" and ingested is not None:
        return owner.read_ingested(found, kind or "pandas")
    path = _existing_file(owner, found)
    if path is not None:
        return loaders.read(path, found.driver, as_=kind, **options)
    if ingested is not None:
        logger.info("file of %r is gone; reading its ingested rows", found.key)
        return owner.read_ingested(found, kind or "pandas")
    raise MissingFile(_missing_message(found, db_fallback, ingested is not None))


def _existing_file(owner: Tracker, artifact: Artifact) -> Path | None:
    try:
        return owner.artifact_path(artifact)
    except (MissingFile, InvalidInput):
        return None


def _missing_message(artifact: Artifact, db_fallback: str, ingested: bool) -> str:
    where = f"artifact {artifact.key!r} ({artifact.uri}, id {artifact.id})"
    remedies = []
    if artifact.producer_run_id:
        remedies.append(
            f"re-run the step that produced it (run {artifact.producer_run_id!r}) with "
            "validate_cached_outputs='strict' to regenerate the file"
        )
    if db_fallback == "never":
        remedies.append("pass db_fallback='if_missing' to read ingested rows instead")
    elif not ingested:
        remedies.append("ingest outputs while their files exist (tracker.ingest) to allow this")
    remedies.append("restore the file from the blob store or a backup")
    reason = "db_fallback='never'" if db_fallback == "never" else "it has no ingested rows"
    return f"the file of {where} is gone and {reason}; " + "; ".join(remedies)


def export_schema(
    key: str,
    *,
    tracker: Tracker | None = None,
    path: str | os.PathLike[str] | None = None,
    sqlmodel: bool = False,
) -> str:
    """Python source of an editable pydantic (or SQLModel) class for ``key``'s columns.

    Parameters
    ----------
    key
        An artifact key that was ingested, profiled (``profile_file_schema=True``)
        or whose Parquet/CSV file still exists.
    tracker
        The tracker to use; the active one by default.
    path
        Also write the source to this file.
    sqlmodel
        A ``SQLModel`` class (``table=True`` when an id-like column suggests a
        primary key) instead of a pydantic ``BaseModel``.

    Returns
    -------
    str
        The module source. Awkward column names get identifiers with the
        original name as alias.

    Raises
    ------
    NotFound
        Nothing is known about the key's columns.
    """
    from consist.services.data.schema_export import export_schema as _export

    owner = current_tracker(tracker, "consist.export_schema")
    return _export(owner.data, key, None if path is None else Path(path), sqlmodel)
