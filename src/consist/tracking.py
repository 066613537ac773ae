"""``consist.Tracker``: the Tracker service plus adapters built from URLs.

This module belongs to the wiring layer: it may use the container, which
the services may not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from consist.config import BlobSettings, CatalogSettings, Settings, TableSettings
from consist.container import container_for
from consist.integrations.containers import run_container_step
from consist.ports import SupportsTableStore
from consist.services.tracker import Tracker as _TrackerService

DEFAULT_RUN_DIR = "runs"
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
        Where each run gets its directory and ``consist.json`` snapshot
        (``./runs`` by default).
    db_path
        Catalog file: DuckDB (the default) or SQLite for ``.sqlite``/``.db``.
        Without ``db_path`` or ``catalog``: ``<run_dir>/provenance.duckdb``.
    catalog
        A catalog URL (``memory://``, ``duckdb:///...``, ``sqlite:///...``) or an
        adapter instance. Overrides ``db_path``.
    blobs
        Blob store URL (``s3://bucket/prefix``, ``file:///dir``, ...) or instance.
    tables
        Table store for ingested rows and views: a URL (``duckdb:///data.duckdb``) or
        an instance. By default a DuckDB catalog keeps them in its own file (opened
        for bursts only; see ``docs/design/data-storage.md``), and any other catalog
        gets an in-memory DuckDB database.
    storage_options
        Passed to fsspec for ``blobs``; never written to snapshots or the catalog.
    archive
        ``"outputs"`` (default), ``"none"`` or a list of output keys: what a
        completed run stores in ``blobs`` (see ``docs/blob-storage.md``).
    **options
        ``mounts``, ``schemas``, ``hashing_strategy``, ``code_identity`` and the rest
        of :class:`consist.services.tracker.Tracker`.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str] = DEFAULT_RUN_DIR,
        db_path: str | os.PathLike[str] | None = None,
        mounts: Mapping[str, str | os.PathLike[str]] | None = None,
        schemas: Sequence[type] | None = None,
        catalog: Any = None,
        blobs: Any = None,
        tables: Any = None,
        storage_options: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        catalog_url = self._catalog_url(run_dir, db_path, catalog)
        settings = Settings(
            catalog=CatalogSettings(url=catalog_url),
            blobs=BlobSettings(
                url=blobs if isinstance(blobs, str) else None,
                storage_options=dict(storage_options or {}),
                progress=options.get("progress"),
            ),
            tables=_table_settings(tables, catalog if _is_instance(catalog) else catalog_url),
        )
        container = container_for(settings)
        catalog_built = catalog if _is_instance(catalog) else container.catalog()
        super().__init__(
            run_dir,
            catalog=catalog_built,
            blobs=blobs if _is_instance(blobs) else container.blobs(),
            tables=tables
            if _is_instance(tables)
            else self._default_tables(catalog_built, container),
            mounts=mounts,
            schemas=schemas,
            **options,
        )
        self.step_executors["container"] = run_container_step
        self.start_view_maintenance()

    @staticmethod
    def _default_tables(catalog: Any, container: Any) -> Any:
        """Data tables in the catalog's own database when it can hold them (one
        connection per file), else the configured store."""
        settings_share = container.config.tables.shares_catalog()
        if settings_share and isinstance(catalog, SupportsTableStore):
            return catalog.table_store()
        return container.tables()

    @staticmethod
    def _catalog_url(run_dir: Any, db_path: Any, catalog: Any) -> str:
        if isinstance(catalog, str):
            return catalog
        if catalog is not None:
            return "memory://"  # unused: the instance is taken as is
        if db_path is not None:
            return catalog_url_for(db_path)
        return catalog_url_for(Path(run_dir) / DEFAULT_DB_NAME)


def _table_settings(tables: Any, catalog: Any) -> TableSettings:
    """Where ingested rows go: as asked, else beside a DuckDB catalog's runs, else in memory."""
    if isinstance(tables, str | os.PathLike):
        url = os.fspath(tables)
        return TableSettings(url=url, shares_catalog=_file_of(url) == _file_of(catalog))
    if tables is not None:
        return TableSettings()  # an instance, taken as is
    file = _file_of(catalog)
    if file is None:
        return TableSettings(url="duckdb://:memory:")
    return TableSettings(url=f"duckdb://{file}", shares_catalog=True)


def _file_of(catalog: Any) -> str | None:
    """The DuckDB file of a catalog URL or instance, or None (memory, SQLite, others)."""
    url = catalog if isinstance(catalog, str) else getattr(catalog, "url", None)
    if not isinstance(url, str) or not url.startswith("duckdb://"):
        return None
    rest = url[len("duckdb://") :].partition("?")[0]
    if rest in ("", ":memory:", "/:memory:"):
        return None
    return os.path.abspath(os.path.expanduser(rest))


def _is_instance(value: Any) -> bool:
    return value is not None and not isinstance(value, (str, os.PathLike))
