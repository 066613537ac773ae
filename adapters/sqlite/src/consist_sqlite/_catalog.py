"""SQLiteCatalog: the catalog in one SQLite file (WAL mode), via sqlite-utils."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

import pyarrow as pa
import sqlite_utils

from consist.domain import RunRecord
from consist.domain.errors import CatalogCorrupt
from consist.relational import (
    OWN_TABLES,
    PRUNE_FACETS,
    RecordRows,
    RelationalReads,
    consistency_problems,
    flat,
    version_problems,
)
from consist.relational.reads import Fetch

from ._connection import DEFAULT_LOCK_TIMEOUT, SQLiteFile, parse_url
from ._dialect import SQLITE, new_rows
from ._schema import MIGRATIONS, current_version, migrate

__all__ = ["SQLiteCatalog"]

T = TypeVar("T")


class SQLiteCatalog(RelationalReads):
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
    dialect = SQLITE

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

    # -- reading (the queries are RelationalReads') --------------------------

    def _reading(self, read: Callable[[Fetch], T]) -> T:
        return self._file.retry(lambda db: read(lambda sql, p: db.conn.execute(sql, p).fetchall()))

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
            for statement in PRUNE_FACETS:
                db.conn.execute(statement)

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
    problems += version_problems(current_version(db), MIGRATIONS[-1].version)
    missing = OWN_TABLES - set(db.table_names())
    if missing:
        problems.append(f"tables missing: {', '.join(sorted(missing))}")
        return problems
    return problems + consistency_problems(lambda sql: db.conn.execute(sql).fetchall())


def _arrow_column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
