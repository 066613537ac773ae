"""DuckDBCatalog: the embedded default catalog, one DuckDB file (or memory) per catalog."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

import duckdb
import pyarrow as pa

from consist.domain import Artifact, Run, RunArtifactLink, RunQuery, RunRecord, RunStatus
from consist.domain.errors import (
    ArtifactNotFound,
    CatalogCorrupt,
    CatalogError,
    InvalidInput,
    RunNotFound,
)
from consist.domain.facets import facet_id, flatten
from consist.domain.signature import Signature

if TYPE_CHECKING:
    from ._tables import DuckDBTableStore

from ._connection import (
    DEFAULT_KEEP_OPEN,
    DEFAULT_LOCK_TIMEOUT,
    LeasedDatabase,
    parse_url,
)

__all__ = ["MIGRATIONS", "DuckDBCatalog", "Migration", "migrate"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_INT64 = (-(2**63), 2**63 - 1)
_TS = pa.timestamp("us", tz="UTC")


class Migration(NamedTuple):
    """One forward step of the catalog layout; applied once, in its own transaction."""

    version: int
    summary: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def _v1_tables(conn: duckdb.DuckDBPyConnection) -> None:
    kv_columns = """
        namespace VARCHAR NOT NULL, key VARCHAR NOT NULL, value_type VARCHAR NOT NULL,
        value_str VARCHAR, value_int BIGINT, value_float DOUBLE, value_bool BOOLEAN,
        value_json JSON"""
    for statement in (
        """CREATE TABLE runs (
            id VARCHAR PRIMARY KEY, model VARCHAR, status VARCHAR NOT NULL,
            parent_run_id VARCHAR, year INTEGER, iteration INTEGER, tags JSON NOT NULL,
            signature VARCHAR, code_hash VARCHAR, config_hash VARCHAR, input_hash VARCHAR,
            config JSON NOT NULL, facet JSON, facet_id VARCHAR,
            created_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ, cache_hit BOOLEAN NOT NULL,
            cached_from VARCHAR, error_type VARCHAR, error_message VARCHAR, meta JSON NOT NULL)""",
        """CREATE TABLE artifacts (
            id VARCHAR PRIMARY KEY, key VARCHAR NOT NULL, uri VARCHAR NOT NULL,
            driver VARCHAR NOT NULL, content_hash VARCHAR, size BIGINT, producer_run_id VARCHAR,
            meta JSON NOT NULL, created_at TIMESTAMPTZ NOT NULL, facet JSON, facet_id VARCHAR,
            abs_path VARCHAR)""",
        """CREATE TABLE run_artifact_links (
            run_id VARCHAR NOT NULL, artifact_id VARCHAR NOT NULL, direction VARCHAR NOT NULL,
            key VARCHAR NOT NULL, position INTEGER NOT NULL)""",
        """CREATE TABLE config_facet (
            facet_id VARCHAR PRIMARY KEY, namespace VARCHAR NOT NULL, facet JSON NOT NULL)""",
        f"CREATE TABLE run_config_kv (run_id VARCHAR NOT NULL, {kv_columns})",
        """CREATE TABLE artifact_facet (
            facet_id VARCHAR PRIMARY KEY, namespace VARCHAR NOT NULL, facet JSON NOT NULL)""",
        f"CREATE TABLE artifact_kv (artifact_id VARCHAR NOT NULL, {kv_columns})",
        "CREATE INDEX runs_signature ON runs (signature)",
        "CREATE INDEX runs_parent ON runs (parent_run_id)",
        "CREATE INDEX runs_model_year ON runs (model, year)",
        "CREATE INDEX artifacts_content_hash ON artifacts (content_hash)",
        "CREATE INDEX artifacts_uri ON artifacts (uri)",
        "CREATE INDEX links_run ON run_artifact_links (run_id)",
        "CREATE INDEX links_artifact ON run_artifact_links (artifact_id)",
        "CREATE INDEX run_config_kv_run ON run_config_kv (run_id)",
        "CREATE INDEX artifact_kv_artifact ON artifact_kv (artifact_id)",
    ):
        conn.execute(statement)


def _v2_file_schemas(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """CREATE TABLE file_schemas (
            artifact_id VARCHAR NOT NULL, position INTEGER NOT NULL,
            name VARCHAR NOT NULL, type VARCHAR)"""
    )
    conn.execute("CREATE INDEX file_schemas_artifact ON file_schemas (artifact_id)")
    rows = [
        row
        for artifact_id, meta in conn.execute("SELECT id, meta FROM artifacts").fetchall()
        for row in _schema_rows(artifact_id, json.loads(meta))
    ]
    if rows:
        conn.executemany("INSERT INTO file_schemas VALUES (?, ?, ?, ?)", rows)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, artifacts, links and facet tables", _v1_tables),
    Migration(2, "file_schemas: the columns of tabular artifacts", _v2_file_schemas),
)
_OWN_TABLES = {
    "runs",
    "artifacts",
    "run_artifact_links",
    "config_facet",
    "run_config_kv",
    "artifact_facet",
    "artifact_kv",
    "file_schemas",
}


def migrate(
    conn: duckdb.DuckDBPyConnection,
    where: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Bring the catalog in ``conn`` up to the last of ``migrations``; return that version.

    Raises
    ------
    CatalogError
        If the file was written by a newer Consist, or holds foreign tables.
    """
    tables = {
        name
        for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    current = 0
    if "schema_version" in tables:
        current = _scalar(conn, "SELECT coalesce(max(version), 0) FROM schema_version")
    elif tables & _OWN_TABLES:
        raise CatalogError(
            f"{where} has tables named like a Consist catalog's but no schema_version table; "
            "it was not written by Consist. Point the catalog at another file"
        )
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise CatalogError(
            f"the catalog {where} has schema version {current}, but this consist-duckdb "
            f"knows versions up to {latest}; upgrade it (pip install -U consist-duckdb) "
            "rather than let an older version write to a newer catalog"
        )
    for step in migrations:
        if step.version <= current:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            if current == 0 and "schema_version" not in tables:
                conn.execute(
                    """CREATE TABLE schema_version (version INTEGER PRIMARY KEY,
                       applied_at TIMESTAMPTZ NOT NULL, summary VARCHAR NOT NULL)"""
                )
                tables.add("schema_version")
            step.apply(conn)
            conn.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [step.version, dt.datetime.now(dt.UTC), step.summary],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = step.version
    return current


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str) -> Any:
    rows = conn.execute(sql).fetchall()
    return rows[0][0] if rows else None


class DuckDBCatalog:
    """Catalog in one DuckDB file, opened only for bursts so several processes can share it.

    Parameters
    ----------
    url
        ``duckdb:///abs/path.duckdb``, ``duckdb://relative/path.duckdb`` or
        ``duckdb://:memory:``. Options may follow as a query string:
        ``?lock_timeout=30&keep_open=0.5``.
    lock_timeout
        Seconds to retry (with jittered exponential backoff) while another
        process holds the file, before raising ``CatalogLocked``.
    keep_open
        Seconds an idle connection is kept before the file is released.

    Raises
    ------
    CatalogLocked
        If another process held the file for all of ``lock_timeout``.
    CatalogCorrupt
        If the file is not a readable DuckDB database.
    CatalogError
        If the file belongs to a newer Consist, or cannot be opened.

    Notes
    -----
    Besides the ``Catalog`` methods this class offers ``query_sql``,
    ``vacuum``, ``check`` and ``record_many`` (many records in one transaction,
    for bulk loads and ``consist db rebuild``).
    """

    def __init__(
        self,
        url: str,
        *,
        lock_timeout: float | None = None,
        keep_open: float | None = None,
    ) -> None:
        self.url = url
        path, options = parse_url(url)
        self._migrated = False
        self._db = LeasedDatabase(
            path,
            self._prepare,
            lock_timeout=_option(lock_timeout, options, "lock_timeout", DEFAULT_LOCK_TIMEOUT),
            keep_open=_option(keep_open, options, "keep_open", DEFAULT_KEEP_OPEN),
        )
        with self._db.lease():
            pass

    @property
    def path(self) -> str:
        """The database file (``:memory:`` for an in-memory catalog)."""
        return self._db.path

    def _prepare(self, conn: duckdb.DuckDBPyConnection) -> None:
        if not self._migrated:
            migrate(conn, self._db.path)
            self._migrated = True

    def table_store(self) -> DuckDBTableStore:
        """A TableStore on this catalog's own file and connection (``SupportsTableStore``)."""
        from ._tables import DuckDBTableStore

        return DuckDBTableStore.sharing(self.url, self._lease)

    @contextmanager
    def _lease(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._db.lease() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for reads: they proceed while another thread writes."""
        with self._db.read_lease() as conn:
            yield conn

    # -- writing -------------------------------------------------------------

    def record(self, record: RunRecord) -> None:
        """Store one run with its artifacts and links in a single transaction."""
        self.record_many([record])

    def record_many(self, records: Iterable[RunRecord]) -> None:
        """Store many records in one transaction (bulk loads, rebuilds).

        Later records win over earlier ones with the same run or artifact id.
        """
        rows = _Rows()
        for record in records:
            rows.add(record)
        if not rows.runs:
            return
        tables = rows.arrow()
        with self._lease() as conn:
            for name, table in tables.items():
                conn.register(f"_new_{name}", table)
            try:
                conn.execute("BEGIN TRANSACTION")
                try:
                    _write(conn, {name for name, table in tables.items() if table.num_rows})
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            finally:
                for name in tables:
                    conn.unregister(f"_new_{name}")

    # -- reading -------------------------------------------------------------

    def get_record(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            run = self._get_run(conn, run_id)
            links = [
                RunArtifactLink(*row)
                for row in conn.execute(
                    """SELECT run_id, artifact_id, direction, key FROM run_artifact_links
                       WHERE run_id = ? ORDER BY position""",
                    [run_id],
                ).fetchall()
            ]
            found = {
                a.id: a
                for a in map(
                    _artifact_from_row,
                    conn.execute(
                        f"""SELECT {_ARTIFACT_SELECT} FROM artifacts WHERE id IN (
                            SELECT artifact_id FROM run_artifact_links WHERE run_id = ?)""",
                        [run_id],
                    ).fetchall(),
                )
            }
        ordered = {link.artifact_id: found[link.artifact_id] for link in links}
        return RunRecord(run, tuple(ordered.values()), tuple(links))

    def has_run(self, run_id: str) -> bool:
        """Whether ``run_id`` is taken (``SupportsRunExists``): no row is decoded."""
        with self._read() as conn:
            return bool(conn.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchall())

    def get_run(self, run_id: str) -> Run:
        with self._read() as conn:
            return self._get_run(conn, run_id)

    def _get_run(self, conn: duckdb.DuckDBPyConnection, run_id: str) -> Run:
        rows = conn.execute(f"SELECT {_RUN_SELECT} FROM runs WHERE id = ?", [run_id]).fetchall()
        if not rows:
            raise RunNotFound(run_id)
        return _run_from_row(rows[0])

    def find_runs(self, query: RunQuery) -> list[Run]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("parent_run_id", query.parent_run_id),
            ("model", query.model),
            ("year", query.year),
            ("iteration", query.iteration),
            ("status", None if query.status is None else str(query.status)),
            ("signature", query.signature),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.tags:
            where.append("list_has_all(CAST(tags AS VARCHAR[]), ?::VARCHAR[])")
            params.append(list(query.tags))
        sql = f"SELECT {_RUN_SELECT} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # DuckDB plans ORDER BY over the whole table and then skips the ART
        # index (about 10 ms at 20k runs instead of 1 ms), so when an indexed
        # filter already narrows the rows they are sorted here instead.
        narrowed = any(v is not None for v in (query.signature, query.parent_run_id, query.model))
        if not narrowed:
            sql += " ORDER BY created_at DESC, id DESC"
            if query.limit is not None:
                sql += " LIMIT ?"
                params.append(query.limit)
        with self._read() as conn:
            runs = [_run_from_row(row) for row in conn.execute(sql, params).fetchall()]
        if narrowed:
            runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            runs = runs[: query.limit] if query.limit is not None else runs
        return runs

    def find_by_signature(self, signature: str) -> Run | None:
        found = self.find_runs(RunQuery(signature=signature, status=RunStatus.COMPLETED, limit=1))
        return found[0] if found else None

    def get_artifact(self, artifact_id: str) -> Artifact:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_ARTIFACT_SELECT} FROM artifacts WHERE id = ?", [artifact_id]
            ).fetchall()
        if not rows:
            raise ArtifactNotFound(artifact_id)
        return _artifact_from_row(rows[0])

    def find_artifacts(
        self,
        *,
        uri: str | None = None,
        content_hash: str | None = None,
        key: str | None = None,
    ) -> list[Artifact]:
        wanted = {"uri": uri, "content_hash": content_hash, "key": key}
        where = [f"{column} = ?" for column, value in wanted.items() if value is not None]
        params = [value for value in wanted.values() if value is not None]
        sql = f"SELECT {_ARTIFACT_SELECT} FROM artifacts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY created_at DESC, id DESC", params).fetchall()
        return [_artifact_from_row(row) for row in rows]

    def links_of_artifact(self, artifact_id: str) -> list[RunArtifactLink]:
        with self._read() as conn:
            rows = conn.execute(
                """SELECT run_id, artifact_id, direction, key FROM run_artifact_links
                   WHERE artifact_id = ? ORDER BY run_id, position""",
                [artifact_id],
            ).fetchall()
        return [RunArtifactLink(*row) for row in rows]

    def run_ids(self) -> set[str]:
        with self._read() as conn:
            return {row[0] for row in conn.execute("SELECT id FROM runs").fetchall()}

    # -- capabilities --------------------------------------------------------

    def query_sql(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Rows of any SQL over the catalog tables, as a ``pyarrow.Table``.

        Raises
        ------
        CatalogError
            For a statement DuckDB rejects.
        """
        with self._lease() as conn:
            relation = conn.sql(sql, params=list(params) if params is not None else None)
            # Statements without rows (DELETE, CREATE, ...) run and return None.
            table: pa.Table = pa.table({}) if relation is None else relation.to_arrow_table()
            return table

    def vacuum(self) -> None:
        """Drop facets no run or artifact uses any more, then checkpoint the file."""
        with self._lease() as conn:
            conn.execute(
                "DELETE FROM config_facet WHERE facet_id NOT IN "
                "(SELECT facet_id FROM runs WHERE facet_id IS NOT NULL)"
            )
            conn.execute(
                "DELETE FROM artifact_facet WHERE facet_id NOT IN "
                "(SELECT facet_id FROM artifacts WHERE facet_id IS NOT NULL)"
            )
            conn.execute("FORCE CHECKPOINT")

    def check(self) -> list[str]:
        """Problems in the stored catalog: unreadable blocks, dangling rows, wrong version."""
        try:
            with self._lease() as conn:
                return _problems(conn)
        except CatalogCorrupt as exc:
            return [str(exc)]

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"DuckDBCatalog({self.url!r})"


def _option(given: float | None, options: Mapping[str, float], name: str, default: float) -> float:
    return given if given is not None else options.get(name, default)


def _write(conn: duckdb.DuckDBPyConnection, filled: set[str]) -> None:
    """Apply the registered ``_new_*`` tables; ``filled`` names those with any rows."""
    # Each statement costs DuckDB a millisecond or more even on empty input,
    # so inserts of empty batches are skipped; the deletes always run, since
    # they clear what an earlier version of a run or artifact left behind.
    steps = (
        ("runs", "INSERT OR REPLACE INTO runs BY NAME SELECT * FROM _new_runs"),
        ("artifacts", "INSERT OR REPLACE INTO artifacts BY NAME SELECT * FROM _new_artifacts"),
        (None, "DELETE FROM run_artifact_links WHERE run_id IN (SELECT id FROM _new_runs)"),
        (
            "run_artifact_links",
            "INSERT INTO run_artifact_links BY NAME SELECT * FROM _new_run_artifact_links",
        ),
        (
            "config_facet",
            "INSERT OR IGNORE INTO config_facet BY NAME SELECT * FROM _new_config_facet",
        ),
        (None, "DELETE FROM run_config_kv WHERE run_id IN (SELECT id FROM _new_runs)"),
        ("run_config_kv", "INSERT INTO run_config_kv BY NAME SELECT * FROM _new_run_config_kv"),
        (
            "artifact_facet",
            "INSERT OR IGNORE INTO artifact_facet BY NAME SELECT * FROM _new_artifact_facet",
        ),
        (None, "DELETE FROM artifact_kv WHERE artifact_id IN (SELECT id FROM _new_artifacts)"),
        ("artifact_kv", "INSERT INTO artifact_kv BY NAME SELECT * FROM _new_artifact_kv"),
        (None, "DELETE FROM file_schemas WHERE artifact_id IN (SELECT id FROM _new_artifacts)"),
        ("file_schemas", "INSERT INTO file_schemas BY NAME SELECT * FROM _new_file_schemas"),
    )
    for table, statement in steps:
        if table is None or table in filled:
            conn.execute(statement)


def _problems(conn: duckdb.DuckDBPyConnection) -> list[str]:
    problems: list[str] = []
    version = _scalar(conn, "SELECT max(version) FROM schema_version")
    if version != MIGRATIONS[-1].version:
        problems.append(f"schema version is {version}, expected {MIGRATIONS[-1].version}")
    for table in sorted(_OWN_TABLES):
        # Reading every column of every row makes DuckDB verify each block's checksum.
        conn.sql(f"SELECT * FROM {table}").to_arrow_table()
    for sql, what in (
        (
            "SELECT count(*) FROM run_artifact_links l "
            "ANTI JOIN artifacts a ON a.id = l.artifact_id",
            "links name an artifact that is not in the catalog",
        ),
        (
            "SELECT count(*) FROM run_artifact_links l ANTI JOIN runs r ON r.id = l.run_id",
            "links name a run that is not in the catalog",
        ),
        (
            "SELECT count(*) FROM runs r ANTI JOIN config_facet f ON f.facet_id = r.facet_id "
            "WHERE r.facet_id IS NOT NULL",
            "runs name a config facet that is not stored",
        ),
        (
            "SELECT count(*) FROM artifacts a "
            "ANTI JOIN artifact_facet f ON f.facet_id = a.facet_id WHERE a.facet_id IS NOT NULL",
            "artifacts name a facet that is not stored",
        ),
        (
            "SELECT count(*) FROM run_config_kv k ANTI JOIN runs r ON r.id = k.run_id",
            "run_config_kv rows belong to no run",
        ),
        (
            "SELECT count(*) FROM artifact_kv k ANTI JOIN artifacts a ON a.id = k.artifact_id",
            "artifact_kv rows belong to no artifact",
        ),
    ):
        count = _scalar(conn, sql)
        if count:
            problems.append(f"{count} {what}")
    return problems


# -- rows -------------------------------------------------------------------

_RUN_COLUMNS = (
    "id, model, status, parent_run_id, year, iteration, tags, code_hash, config_hash, "
    "input_hash, config, facet, created_at, ended_at, cache_hit, cached_from, error_type, "
    "error_message, meta"
)
_RUN_SELECT = _RUN_COLUMNS.replace("created_at", "epoch_us(created_at)").replace(
    "ended_at", "epoch_us(ended_at)"
)
_ARTIFACT_SELECT = (
    "id, key, uri, driver, content_hash, size, producer_run_id, meta, "
    "epoch_us(created_at), facet, abs_path"
)


def _from_us(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def _maybe_from_us(value: int | None) -> dt.datetime | None:
    return None if value is None else _from_us(value)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _run_from_row(row: tuple[Any, ...]) -> Run:
    (run_id, model, status, parent, year, iteration, tags, code, config_hash, input_hash,
     config, facet, created, ended, cache_hit, cached_from, error_type, error_message,
     meta) = row  # fmt: skip
    signature = None if code is None else Signature(code, config_hash, input_hash)
    return Run(
        id=run_id,
        model=model,
        status=status,
        parent_run_id=parent,
        year=year,
        iteration=iteration,
        tags=json.loads(tags),
        signature=signature,
        config=json.loads(config),
        facet=_loads(facet),
        created_at=_from_us(created),
        ended_at=_maybe_from_us(ended),
        cache_hit=cache_hit,
        cached_from=cached_from,
        error_type=error_type,
        error_message=error_message,
        meta=json.loads(meta),
    )


def _artifact_from_row(row: tuple[Any, ...]) -> Artifact:
    (artifact_id, key, uri, driver, content_hash, size, producer, meta, created, facet,
     abs_path) = row  # fmt: skip
    return Artifact(
        id=artifact_id,
        key=key,
        uri=uri,
        driver=driver,
        content_hash=content_hash,
        size=size,
        producer_run_id=producer,
        meta=json.loads(meta),
        created_at=_from_us(created),
        facet=_loads(facet),
        abs_path=abs_path,
    )


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} cannot be stored as JSON: {exc}") from None


def _schema_rows(artifact_id: str, meta: Mapping[str, Any]) -> list[tuple[str, int, str, Any]]:
    columns = meta.get("file_schema") if isinstance(meta, Mapping) else None
    if not isinstance(columns, list):
        return []
    return [
        (artifact_id, position, str(column["name"]), column.get("type"))
        for position, column in enumerate(columns)
        if isinstance(column, Mapping) and column.get("name") is not None
    ]


def _kv_rows(
    owner: str, owner_id: str, namespace: str, facet: Mapping[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for leaf in flatten(facet):
        columns = leaf.columns
        value_int = columns["value_int"]
        if value_int is not None and not _INT64[0] <= value_int <= _INT64[1]:
            columns["value_int"], columns["value_json"] = None, json.dumps(value_int)
        rows.append({owner: owner_id, "namespace": namespace, "key": leaf.key,
                     "value_type": leaf.value_type, **columns})  # fmt: skip
    return rows


_KV_TYPES = {
    "namespace": pa.string(),
    "key": pa.string(),
    "value_type": pa.string(),
    "value_str": pa.string(),
    "value_int": pa.int64(),
    "value_float": pa.float64(),
    "value_bool": pa.bool_(),
    "value_json": pa.string(),
}
_FACET_TYPES = {"facet_id": pa.string(), "namespace": pa.string(), "facet": pa.string()}
_SCHEMAS: dict[str, pa.Schema] = {
    "runs": pa.schema(
        [
            ("id", pa.string()),
            ("model", pa.string()),
            ("status", pa.string()),
            ("parent_run_id", pa.string()),
            ("year", pa.int32()),
            ("iteration", pa.int32()),
            ("tags", pa.string()),
            ("signature", pa.string()),
            ("code_hash", pa.string()),
            ("config_hash", pa.string()),
            ("input_hash", pa.string()),
            ("config", pa.string()),
            ("facet", pa.string()),
            ("facet_id", pa.string()),
            ("created_at", _TS),
            ("ended_at", _TS),
            ("cache_hit", pa.bool_()),
            ("cached_from", pa.string()),
            ("error_type", pa.string()),
            ("error_message", pa.string()),
            ("meta", pa.string()),
        ]
    ),
    "artifacts": pa.schema(
        [
            ("id", pa.string()),
            ("key", pa.string()),
            ("uri", pa.string()),
            ("driver", pa.string()),
            ("content_hash", pa.string()),
            ("size", pa.int64()),
            ("producer_run_id", pa.string()),
            ("meta", pa.string()),
            ("created_at", _TS),
            ("facet", pa.string()),
            ("facet_id", pa.string()),
            ("abs_path", pa.string()),
        ]
    ),
    "run_artifact_links": pa.schema(
        [
            ("run_id", pa.string()),
            ("artifact_id", pa.string()),
            ("direction", pa.string()),
            ("key", pa.string()),
            ("position", pa.int32()),
        ]
    ),
    "config_facet": pa.schema(list(_FACET_TYPES.items())),
    "run_config_kv": pa.schema([("run_id", pa.string()), *_KV_TYPES.items()]),
    "artifact_facet": pa.schema(list(_FACET_TYPES.items())),
    "artifact_kv": pa.schema([("artifact_id", pa.string()), *_KV_TYPES.items()]),
    "file_schemas": pa.schema(
        [
            ("artifact_id", pa.string()),
            ("position", pa.int32()),
            ("name", pa.string()),
            ("type", pa.string()),
        ]
    ),
}


class _Rows:
    """Rows of every table for a batch of records; later records replace earlier ones."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.artifacts: dict[str, dict[str, Any]] = {}
        self.links: dict[str, list[dict[str, Any]]] = {}
        self.run_kv: dict[str, list[dict[str, Any]]] = {}
        self.artifact_kv: dict[str, list[dict[str, Any]]] = {}
        self.schemas: dict[str, list[dict[str, Any]]] = {}
        self.config_facets: dict[str, dict[str, Any]] = {}
        self.artifact_facets: dict[str, dict[str, Any]] = {}

    def add(self, record: RunRecord) -> None:
        run = record.run
        what = f"run {run.id!r}"
        sig = run.signature
        run_facet_id = None
        self.run_kv[run.id] = []
        if run.facet is not None:
            namespace = run.model or "default"
            run_facet_id = facet_id(namespace, run.facet)
            self.config_facets[run_facet_id] = {
                "facet_id": run_facet_id,
                "namespace": namespace,
                "facet": _dumps(run.facet, f"the facet of {what}"),
            }
            self.run_kv[run.id] = _kv_rows("run_id", run.id, namespace, run.facet)
        self.runs[run.id] = {
            "id": run.id,
            "model": run.model,
            "status": str(run.status),
            "parent_run_id": run.parent_run_id,
            "year": run.year,
            "iteration": run.iteration,
            "tags": _dumps(list(run.tags), f"the tags of {what}"),
            "signature": sig.digest if sig else None,
            "code_hash": sig.code_hash if sig else None,
            "config_hash": sig.config_hash if sig else None,
            "input_hash": sig.input_hash if sig else None,
            "config": _dumps(dict(run.config), f"the config of {what}"),
            "facet": None if run.facet is None else _dumps(dict(run.facet), what),
            "facet_id": run_facet_id,
            "created_at": run.created_at,
            "ended_at": run.ended_at,
            "cache_hit": run.cache_hit,
            "cached_from": run.cached_from,
            "error_type": run.error_type,
            "error_message": run.error_message,
            "meta": _dumps(dict(run.meta), f"the meta of {what}"),
        }
        self.links[run.id] = [
            {
                "run_id": run.id,
                "artifact_id": link.artifact_id,
                "direction": str(link.direction),
                "key": link.key,
                "position": position,
            }
            for position, link in enumerate(record.links)
        ]
        for artifact in record.artifacts:
            self._add_artifact(artifact)

    def _add_artifact(self, artifact: Artifact) -> None:
        what = f"artifact {artifact.id!r}"
        art_facet_id = None
        self.artifact_kv[artifact.id] = []
        if artifact.facet is not None:
            art_facet_id = facet_id(artifact.key, artifact.facet)
            self.artifact_facets[art_facet_id] = {
                "facet_id": art_facet_id,
                "namespace": artifact.key,
                "facet": _dumps(dict(artifact.facet), f"the facet of {what}"),
            }
            self.artifact_kv[artifact.id] = _kv_rows(
                "artifact_id", artifact.id, artifact.key, artifact.facet
            )
        self.schemas[artifact.id] = [
            dict(zip(("artifact_id", "position", "name", "type"), row, strict=True))
            for row in _schema_rows(artifact.id, artifact.meta)
        ]
        self.artifacts[artifact.id] = {
            "id": artifact.id,
            "key": artifact.key,
            "uri": artifact.uri,
            "driver": artifact.driver,
            "content_hash": artifact.content_hash,
            "size": artifact.size,
            "producer_run_id": artifact.producer_run_id,
            "meta": _dumps(dict(artifact.meta), f"the meta of {what}"),
            "created_at": artifact.created_at,
            "facet": None if artifact.facet is None else _dumps(dict(artifact.facet), what),
            "facet_id": art_facet_id,
            "abs_path": artifact.abs_path,
        }

    def arrow(self) -> dict[str, pa.Table]:
        """One Arrow table per catalog table, typed like the columns they fill."""

        def flat(groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
            return [row for rows in groups.values() for row in rows]

        rows = {
            "runs": list(self.runs.values()),
            "artifacts": list(self.artifacts.values()),
            "run_artifact_links": flat(self.links),
            "config_facet": list(self.config_facets.values()),
            "run_config_kv": flat(self.run_kv),
            "artifact_facet": list(self.artifact_facets.values()),
            "artifact_kv": flat(self.artifact_kv),
            "file_schemas": flat(self.schemas),
        }
        return {
            name: pa.Table.from_pylist(table_rows, schema=_SCHEMAS[name])
            for name, table_rows in rows.items()
        }
