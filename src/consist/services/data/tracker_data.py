"""Data virtualization: ingestion, views across runs, matrix views, SQL (``tracker.ingest`` ...).

The Tracker builds one ``DataVirtualization`` from the stores and the few run
and artifact lookups it needs (small Protocols below: the data room sits under
the runs room and never imports it), and forwards its public members.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from consist.domain import Artifact, Run, RunQuery
from consist.domain.errors import InvalidInput
from consist.domain.remote import ObjectStat
from consist.ports import (
    BlobStore,
    Catalog,
    SupportsSharedCatalog,
    SupportsSQL,
    SupportsSQLDialect,
    TableStore,
)

if TYPE_CHECKING:
    from consist.services.data.ingestion import Ingestion
    from consist.services.data.matrix import MatrixViewFactory
    from consist.services.data.views import ViewFactory


class RecordedRuns(Protocol):
    """Runs and artifacts the catalog knows (the runs room's queries)."""

    def get_run(self, run_id: str) -> Run: ...

    def get_artifact(self, artifact_id: str) -> Artifact: ...

    def find_runs(self, /, query: RunQuery | None = None, **filters: Any) -> list[Run]: ...

    def find_artifacts(
        self, *, key: str | None = None, uri: str | None = None, content_hash: str | None = None
    ) -> list[Artifact]: ...


class ArtifactFiles(Protocol):
    """Where an artifact's file is here (``artifact_path`` also fetches archived ones)."""

    def resolve_path(self, artifact: Artifact) -> Path: ...

    def artifact_path(self, artifact: Artifact) -> Path: ...


class RemoteReads(Protocol):
    """Objects at URLs, read in place by the views."""

    def stat(self, url: str) -> ObjectStat: ...

    def filesystem(self, url: str) -> tuple[object, str]: ...


# Registers a callback for completed runs: (run, output artifacts) -> None.
OnRunComplete = Callable[[Callable[[Run, list[Artifact]], None]], object]


class DataVirtualization:
    """The data side of Consist: rows, views, arrays, SQL.

    Parameters
    ----------
    catalog, tables, blobs
        The catalog (SQL over runs), the table store (ingested rows and views;
        None disables them) and the blob store (views read archived files in place).
    schemas
        Registered schema classes: one view each.
    runs, files, remote
        Lookups of recorded runs and artifacts, their local files, and objects at URLs.
    flush, change_token
        Wait for pending catalog writes; a token that changes when runs are recorded.
    run_in_progress
        The run being tracked here, if any: rows ingested for its artifacts get
        its year and iteration before the catalog holds it.
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        tables: TableStore | None,
        blobs: BlobStore | None,
        schemas: list[type],
        runs: RecordedRuns,
        files: ArtifactFiles,
        remote: RemoteReads,
        flush: Callable[[], None],
        change_token: Callable[[], Hashable | None],
        run_in_progress: Callable[[], Run | None] = lambda: None,
    ) -> None:
        self.catalog = catalog
        self.tables = tables
        self.blobs = blobs
        self.schemas = schemas  # the tracker's own list
        self.remote = remote
        self.flush = flush
        self.catalog_change_token = change_token
        self.run_in_progress = run_in_progress
        self.get_run = runs.get_run
        self.get_artifact = runs.get_artifact
        self.find_runs = runs.find_runs
        self.find_artifacts = runs.find_artifacts
        self.resolve_path = files.resolve_path
        self.artifact_path = files.artifact_path
        self._views: ViewFactory | None = None

    # ------------------------------------------------------------------ ingestion
    def ingest(
        self, artifact: Artifact | str, data: Any = None, schema: type | None = None
    ) -> Ingestion:
        """Store an artifact's rows in the table store, with ``consist_*`` system columns.

        Parameters
        ----------
        artifact
            The Artifact (or its id). It may belong to the run in progress.
        data
            The rows: a list of dicts, a pandas or polars DataFrame or a pyarrow
            Table. None reads the artifact's own Parquet or CSV file.
        schema
            A pydantic or SQLModel class: every row is validated before anything
            is written (strict mode). Without it, a schema registered with
            ``Tracker(schemas=...)`` for the artifact's key (or ``meta["schema"]``)
            is used; with none, column types are inferred (quick mode).

        Returns
        -------
        Ingestion
            The hot table, row count and columns. Ingesting again replaces the rows.

        Raises
        ------
        SchemaValidationError
            A row does not fit ``schema``; it names the row and field. Nothing is written.
        MissingFile
            ``data`` is None and the artifact's file is gone.
        InvalidInput
            No table store, or ``data`` of a kind that cannot become a table.
        """
        from consist.services.data import ingestion

        store = self._table_store("ingest")
        found = artifact if isinstance(artifact, Artifact) else self.get_artifact(artifact)
        meta_schema = found.meta.get("schema")
        model = schema or self.views.model_for(
            found.key, meta_schema if isinstance(meta_schema, str) else None
        )
        record = ingestion.ingest(self, store, found, data, model)
        self.views.refresh_for(found.key, record.schema)
        return record

    def ingestion_of(self, artifact: Artifact | str) -> Ingestion | None:
        """Where an artifact's rows were ingested, or None if they were not."""
        from consist.services.data.ingestion import ingestions

        if self.tables is None:
            return None
        artifact_id = artifact.id if isinstance(artifact, Artifact) else artifact
        found = ingestions(self.tables, artifact_id)
        return found[0] if found else None

    def read_ingested(self, artifact: Artifact | str, as_: str = "pandas") -> Any:
        """The ingested rows of one artifact, with the columns it was ingested with.

        Raises
        ------
        NotFound
            The artifact was not ingested.
        """
        from consist.domain.errors import NotFound
        from consist.domain.sql_names import (
            quote_identifier,
            validate_view_name,
        )
        from consist.services.data.query import convert

        record = self.ingestion_of(artifact)
        if record is None or self.tables is None:
            raise NotFound(f"artifact {artifact!r} was not ingested; tracker.ingest(...) it first")
        columns = ", ".join(quote_identifier(c) for c in record.columns) or "*"
        table = quote_identifier(validate_view_name(record.table))
        sql = f"SELECT {columns} FROM {table} WHERE consist_artifact_id = ?"
        return convert(self.tables.query(sql, [record.artifact_id]), as_)

    # ------------------------------------------------------------------ views
    @property
    def views(self) -> ViewFactory:
        """Views across runs: ``tracker.views.Person`` for each registered schema."""
        if self._views is None:
            from consist.services.data.views import ViewFactory

            self._views = ViewFactory(self, self.schemas)
        return self._views

    def create_view(self, name: str, key: str | Sequence[str]) -> str:
        """Create (or replace) view ``name`` over every run's artifacts with ``key``.

        Returns the view name, usable in ``run_query``. Raises ``UnsafeIdentifier``
        for a name that is not a plain identifier.
        """
        self._table_store("create_view")
        return self.views.create(name, key)

    def start_view_maintenance(self, on_run_complete: OnRunComplete) -> None:
        """Rebuild views after each completed run (the wiring layer calls this once)."""
        if self.tables is not None:
            on_run_complete(lambda run, outputs: self.views.after_run(run, outputs))
            if self.schemas:
                self.views.refresh()

    @property
    def matrix(self) -> MatrixViewFactory:
        """Zarr/NetCDF outputs of many runs as one lazy xarray Dataset: ``.load(key)``."""
        from consist.services.data.matrix import MatrixViewFactory

        return MatrixViewFactory(self)

    # ------------------------------------------------------------------ SQL
    @property
    def sql_dialect(self) -> str:
        """``sqlite`` for SQLite catalogs, ``postgresql`` (DuckDB-compatible) otherwise."""
        if isinstance(self.catalog, SupportsSQLDialect):
            return self.catalog.sql_dialect
        return "postgresql"

    def sql_target(self, sql: str) -> str:
        """``"tables"`` when ``sql`` must run on the table store, ``"catalog"`` otherwise."""
        store = self.tables
        if store is None:
            return "catalog"
        shared = isinstance(store, SupportsSharedCatalog) and store.shares_catalog
        if shared or not isinstance(self.catalog, SupportsSQL):
            return "tables"
        names = {*self.views.names, *store.tables()}
        words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
        return "tables" if words & {n.lower() for n in names} else "catalog"

    def run_query(
        self,
        statement: Any,
        params: Sequence[Any] | None = None,
        as_: str = "pandas",
        allow_write: bool = False,
    ) -> Any:
        """``consist.run_query`` on this tracker: reads only, unless ``allow_write``."""
        from consist.services.data.query import run_query

        return run_query(self, statement, params, as_, allow_write=allow_write)

    def sql(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run SQL against the catalog tables and the views; rows as a ``pyarrow.Table``.

        With a DuckDB catalog the data tables share its file, so one statement
        can join ``runs`` with a view. With other catalogs a statement naming a
        view or ingested table runs on the table store, any other on the catalog.

        Raises
        ------
        InvalidInput
            If neither the catalog nor a table store can answer SQL.
        """
        self.flush()
        if self.tables is not None:
            self.views.refresh()
            if self.sql_target(sql) == "tables":
                return self.tables.query(sql, params)
        if not isinstance(self.catalog, SupportsSQL):
            raise InvalidInput(
                f"{type(self.catalog).__name__} cannot answer SQL; use a DuckDB or SQLite "
                "catalog (db_path=... or catalog='duckdb:///...')"
            )
        return self.catalog.query_sql(sql, params)

    def _table_store(self, what: str) -> TableStore:
        if self.tables is None:
            raise InvalidInput(
                f"{what} needs a table store; create the tracker with consist.Tracker(...), "
                "which provides one, or pass tables='duckdb:///data.duckdb'"
            )
        return self.tables
