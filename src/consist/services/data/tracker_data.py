"""Data virtualization on the Tracker: ingestion, views across runs, matrix views, SQL."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.domain import Artifact, Run
from consist.domain.errors import InvalidInput
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
    from consist.services.runs.remote_objects import RemoteObjects


class DataVirtualization:
    """Mixed into the Tracker: the data side of Consist (rows, views, arrays, SQL)."""

    # Provided by the Tracker this is mixed into.
    catalog: Catalog
    tables: TableStore | None
    blobs: BlobStore | None
    remote: RemoteObjects
    schemas: list[type]
    flush: Callable[[], None]
    get_run: Callable[[str], Run]
    get_artifact: Callable[[str], Artifact]
    resolve_path: Callable[[Artifact], Path]
    artifact_path: Callable[[Artifact], Path]
    find_runs: Callable[..., list[Run]]
    find_artifacts: Callable[..., list[Artifact]]
    catalog_change_token: Callable[[], Hashable | None]

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
        factory: ViewFactory | None = self.__dict__.get("_view_factory")
        if factory is None:
            from consist.services.data.views import ViewFactory

            factory = ViewFactory(self, self.schemas)
            self.__dict__["_view_factory"] = factory
        return factory

    def create_view(self, name: str, key: str | Sequence[str]) -> str:
        """Create (or replace) view ``name`` over every run's artifacts with ``key``.

        Returns the view name, usable in ``run_query``. Raises ``UnsafeIdentifier``
        for a name that is not a plain identifier.
        """
        self._table_store("create_view")
        return self.views.create(name, key)

    def start_view_maintenance(self) -> None:
        """Rebuild views after each completed run (the wiring layer calls this once)."""
        events = getattr(self, "events", None)
        if events is not None and self.tables is not None:
            events.on_run_complete(lambda run, outputs: self.views.after_run(run, outputs))
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

        return run_query(self, statement, params, as_, allow_write=allow_write)  # type: ignore[arg-type]

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
