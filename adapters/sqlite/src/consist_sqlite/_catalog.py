"""SQLiteCatalog: the catalog in one SQLite file (WAL mode), via sqlite-utils."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from typing import Any

import pyarrow as pa
import sqlite_utils

from consist.domain import Artifact, Run, RunArtifactLink, RunQuery, RunRecord, RunStatus
from consist.domain.errors import ArtifactNotFound, CatalogCorrupt, RunNotFound
from consist.relational import RecordRows, flat

from ._connection import DEFAULT_LOCK_TIMEOUT, SQLiteFile, parse_url
from ._rows import (
    ARTIFACT_COLUMNS,
    RUN_COLUMNS,
    artifact_from_row,
    new_rows,
    run_from_row,
)
from ._schema import MIGRATIONS, OWN_TABLES, current_version, migrate

__all__ = ["SQLiteCatalog"]

_LINK_COLUMNS = "run_id, artifact_id, direction, key"


class SQLiteCatalog:
    """Catalog in one SQLite file: WAL mode, a busy timeout, and retried transactions.

    Parameters
    ----------
    url
        ``sqlite:///abs/path.sqlite``, ``sqlite://relative.db`` or
        ``sqlite://:memory:``; ``?lock_timeout=30`` may follow.
    lock_timeout
        Seconds to retry a write that finds the file locked before raising
        ``CatalogLocked``.

    Raises
    ------
    CatalogCorrupt
        If the file is not a readable SQLite database.
    CatalogError
        If the file belongs to a newer Consist, or cannot be opened.

    Notes
    -----
    Besides the ``Catalog`` methods this class offers ``query_sql``,
    ``change_token``, ``vacuum``, ``check`` and ``record_many`` (many records in one transaction,
    for bulk loads and ``consist db rebuild``).
    """

    sql_dialect = "sqlite"  # how SQLAlchemy statements are compiled for run_query

    def __init__(self, url: str, *, lock_timeout: float | None = None) -> None:
        self.url = url
        path, options = parse_url(url)
        if lock_timeout is None:
            lock_timeout = options.get("lock_timeout", DEFAULT_LOCK_TIMEOUT)
        self._file = SQLiteFile(path, lock_timeout=lock_timeout)
        try:
            self._file.retry(lambda db: migrate(db, path), write=True)
        except BaseException:
            self._file.close()
            raise

    @property
    def path(self) -> str:
        """The database file (``:memory:`` for an in-memory catalog)."""
        return self._file.path

    # -- writing -------------------------------------------------------------

    def record(self, record: RunRecord) -> None:
        """Store one run with its artifacts and links in a single transaction."""
        self.record_many([record])

    def record_many(self, records: Iterable[RunRecord]) -> None:
        """Store many records in one transaction (bulk loads, rebuilds).

        Later records win over earlier ones with the same run or artifact id.
        """
        rows = new_rows()
        for record in records:
            rows.add(record)
        if rows.runs:
            self._file.retry(lambda db: _write(db, rows), write=True)

    # -- reading -------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._file.retry(lambda db: db.conn.execute(sql, params).fetchall())

    def get_record(self, run_id: str) -> RunRecord:
        def read(db: sqlite_utils.Database) -> RunRecord:
            run = _get_run(db, run_id)
            links = [
                RunArtifactLink(*row)
                for row in db.conn.execute(
                    f"SELECT {_LINK_COLUMNS} FROM run_artifact_links WHERE run_id = ? "
                    "ORDER BY position",
                    [run_id],
                )
            ]
            found = {
                a.id: a
                for a in map(
                    artifact_from_row,
                    db.conn.execute(
                        f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE id IN "
                        "(SELECT artifact_id FROM run_artifact_links WHERE run_id = ?)",
                        [run_id],
                    ).fetchall(),
                )
            }
            ordered = {link.artifact_id: found[link.artifact_id] for link in links}
            return RunRecord(run, tuple(ordered.values()), tuple(links))

        return self._file.retry(read)

    def get_run(self, run_id: str) -> Run:
        return self._file.retry(lambda db: _get_run(db, run_id))

    def find_runs(self, query: RunQuery) -> list[Run]:
        where, params = [], []
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
        for tag in query.tags:
            where.append("EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = ?)")
            params.append(tag)
        sql = f"SELECT {RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC"
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        return [run_from_row(row) for row in self._rows(sql, params)]

    def find_by_signature(self, signature: str) -> Run | None:
        rows = self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE signature = ? AND status = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            [signature, str(RunStatus.COMPLETED)],
        )
        return run_from_row(rows[0]) if rows else None

    def completed_signatures(self, signatures: Collection[str]) -> set[str]:
        """Which signatures a completed run has (``SupportsSignatureLookup``), in chunks
        below SQLite's bound-parameter limit."""
        wanted, found = list(signatures), set[str]()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._rows(
                f"SELECT DISTINCT signature FROM runs WHERE status = ? AND signature IN ({marks})",
                [str(RunStatus.COMPLETED), *chunk],
            )
            found.update(row[0] for row in rows)
        return found

    def get_artifact(self, artifact_id: str) -> Artifact:
        rows = self._rows(f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE id = ?", [artifact_id])
        if not rows:
            raise ArtifactNotFound(artifact_id)
        return artifact_from_row(rows[0])

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
        sql = f"SELECT {ARTIFACT_COLUMNS} FROM artifacts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._rows(sql + " ORDER BY created_at DESC, id DESC", params)
        return [artifact_from_row(row) for row in rows]

    def links_of_artifact(self, artifact_id: str) -> list[RunArtifactLink]:
        rows = self._rows(
            f"SELECT {_LINK_COLUMNS} FROM run_artifact_links WHERE artifact_id = ? "
            "ORDER BY run_id, position",
            [artifact_id],
        )
        return [RunArtifactLink(*row) for row in rows]

    def run_ids(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT id FROM runs")}

    # -- capabilities --------------------------------------------------------

    def query_sql(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Rows of any SQL over the catalog tables, as a ``pyarrow.Table``.

        Column types follow the values SQLite returns; a column mixing types
        comes back as strings.

        Raises
        ------
        CatalogError
            For a statement SQLite rejects.
        """

        def run(db: sqlite_utils.Database) -> tuple[list[str], list[Any]]:
            cursor = db.conn.execute(sql, list(params or ()))
            names = [d[0] for d in cursor.description or ()]
            return names, cursor.fetchall()

        names, rows = self._file.retry(run)
        return pa.table(
            {name: _arrow_column([row[i] for row in rows]) for i, name in enumerate(names)}
        )

    def vacuum(self) -> None:
        """Drop facets no run or artifact uses any more, then rebuild the file compactly."""

        def prune(db: sqlite_utils.Database) -> None:
            db.conn.execute(
                "DELETE FROM config_facet WHERE facet_id NOT IN "
                "(SELECT facet_id FROM runs WHERE facet_id IS NOT NULL)"
            )
            db.conn.execute(
                "DELETE FROM artifact_facet WHERE facet_id NOT IN "
                "(SELECT facet_id FROM artifacts WHERE facet_id IS NOT NULL)"
            )

        self._file.retry(prune, write=True)
        self._file.retry(lambda db: db.conn.execute("VACUUM"))

    def check(self) -> list[str]:
        """Problems in the stored catalog: SQLite's integrity check, dangling rows, version."""
        try:
            return self._file.retry(_problems)
        except CatalogCorrupt as exc:
            return [str(exc)]

    def change_token(self) -> Hashable:
        """Moves with every commit to the file, from here or elsewhere (``SupportsChangeToken``)."""
        return self._file.change_token()

    def close(self) -> None:
        self._file.close()

    def __repr__(self) -> str:
        return f"SQLiteCatalog({self.url!r})"


def _get_run(db: sqlite_utils.Database, run_id: str) -> Run:
    row = db.conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise RunNotFound(run_id)
    return run_from_row(row)


def _write(db: sqlite_utils.Database, rows: RecordRows) -> None:
    run_ids = [(run_id,) for run_id in rows.runs]
    artifact_ids = [(artifact_id,) for artifact_id in rows.artifacts]
    for table, column, ids in (
        ("run_artifact_links", "run_id", run_ids),
        ("run_config_kv", "run_id", run_ids),
        ("artifact_kv", "artifact_id", artifact_ids),
        ("file_schemas", "artifact_id", artifact_ids),
    ):
        db.conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", ids)
    db.table("runs").insert_all(rows.runs.values(), replace=True)
    db.table("artifacts").insert_all(rows.artifacts.values(), replace=True)
    db.table("config_facet").insert_all(rows.config_facets.values(), ignore=True)
    db.table("artifact_facet").insert_all(rows.artifact_facets.values(), ignore=True)
    db.table("run_artifact_links").insert_all(flat(rows.links))
    db.table("run_config_kv").insert_all(flat(rows.run_kv))
    db.table("artifact_kv").insert_all(flat(rows.artifact_kv))
    db.table("file_schemas").insert_all(flat(rows.schemas))


def _problems(db: sqlite_utils.Database) -> list[str]:
    problems = [
        f"integrity check: {message}"
        for (message,) in db.conn.execute("PRAGMA integrity_check").fetchall()
        if message != "ok"
    ]
    version = current_version(db)
    if version != MIGRATIONS[-1].version:
        problems.append(f"schema version is {version}, expected {MIGRATIONS[-1].version}")
    missing = OWN_TABLES - set(db.table_names())
    if missing:
        problems.append(f"tables missing: {', '.join(sorted(missing))}")
        return problems
    for sql, what in (
        (
            "SELECT count(*) FROM run_artifact_links WHERE artifact_id NOT IN "
            "(SELECT id FROM artifacts)",
            "links name an artifact that is not in the catalog",
        ),
        (
            "SELECT count(*) FROM run_artifact_links WHERE run_id NOT IN (SELECT id FROM runs)",
            "links name a run that is not in the catalog",
        ),
        (
            "SELECT count(*) FROM runs WHERE facet_id IS NOT NULL AND facet_id NOT IN "
            "(SELECT facet_id FROM config_facet)",
            "runs name a config facet that is not stored",
        ),
        (
            "SELECT count(*) FROM artifacts WHERE facet_id IS NOT NULL AND facet_id NOT IN "
            "(SELECT facet_id FROM artifact_facet)",
            "artifacts name a facet that is not stored",
        ),
        (
            "SELECT count(*) FROM run_config_kv WHERE run_id NOT IN (SELECT id FROM runs)",
            "run_config_kv rows belong to no run",
        ),
        (
            "SELECT count(*) FROM artifact_kv WHERE artifact_id NOT IN (SELECT id FROM artifacts)",
            "artifact_kv rows belong to no artifact",
        ),
    ):
        count = db.conn.execute(sql).fetchone()[0]
        if count:
            problems.append(f"{count} {what}")
    return problems


def _arrow_column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
