"""The Catalog port: an index of runs, artifacts and links, rebuildable from snapshots."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from consist.domain import Artifact, Run, RunArtifactLink, RunQuery, RunRecord
from consist.ports.tables import TableStore


class Catalog(Protocol):
    """Remembers runs and their artifacts. Knows nothing about bytes.

    Every adapter raises :class:`~consist.domain.errors.CatalogError` (or a
    subclass: ``CatalogLocked``, ``CatalogCorrupt``) for storage trouble; vendor
    exceptions never leave an adapter.
    """

    def record(self, record: RunRecord) -> None:
        """Store a run with its artifacts and links, replacing any earlier version of it.

        Idempotent: recording the same record twice leaves one copy. Artifacts
        are upserted by id; the run's links are replaced by the record's.
        """
        ...

    def get_record(self, run_id: str) -> RunRecord:
        """The run with every artifact it links to. Raises ``RunNotFound``."""
        ...

    def get_run(self, run_id: str) -> Run:
        """Raises ``RunNotFound`` for an unknown id (never returns None)."""
        ...

    def find_runs(self, query: RunQuery) -> list[Run]:
        """Runs matching every set field of ``query``, newest first (``created_at``, then id)."""
        ...

    def find_by_signature(self, signature: str) -> Run | None:
        """The newest *completed* run with this signature digest, or None.

        Failed and running runs never match: they must not serve a cache hit.
        """
        ...

    def get_artifact(self, artifact_id: str) -> Artifact:
        """Raises ``ArtifactNotFound``."""
        ...

    def find_artifacts(
        self,
        *,
        uri: str | None = None,
        content_hash: str | None = None,
        key: str | None = None,
    ) -> list[Artifact]:
        """Artifacts matching every given field, newest first. No filter: all artifacts."""
        ...

    def links_of_artifact(self, artifact_id: str) -> list[RunArtifactLink]:
        """Every link (input and output) that names this artifact."""
        ...

    def run_ids(self) -> set[str]:
        """Ids of every run indexed; used to find snapshots the catalog lacks."""
        ...

    def close(self) -> None:
        """Release connections and file handles. Safe to call twice."""
        ...


@runtime_checkable
class SupportsBulkRecord(Protocol):
    """A catalog that stores many records in one transaction (the background writer's batches)."""

    def record_many(self, records: Iterable[RunRecord]) -> None:
        """Like ``record`` for each, all or nothing. Raises ``CatalogLocked`` when busy."""
        ...


@runtime_checkable
class SupportsSQL(Protocol):
    """A catalog that answers SQL over its tables (runs, artifacts, links, facets).

    SQLAlchemy statements are compiled for the dialect the catalog names
    (:class:`SupportsSQLDialect`); ``"postgresql"``, which DuckDB reads, is assumed otherwise.
    """

    def query_sql(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Rows as a ``pyarrow.Table``. Raises ``CatalogError`` for a bad statement."""
        ...


@runtime_checkable
class SupportsSQLDialect(Protocol):
    """A catalog whose SQL is that of a SQLAlchemy dialect other than PostgreSQL's."""

    @property
    def sql_dialect(self) -> str:
        """The SQLAlchemy dialect name (``"sqlite"``)."""
        ...


@runtime_checkable
class SupportsEphemeral(Protocol):
    """A catalog that can say it forgets everything when the process ends."""

    @property
    def ephemeral(self) -> bool:
        """True when nothing it holds outlives the process: there is nothing to recover."""
        ...


@runtime_checkable
class SupportsFilePath(Protocol):
    """A catalog kept in one database file."""

    @property
    def path(self) -> str:
        """The file's path; ``":memory:"`` for a database held in memory."""
        ...


@runtime_checkable
class SupportsURL(Protocol):
    """An adapter built from a URL, which it keeps (a catalog, a blob store)."""

    @property
    def url(self) -> str: ...


@runtime_checkable
class SupportsVacuum(Protocol):
    def vacuum(self) -> None:
        """Reclaim space left by deleted or replaced rows."""
        ...


@runtime_checkable
class SupportsIntegrityCheck(Protocol):
    def check(self) -> list[str]:
        """Problems found in the stored catalog (empty when healthy)."""
        ...


@runtime_checkable
class SupportsTableStore(Protocol):
    """A catalog whose own database can also hold ingested rows (DuckDB).

    The returned TableStore shares the catalog's connection, so catalog tables
    and data views answer one SQL statement together.
    """

    def table_store(self) -> TableStore: ...


@runtime_checkable
class SupportsRunExists(Protocol):
    """A catalog that can tell whether a run id is taken more cheaply than ``get_run``."""

    def has_run(self, run_id: str) -> bool: ...


@runtime_checkable
class SupportsChangeToken(Protocol):
    """A store that can say cheaply whether anything was written since an earlier look.

    Catalogs and table stores both may offer it; views use it to skip their
    rebuild check. A store that cannot tell for sure does not implement it.
    """

    def change_token(self) -> Hashable:
        """A value that compares equal to an earlier one only if no write, by this
        process or another, can have been committed in between."""
        ...


@runtime_checkable
class SupportsSignatureLookup(Protocol):
    """A catalog that checks many signatures in one query (a sweep's cache decisions)."""

    def completed_signatures(self, signatures: Collection[str]) -> set[str]:
        """Those of ``signatures`` that some completed run has."""
        ...
