"""DuckDBCatalog: the embedded default catalog, one DuckDB file (or memory) per catalog."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import (
    Callable,
    Collection,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from consist.domain import Artifact, Run, RunArtifactLink, RunQuery, RunRecord, RunStatus
from consist.domain.errors import (
    ArtifactNotFound,
    CatalogCorrupt,
    CatalogError,
    RunNotFound,
)
from consist.relational import (
    ARTIFACT_COLUMNS,
    RUN_COLUMNS,
    RecordRows,
    artifact_from_row,
    flat,
    run_from_row,
    schema_rows,
)

from ._connection import (
    DEFAULT_KEEP_OPEN,
    DEFAULT_LOCK_TIMEOUT,
    LeasedDatabase,
    parse_url,
)
from ._sql import reads_only
from ._tables import DuckDBTableStore, prepare_for_views
from ._verify import unreadable_parts

__all__ = ["MIGRATIONS", "DuckDBCatalog", "Migration", "migrate"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
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
        tuple(row.values())
        for artifact_id, meta in conn.execute("SELECT id, meta FROM artifacts").fetchall()
        for row in schema_rows(artifact_id, json.loads(meta))
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
        # A read opens (and migrates) the file, or reads beside another program
        # holding it read-only: writes then wait for it instead of failing here.
        with self._db.read_lease():
            pass

    @property
    def path(self) -> str:
        """The database file (``:memory:`` for an in-memory catalog)."""
        return self._db.path

    def _prepare(self, conn: duckdb.DuckDBPyConnection) -> None:
        prepare_for_views(conn)  # the file may also hold data tables and views
        if not self._migrated:
            migrate(conn, self._db.path)
            self._migrated = True

    def table_store(self) -> DuckDBTableStore:
        """A TableStore on this catalog's own file and connection (``SupportsTableStore``)."""
        return DuckDBTableStore.sharing(self.url, self._db)

    def change_token(self) -> Hashable:
        """Changes with every write lease and every open of the file (``SupportsChangeToken``)."""
        return self._db.change_token()

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
        rows = RecordRows()
        for record in records:
            rows.add(record)
        if not rows.runs:
            return
        tables = _arrow_tables(rows)
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
                    _artifact_of,
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
        return _run_of(rows[0])

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
            runs = [_run_of(row) for row in conn.execute(sql, params).fetchall()]
        if narrowed:
            runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            runs = runs[: query.limit] if query.limit is not None else runs
        return runs

    def find_by_signature(self, signature: str) -> Run | None:
        found = self.find_runs(RunQuery(signature=signature, status=RunStatus.COMPLETED, limit=1))
        return found[0] if found else None

    def completed_signatures(self, signatures: Collection[str]) -> set[str]:
        """Which signatures a completed run has, in one query (``SupportsSignatureLookup``)."""
        if not signatures:
            return set()
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT signature FROM runs WHERE status = ? "
                "AND signature IN (SELECT unnest(?::VARCHAR[]))",
                [str(RunStatus.COMPLETED), list(signatures)],
            ).fetchall()
        return {row[0] for row in rows}

    def get_artifact(self, artifact_id: str) -> Artifact:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_ARTIFACT_SELECT} FROM artifacts WHERE id = ?", [artifact_id]
            ).fetchall()
        if not rows:
            raise ArtifactNotFound(artifact_id)
        return _artifact_of(rows[0])

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
        return [_artifact_of(row) for row in rows]

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
        lease = self._read() if reads_only(sql) else self._lease()
        with lease as conn:
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
    unreadable = unreadable_parts(conn)
    if unreadable:
        return problems + unreadable  # the consistency queries below would only fail too
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

_RUN_SELECT = RUN_COLUMNS.replace("created_at", "epoch_us(created_at)").replace(
    "ended_at", "epoch_us(ended_at)"
)
_ARTIFACT_SELECT = ARTIFACT_COLUMNS.replace("created_at", "epoch_us(created_at)")


def _from_us(value: int) -> dt.datetime:
    # Timestamps are read as epoch microseconds: datetimes with zones need pytz.
    return _EPOCH + dt.timedelta(microseconds=value)


def _run_of(row: tuple[Any, ...]) -> Run:
    return run_from_row(row, _from_us)


def _artifact_of(row: tuple[Any, ...]) -> Artifact:
    return artifact_from_row(row, _from_us)


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


def _arrow_tables(rows: RecordRows) -> dict[str, pa.Table]:
    """One Arrow table per catalog table, typed like the columns they fill."""
    by_table = {
        "runs": list(rows.runs.values()),
        "artifacts": list(rows.artifacts.values()),
        "run_artifact_links": flat(rows.links),
        "config_facet": list(rows.config_facets.values()),
        "run_config_kv": flat(rows.run_kv),
        "artifact_facet": list(rows.artifact_facets.values()),
        "artifact_kv": flat(rows.artifact_kv),
        "file_schemas": flat(rows.schemas),
    }
    return {
        name: pa.Table.from_pylist(table_rows, schema=_SCHEMAS[name])
        for name, table_rows in by_table.items()
    }
