"""``consist.Tracker``: the Tracker service plus adapters built from URLs.

This module belongs to the wiring layer: it may use the container, which
the services may not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from consist.config import BlobSettings, CatalogSettings, Settings
from consist.container import container_for
from consist.services.tracker import Tracker as _TrackerService

DEFAULT_DB_NAME = "provenance.duckdb"
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def catalog_url_for(db_path: str | os.PathLike[str]) -> str:
    """``sqlite:///...`` for .sqlite/.sqlite3/.db files, ``duckdb:///...`` otherwise."""
    path = Path(os.path.abspath(os.fspath(db_path)))
    scheme = "sqlite" if path.suffix.lower() in _SQLITE_SUFFIXES else "duckdb"
    return f"{scheme}://{path.as_posix()}"


class Tracker(_TrackerService):
    """Records runs and artifacts; decides cache hits; answers queries.

    Parameters
    ----------
    run_dir
        Where each run gets its directory and ``consist.json`` snapshot.
    db_path
        Catalog file: DuckDB (the default) or SQLite for ``.sqlite``/``.db``.
        Without ``db_path`` or ``catalog``: ``<run_dir>/provenance.duckdb``.
    catalog
        A catalog URL (``memory://``, ``duckdb:///...``, ``sqlite:///...``) or an
        adapter instance. Overrides ``db_path``.
    blobs
        Blob store URL (``s3://bucket/prefix``, ``file:///dir``, ...) or instance.
    storage_options
        Passed to fsspec for ``blobs``; never written to snapshots or the catalog.
    **options
        ``mounts``, ``schemas``, ``hashing_strategy``, ``code_identity`` and the rest
        of :class:`consist.services.tracker.Tracker`.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        db_path: str | os.PathLike[str] | None = None,
        mounts: Mapping[str, str | os.PathLike[str]] | None = None,
        schemas: Sequence[type] | None = None,
        catalog: Any = None,
        blobs: Any = None,
        tables: Any = None,
        storage_options: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        settings = Settings(
            catalog=CatalogSettings(url=self._catalog_url(run_dir, db_path, catalog)),
            blobs=BlobSettings(
                url=blobs if isinstance(blobs, str) else None,
                storage_options=dict(storage_options or {}),
            ),
        )
        container = container_for(settings)
        super().__init__(
            run_dir,
            catalog=catalog if _is_instance(catalog) else container.catalog(),
            blobs=blobs if _is_instance(blobs) else container.blobs(),
            tables=tables,
            mounts=mounts,
            schemas=schemas,
            **options,
        )

    @staticmethod
    def _catalog_url(run_dir: Any, db_path: Any, catalog: Any) -> str:
        if isinstance(catalog, str):
            return catalog
        if catalog is not None:
            return "memory://"  # unused: the instance is taken as is
        if db_path is not None:
            return catalog_url_for(db_path)
        return catalog_url_for(Path(run_dir) / DEFAULT_DB_NAME)


def _is_instance(value: Any) -> bool:
    return value is not None and not isinstance(value, (str, os.PathLike))
