"""``consist.Tracker``: the Tracker service plus adapters built from URLs.

This module belongs to the wiring layer: it may use the container, which
the services may not.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from consist.config import BlobSettings, CatalogSettings, Settings, TableSettings
from consist.container import container_for, in_process_parts
from consist.domain.errors import CatalogCorrupt, InvalidURI
from consist.integrations.containers import run_container_step
from consist.integrations.openlineage import DEFAULT_NAMESPACE, OpenLineageEmitter, lookup_in
from consist.ports import SupportsTableStore
from consist.services.runs.events import EventHooks
from consist.services.store.catalog_recovery import set_aside
from consist.services.tracker import Tracker as _TrackerService

DEFAULT_RUN_DIR = "runs"
logger = logging.getLogger("consist.catalog")
DEFAULT_DB_NAME = "provenance.duckdb"
# Beside a SQLite catalog, the DuckDB file that holds its ingested rows and views.
DATA_FILE_SUFFIX = ".data.duckdb"
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def catalog_url_for(db_path: str | os.PathLike[str]) -> str:
    """``sqlite:///...`` for .sqlite/.sqlite3 files, ``duckdb:///...`` otherwise.

    A ``.db`` file is DuckDB, the embedded default; an existing SQLite database
    with that suffix is refused rather than guessed, since the two engines
    cannot read each other's files (see docs/catalogs.md).

    Raises
    ------
    InvalidURI
        If ``db_path`` ends in ``.db`` and holds a SQLite database.
    """
    path = Path(os.path.abspath(os.fspath(db_path)))
    if path.suffix.lower() in _SQLITE_SUFFIXES:
        return f"sqlite://{path.as_posix()}"
    if path.suffix.lower() == ".db" and _is_sqlite_file(path):
        raise InvalidURI(
            f"db_path {str(path)!r} is a SQLite database, but a .db path means DuckDB; "
            f"pass catalog='sqlite://{path.as_posix()}' to use it as a SQLite catalog"
        )
    return f"duckdb://{path.as_posix()}"


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:  # absent or unreadable: DuckDB creates it or reports the problem
        return False


class Tracker(_TrackerService):
    """Records runs and artifacts; decides cache hits; answers queries.

    Parameters
    ----------
    run_dir
        Where each run gets its directory and ``consist.json`` snapshot
        (``./runs`` by default).
    db_path
        Catalog file: SQLite for ``.sqlite``/``.sqlite3``, DuckDB otherwise (``.db``
        included; an existing SQLite ``.db`` file is refused with ``InvalidURI``).
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
        gets a DuckDB file of its own: ``<name>.data.duckdb`` beside a SQLite
        file, else ``<run_dir>/consist-data.duckdb``. Only an in-memory catalog
        (``memory://``, ``...://:memory:``) gets an in-memory table store.
    storage_options
        Passed to fsspec for ``blobs`` and for artifacts at URLs of the same scheme
        (of any scheme when ``blobs`` is not remote); never written to snapshots or
        the catalog.
    archive
        ``"outputs"`` (default), ``"none"`` or a list of output keys: what a
        completed run stores in ``blobs`` (see ``docs/blob-storage.md``).
    openlineage
        An http(s) URL (Marquez: ``http://localhost:5000``) or a callable: every
        recorded run emits OpenLineage START and COMPLETE/FAIL events there
        (see ``docs/openlineage.md``). A failure to emit is a warning, never an error.
    openlineage_namespace
        The OpenLineage job namespace, your project's name (``"consist"`` by default).
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
        openlineage: Any = None,
        openlineage_namespace: str = DEFAULT_NAMESPACE,
        **options: Any,
    ) -> None:
        events = EventHooks()
        emitter = None
        if openlineage is not None:  # checked before anything is opened
            emitter = OpenLineageEmitter(
                openlineage, openlineage_namespace, lookup_in(lambda run_id: self.get_run(run_id))
            ).attach(events)  # before opening: it hears the runs marked interrupted then
        catalog_url = self._catalog_url(run_dir, db_path, catalog)
        settings = Settings(
            catalog=CatalogSettings(url=catalog_url),
            blobs=BlobSettings(
                url=blobs if isinstance(blobs, str) else None,
                storage_options=dict(storage_options or {}),
                progress=options.get("progress"),
            ),
            tables=_table_settings(
                tables, catalog if _is_instance(catalog) else catalog_url, run_dir
            ),
        )
        container = container_for(settings)
        catalog_built = catalog if _is_instance(catalog) else _open_catalog(container, catalog_url)
        super().__init__(
            run_dir,
            catalog=catalog_built,
            blobs=blobs if _is_instance(blobs) else container.blobs(),
            tables=tables
            if _is_instance(tables)
            else self._default_tables(catalog_built, container),
            mounts=mounts,
            schemas=schemas,
            remote_files=container.remote,
            events=events,
            **in_process_parts(),
            **options,
        )
        self.step_executors["container"] = run_container_step
        self.openlineage = emitter
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


def _table_settings(tables: Any, catalog: Any, run_dir: Any) -> TableSettings:
    """Where ingested rows go: as asked, else beside a DuckDB catalog's runs, else in a
    DuckDB file of their own; in memory only when the catalog itself is."""
    if isinstance(tables, str | os.PathLike):
        url = os.fspath(tables)
        return TableSettings(url=url, shares_catalog=_file_of(url) == _file_of(catalog))
    if tables is not None:
        return TableSettings()  # an instance, taken as is
    file = _file_of(catalog)
    if file is not None:
        return TableSettings(url=f"duckdb://{file}", shares_catalog=True)
    url = catalog if isinstance(catalog, str) else getattr(catalog, "url", None)
    if isinstance(url, str) and (url.startswith("memory:") or ":memory:" in url):
        return TableSettings(url="duckdb://:memory:")
    data_file = data_file_beside(url) or Path(os.path.abspath(run_dir)) / "consist-data.duckdb"
    return TableSettings(url=f"duckdb://{data_file.as_posix()}")


def data_file_beside(url: Any) -> Path | None:
    """``/x/prov.data.duckdb`` for ``sqlite:///x/prov.sqlite``; None for a URL naming no file."""
    if not isinstance(url, str) or not url.startswith("sqlite://"):
        return None
    rest = url[len("sqlite://") :].partition("?")[0]
    if not rest:
        return None
    path = Path(os.path.abspath(os.path.expanduser(rest)))
    return path.with_name(path.stem + DATA_FILE_SUFFIX)


def _file_of(catalog: Any) -> str | None:
    """The DuckDB file of a catalog URL or instance, or None (memory, SQLite, others)."""
    url = catalog if isinstance(catalog, str) else getattr(catalog, "url", None)
    if not isinstance(url, str) or not url.startswith("duckdb://"):
        return None
    rest = url[len("duckdb://") :].partition("?")[0]
    if rest in ("", ":memory:", "/:memory:"):
        return None
    return os.path.abspath(os.path.expanduser(rest))


def _open_catalog(container: Any, url: str) -> Any:
    """The catalog adapter; a file that is not a database is set aside for a new one.

    The new catalog is then rebuilt from the run snapshots when the Tracker opens.
    """
    try:
        return container.catalog()
    except CatalogCorrupt as exc:
        file = _catalog_file(url)
        if file is None or not file.is_file():
            raise
        kept = set_aside(file, "unreadable")
        logger.warning("the catalog %s cannot be read (%s); moved it to %s", file, exc, kept)
        return container.catalog()


def _catalog_file(url: str) -> Path | None:
    scheme, _, rest = url.partition("://")
    rest = rest.partition("?")[0]
    if scheme not in ("duckdb", "sqlite") or rest in ("", ":memory:", "/:memory:"):
        return None
    return Path(os.path.abspath(os.path.expanduser(rest)))


def _is_instance(value: Any) -> bool:
    return value is not None and not isinstance(value, (str, os.PathLike))
