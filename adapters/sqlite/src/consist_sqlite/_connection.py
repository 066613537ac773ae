"""One SQLite connection per catalog: URL parsing, WAL setup, lock retries, vendor errors.

SQLite in WAL mode lets readers and one writer work side by side; a writer
waits for another up to ``busy_timeout`` inside SQLite, and this module retries
whole transactions on top of that until the caller's lock budget is spent.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from consist import relational
from consist.domain.errors import CatalogError, CatalogLocked
from consist.relational.dialect import MEMORY

from ._dialect import SQLITE

__all__ = ["DEFAULT_LOCK_TIMEOUT", "MEMORY", "SQLiteFile", "parse_url", "translate"]

DEFAULT_LOCK_TIMEOUT = 10.0
# SQLite waits this long on a busy file before we back off and try again; short
# enough that the retry loop, not SQLite, decides when the budget is spent.
_BUSY_SLICE_MS = 1000

T = TypeVar("T")


def parse_url(url: str) -> tuple[str, dict[str, float]]:
    """The database path (or ``:memory:``) and options of a ``sqlite://`` URL
    (``?lock_timeout=SECONDS``); see ``consist.relational.parse_url``."""
    return relational.parse_url(url, SQLITE)


def translate(exc: BaseException, path: str) -> CatalogError:
    """The Consist error for an SQLite exception raised while using ``path``."""
    return relational.translate(exc, path, SQLITE)


class SQLiteFile:
    """An SQLite database in WAL mode behind a lock, with retried transactions.

    Parameters
    ----------
    path
        Database file or ``:memory:``.
    lock_timeout
        Seconds to keep retrying a transaction that finds the file locked.
    """

    def __init__(self, path: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.mutex = threading.RLock()
        self.db: sqlite_utils.Database | None = None
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(
                    f"cannot create the folder for the catalog {path}: {exc}"
                ) from None
        try:
            conn = sqlite3.connect(
                path, timeout=_BUSY_SLICE_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise translate(exc, path) from None
        self.db = sqlite_utils.Database(conn)
        self.retry(self._configure)

    def _configure(self, db: sqlite_utils.Database) -> None:
        db.conn.execute(f"PRAGMA busy_timeout = {_BUSY_SLICE_MS}")
        if self.path != MEMORY:
            db.conn.execute("PRAGMA journal_mode = WAL")
            # With WAL, NORMAL still never corrupts the file; a power cut may
            # lose the last commits, which the JSON snapshots still hold.
            db.conn.execute("PRAGMA synchronous = NORMAL")

    @property
    def conn(self) -> sqlite3.Connection:
        if self.db is None:
            raise CatalogError(f"the SQLite catalog {self.path} is closed")
        return self.db.conn

    def retry(self, fn: Callable[[sqlite_utils.Database], T], *, write: bool = False) -> T:
        """Call ``fn(db)`` (in an immediate transaction when ``write``), retrying lock errors.

        Raises
        ------
        CatalogLocked
            When the file stayed locked for the whole ``lock_timeout``.
        CatalogCorrupt, CatalogError
            For any other SQLite error.
        """
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        while True:
            with self.mutex:  # not held while backing off: other threads' reads go on
                db = self.db
                if db is None:
                    raise CatalogError(f"the SQLite catalog {self.path} is closed")
                try:
                    if not write:
                        return fn(db)
                    db.conn.execute("BEGIN IMMEDIATE")
                    try:
                        result = fn(db)
                        db.conn.execute("COMMIT")
                    except BaseException:
                        if db.conn.in_transaction:
                            db.conn.execute("ROLLBACK")
                        raise
                    return result
                except sqlite3.Error as exc:
                    error = translate(exc, self.path)
                    if not isinstance(error, CatalogLocked) or time.monotonic() >= deadline:
                        raise error from None
            time.sleep(max(0.0, min(random.uniform(delay / 2, delay), deadline - time.monotonic())))
            delay = min(delay * 2, 0.2)

    def change_token(self) -> Hashable:
        """Equal to an earlier token only if nothing was committed in between.

        ``data_version`` moves when another connection (any process) commits,
        ``total_changes`` when this one changes rows, ``schema_version`` when
        anyone changes the schema. A closed file's token equals nothing.
        """
        with self.mutex:
            db = self.db
            if db is None:
                return object()
            try:
                (data_version,) = db.conn.execute("PRAGMA data_version").fetchone()
                (schema_version,) = db.conn.execute("PRAGMA schema_version").fetchone()
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from None
            return (id(db), db.conn.total_changes, data_version, schema_version)

    def close(self) -> None:
        with self.mutex:
            db, self.db = self.db, None
            if db is not None:
                db.close()
