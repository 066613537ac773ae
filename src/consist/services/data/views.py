"""Views across runs: ``tracker.views.Person`` and ``tracker.create_view(name, key)``.

A view unions the ingested (hot) rows of its artifacts with the files of the
others, read in place (cold); see ``hybrid_views``. Its SQL is a snapshot of
the catalog, so it is rebuilt when asked for, before ``run_query``, after an
ingest and after a run completes; rebuilding skips ``CREATE VIEW`` when the
SQL has not changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import Artifact, Run, RunQuery, RunStatus
from consist.domain.checks import check_not_reserved, check_text
from consist.domain.digests import file_blob_digest
from consist.domain.errors import ConsistError, InvalidInput, NotFound
from consist.domain.remote import is_remote
from consist.domain.sql_names import (
    quote_identifier,
    quote_literal,
    table_name_for_key,
    validate_view_name,
)
from consist.ports import (
    SupportsChangeToken,
    SupportsFsspecFiles,
    SupportsInPlaceReads,
    SupportsSQL,
    TableStore,
)
from consist.services.data.file_footers import FileFooters, FileSignature, signature_of
from consist.services.data.hybrid_views import (
    DRIVERS,
    ColdFile,
    hybrid_view_sql,
)
from consist.services.data.ingestion import Ingestion, ingestions, schema_key
from consist.services.data.view_types import mapped_class, typed_columns

if TYPE_CHECKING:
    from consist.services.data.tracker_data import DataVirtualization

__all__ = ["ViewFactory", "ViewSpec"]

logger = logging.getLogger("consist.views")


@attrs.frozen
class ViewSpec:
    """What a view holds: artifacts with one of ``keys``, or whose meta names ``schema``."""

    name: str
    keys: frozenset[str]
    schema: str | None = None
    model: type[Any] | None = attrs.field(default=None, eq=False)

    def matches(self, key: str, schema: str | None) -> bool:
        return key in self.keys or (self.schema is not None and schema == self.schema)


class ViewFactory:
    """``tracker.views``: one view per registered schema, plus ad-hoc views.

    ``tracker.views.Person`` rebuilds the view and returns a SQLAlchemy-mapped
    class whose attributes are the view's columns (the schema's and the
    ``consist_*`` system columns), ready for ``select(...)``.
    """

    def __init__(self, dv: DataVirtualization, schemas: Iterable[type[Any]] = ()) -> None:
        self._dv = dv
        self._specs: dict[str, ViewSpec] = {}
        self._by_attribute: dict[str, str] = {}
        self._built: dict[str, str] = {}
        # What the catalog looked like when every view was last built, and the
        # files those views read: unchanged, a refresh has nothing to do.
        self._built_token: Hashable | None = None
        self._built_fingerprint: tuple[Any, ...] | None = None
        # Local files the views read, with their signatures then (URLs: None).
        self._cold_files: dict[str, FileSignature | None] = {}
        self._footers = FileFooters()
        self._registered: dict[str, Any] = {}  # fsspec filesystems given to DuckDB, by protocol
        self._classes: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._lock = threading.RLock()
        for model in schemas:
            self.register(model)

    # -- registration ------------------------------------------------------------

    def register(self, model: type[Any]) -> str:
        """Register a pydantic or SQLModel class; returns its SQL view name (``v_<key>``)."""
        if not hasattr(model, "model_fields"):
            raise InvalidInput(
                f"schemas take pydantic or SQLModel classes, not {model!r}; "
                "declare the columns as a pydantic BaseModel"
            )
        key = schema_key(model)
        name = "v_" + table_name_for_key(key)
        spec = ViewSpec(name, frozenset({key, model.__name__.lower()}), model.__name__, model)
        with self._lock:
            self._specs[name] = spec
            self._by_attribute[model.__name__] = name
        return name

    def create(self, name: str, keys: str | Sequence[str]) -> str:
        """An ad-hoc view ``name`` over the artifacts with ``keys`` (one key or several)."""
        validate_view_name(name)
        check_not_reserved(name, "view name")
        if isinstance(keys, str):
            keys = [keys]
        elif not isinstance(keys, Iterable) or isinstance(keys, bytes):
            raise InvalidInput(f"view {name!r}: keys must be a str or a list of str")
        wanted = frozenset(check_text(k, f"view {name!r}: artifact key") for k in keys)
        if not wanted:
            raise InvalidInput(f"view {name!r} needs at least one artifact key")
        with self._lock:
            previous = self._specs.get(name)
            had_attribute = name in self._by_attribute
            self._specs[name] = ViewSpec(name, wanted)
            self._by_attribute.setdefault(name, name)
            try:
                self.refresh([name], strict=True)
            except BaseException:
                # Leave nothing behind: a broken spec would be rebuilt, and fail,
                # before every later query.
                if previous is None:
                    self._specs.pop(name, None)
                    if not had_attribute:
                        self._by_attribute.pop(name, None)
                else:
                    self._specs[name] = previous
                self._built_token = self._built_fingerprint = None
                raise
        return name

    def model_for(self, key: str, schema: str | None) -> type[Any] | None:
        """The registered schema an artifact with this key (or meta schema) belongs to."""
        for spec in self._specs.values():
            if spec.model is not None and spec.matches(key, schema):
                return spec.model
        return None

    @property
    def names(self) -> list[str]:
        """SQL names of every view known to this tracker."""
        return sorted(self._specs)

    def sql_name(self, name: str) -> str:
        """The SQL view name for an attribute name (``Person`` -> ``v_person``)."""
        found = self._by_attribute.get(name) or (name if name in self._specs else None)
        if found is None:
            known = ", ".join(sorted(self._by_attribute)) or "none"
            raise NotFound(
                f"no view {name!r} on this tracker (known: {known}); register its schema "
                "with Tracker(schemas=[...]) or call tracker.create_view(name, key)"
            )
        return found

    # -- building ---------------------------------------------------------------

    def refresh(self, names: Iterable[str] | None = None, *, strict: bool = False) -> list[str]:
        """Rebuild views (all by default) from the catalog; returns the names rebuilt.

        A view that cannot be built (a file gone bad, a column that no longer
        fits) is logged and left as it was, so one broken view never blocks a
        query of the others; ``strict=True`` raises instead.
        """
        store = self._dv.tables
        if store is None or not self._specs:
            return []
        with self._lock:
            wanted = [self._specs[n] for n in (names or self._specs) if n in self._specs]
            if not wanted:
                return []
            everything = len(wanted) == len(self._specs)
            if everything and self._unchanged(store):
                return []
            # Read before the catalog is: a write landing in between makes the
            # next refresh look again, never skip a change.
            token = self._change_token(store) if everything else None
            fingerprint = self._fingerprint(store) if everything else None
            state = _CatalogState.read(self._dv, store, wanted)
            rebuilt = []
            failed = False
            for spec in wanted:
                try:
                    sql = self._sql_of(spec, state)
                    if self._built.get(spec.name) != sql:
                        store.create_view(spec.name, sql)
                        self._built[spec.name] = sql
                        rebuilt.append(spec.name)
                except ConsistError as exc:
                    if strict:
                        raise
                    failed = True
                    logger.warning("view %r could not be rebuilt: %s", spec.name, exc)
            if failed:
                self._built_token = self._built_fingerprint = None
            elif everything:
                self._built_token, self._built_fingerprint = token, fingerprint
                self._cold_files = {c.path: state.signatures.get(c.path) for c in state.cold_files}
                self._footers.forget_except(set(self._cold_files))
            else:  # some views are newer than what was recorded
                self._built_token = self._built_fingerprint = None
            return rebuilt

    def _unchanged(self, store: TableStore) -> bool:
        """Whether nothing a view reads can have changed since every view was built.

        First the stores' change tokens (no query at all), then a small catalog
        query; the catalog is read in full only when both say "maybe".
        """
        # Archived blobs (URLs) are immutable; local files can vanish or be replaced.
        if not all(
            signature_of(path) == signature
            for path, signature in self._cold_files.items()
            if signature is not None
        ):
            return False
        token = self._change_token(store)
        if token is not None and token == self._built_token:
            return True
        fingerprint = self._fingerprint(store)
        if fingerprint is not None and fingerprint == self._built_fingerprint:
            self._built_token = token  # read before the fingerprint, so still safe
            return True
        return False

    def _change_token(self, store: TableStore) -> Hashable | None:
        catalog_token = self._dv.catalog_change_token()
        if catalog_token is None or not isinstance(store, SupportsChangeToken):
            return None
        return (catalog_token, store.change_token())

    def _fingerprint(self, store: TableStore) -> tuple[Any, ...] | None:
        """Counts and latest times of runs and artifacts, and the number of ingested
        artifacts: they change whenever a view could. None when the catalog
        cannot answer SQL."""
        catalog = self._dv.catalog
        if not isinstance(catalog, SupportsSQL):
            return None
        try:
            runs = catalog.query_sql(
                "SELECT count(*) AS n, max(created_at) AS started, max(ended_at) AS ended, "
                "(SELECT count(*) FROM artifacts) AS artifacts FROM runs"
            ).to_pylist()
            registry = ingestions(store)
        except ConsistError:
            return None
        return (tuple(runs[0].values()) if runs else (), len(registry))

    def refresh_for(self, key: str, schema: str | None) -> None:
        """Rebuild the views that an artifact with this key or schema belongs to."""
        self.refresh([s.name for s in self._specs.values() if s.matches(key, schema)])

    def after_run(self, run: Run, outputs: list[Artifact]) -> None:
        """Event hook: rebuild the views the run's outputs belong to."""
        names = {
            s.name
            for a in outputs
            for s in self._specs.values()
            if s.matches(a.key, _schema_of(a)) and s.name in self._built
        }
        if names:
            self.refresh(sorted(names))

    def _sql_of(self, spec: ViewSpec, state: _CatalogState) -> str:
        failed = state.failed_runs
        hot = [
            i
            for i in state.ingested
            if spec.matches(i.key, i.schema) and i.run_id not in failed and i.table != ""
        ]
        hot_ids = {i.artifact_id for i in hot}
        parts = [_hot_select(table, ids, state) for table, ids in _by_table(hot).items()]
        cold = []
        for artifact in state.artifacts:
            if artifact.id in hot_ids or artifact.driver not in DRIVERS:
                continue
            if not spec.matches(artifact.key, _schema_of(artifact)):
                continue
            run = state.runs.get(artifact.producer_run_id or "")
            if run is None or run.status is RunStatus.FAILED:
                continue
            path = self._existing_path(artifact)
            if path is None:
                continue
            signature = signature_of(path) if "://" not in path else None
            schema = None
            if signature is not None:
                state.signatures[path] = signature
                if artifact.driver == "parquet":
                    schema = self._footers.schema(path, signature)
            cold.append(
                ColdFile(
                    artifact.id,
                    path,
                    artifact.driver,
                    run.id,
                    run.parent_run_id,
                    run.year,
                    run.iteration,
                    schema,
                )
            )
        state.cold_files.extend(cold)
        if cold:
            parts.append(hybrid_view_sql(None, cold))
        typed = typed_columns(spec.model) if spec.model is not None else None
        if typed is not None:
            parts.append(typed)
        if not parts:
            parts.append(hybrid_view_sql(None, []))
        return "\nUNION ALL BY NAME\n".join(f"({p})" for p in parts)

    def _existing_path(self, artifact: Artifact) -> str | None:
        """Where DuckDB can read the artifact: its local file, else its archived blob;
        at its URL for an object in a store."""
        if is_remote(artifact.uri):
            return self._remote_location(artifact)
        try:
            path = self._dv.resolve_path(artifact)
        except ConsistError:
            path = None
        if path is not None and path.is_file():
            return str(path)
        remote = self._archived_location(artifact)
        if remote is not None:
            return remote
        logger.warning(
            "view: artifact %r (%s) has no file, no archived copy and was not ingested; left out",
            artifact.key,
            artifact.uri,
        )
        return None

    def _remote_location(self, artifact: Artifact) -> str | None:
        """The artifact's URL, read in place through its fsspec filesystem (registered
        with DuckDB); None, with a warning, when the table store cannot do that."""
        store = self._dv.tables
        if not isinstance(store, SupportsFsspecFiles):
            logger.warning(
                "view: %s left out: the table store reads local files only", artifact.uri
            )
            return None
        try:
            self._dv.remote.stat(artifact.uri)  # a missing object would fail every query
            filesystem, url = self._dv.remote.filesystem(artifact.uri)
            self._register(store, filesystem, url)
        except ConsistError as exc:
            logger.warning("view: cannot reach %s (%s); left out", artifact.uri, exc)
            return None
        return url

    def _register(self, store: SupportsFsspecFiles, filesystem: Any, url: str) -> None:
        protocol = url.split("://")[0] if "://" in url else None
        if protocol is not None and self._registered.get(protocol) is not filesystem:
            store.register_filesystem(filesystem)
            self._registered[protocol] = filesystem

    def _archived_location(self, artifact: Artifact) -> str | None:
        """The URL of the artifact's blob, read in place through the store's fsspec
        filesystem (registered with DuckDB), when the blob store allows it."""
        blobs, store = self._dv.blobs, self._dv.tables
        digest = file_blob_digest(artifact)
        if not (
            digest is not None
            and isinstance(blobs, SupportsInPlaceReads)
            and isinstance(store, SupportsFsspecFiles)
        ):
            return None
        try:
            if not blobs.exists(digest):
                return None
            filesystem, url = blobs.fsspec_location(digest)
            self._register(store, filesystem, url)
        except ConsistError:
            logger.warning("view: cannot reach the archived copy of %r", artifact.key)
            return None
        return url

    # -- SQLAlchemy classes ---------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.view_class(name)

    def __getitem__(self, name: str) -> Any:
        return self.view_class(name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._by_attribute})

    def view_class(self, name: str) -> Any:
        """Rebuild the view and return a SQLAlchemy-mapped class over it.

        Raises
        ------
        NotFound
            No such view on this tracker.
        InvalidInput
            SQLAlchemy is not installed.
        """
        sql_name = self.sql_name(name)
        self.refresh([sql_name])
        store = self._dv.tables
        assert store is not None
        described = store.query(f"DESCRIBE SELECT * FROM {quote_identifier(sql_name)}")
        columns = tuple(zip(described["column_name"].to_pylist(),
                            described["column_type"].to_pylist(), strict=True))  # fmt: skip
        cache_key = (sql_name, columns)
        if cache_key not in self._classes:
            self._classes[cache_key] = mapped_class(name, sql_name, columns)
        return self._classes[cache_key]


def _schema_of(artifact: Artifact) -> str | None:
    value = artifact.meta.get("schema")
    return value if isinstance(value, str) else None


def _by_table(hot: list[Ingestion]) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    for i in hot:
        tables.setdefault(i.table, []).append(i.artifact_id)
    return tables


def _hot_select(table: str, ids: list[str], state: _CatalogState) -> str:
    select = f"SELECT * FROM {quote_identifier(validate_view_name(table))}"
    if set(ids) == state.ids_by_table.get(table, set()):
        return select
    listing = ", ".join(quote_literal(i) for i in sorted(ids))
    return f"{select} WHERE consist_artifact_id IN ({listing})"


@attrs.define
class _CatalogState:
    """One read of the catalog and the registry, shared by the views rebuilt together."""

    artifacts: list[Artifact]
    runs: dict[str, Run]
    ingested: list[Ingestion]
    ids_by_table: dict[str, set[str]]
    failed_runs: set[str]
    cold_files: list[ColdFile] = attrs.field(factory=list)  # filled as views are built
    signatures: dict[str, FileSignature] = attrs.field(factory=dict)  # of local cold files

    @classmethod
    def read(
        cls, dv: DataVirtualization, store: TableStore, specs: list[ViewSpec]
    ) -> _CatalogState:
        if any(s.schema is not None for s in specs):
            artifacts = dv.find_artifacts()
        else:
            keys = sorted({k for s in specs for k in s.keys})
            artifacts = [a for k in keys for a in dv.find_artifacts(key=k)]
        runs = {r.id: r for r in dv.find_runs(RunQuery())}
        ingested = ingestions(store)
        ids_by_table: dict[str, set[str]] = {}
        for i in ingested:
            ids_by_table.setdefault(i.table, set()).add(i.artifact_id)
        failed = {r.id for r in runs.values() if r.status is RunStatus.FAILED}
        produced = sorted(
            (a for a in artifacts if a.producer_run_id is not None), key=lambda a: a.created_at
        )
        return cls(produced, runs, ingested, ids_by_table, failed)
