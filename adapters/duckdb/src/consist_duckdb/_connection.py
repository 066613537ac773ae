"""Short-lived DuckDB connections: URL parsing, lock retries and vendor-error translation.

DuckDB lets one process at a time open a database file for writing, and an
open connection holds that lock. :class:`LeasedDatabase` therefore opens the
file only for a burst of work and lets it go again, so several processes (a
tracker per worker, a notebook, the CLI) can share one catalog file.
"""

from __future__ import annotations

import atexit
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from consist import relational
from consist.domain.errors import CatalogError, CatalogLocked, ConsistError
from consist.relational.dialect import MEMORY

from ._dialect import DUCKDB
from ._file_gate import FileGate

__all__ = [
    "DEFAULT_KEEP_OPEN",
    "DEFAULT_LOCK_TIMEOUT",
    "LeasedDatabase",
    "parse_url",
    "translate",
]

DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_KEEP_OPEN = 0.1


def parse_url(url: str) -> tuple[str, dict[str, float]]:
    """The database path (or ``:memory:``) and options of a ``duckdb://`` URL
    (``?lock_timeout=30&keep_open=0.5``); see ``consist.relational.parse_url``."""
    return relational.parse_url(url, DUCKDB)


def translate(exc: BaseException, path: str) -> CatalogError:
    """The Consist error for a DuckDB exception raised while using ``path``."""
    return relational.translate(exc, path, DUCKDB)


_open_databases: weakref.WeakSet[LeasedDatabase] = weakref.WeakSet()


def filesystem_name(filesystem: Any) -> str:
    """The name DuckDB registers an fsspec filesystem under: its (first) protocol."""
    protocol = filesystem.protocol
    return str(protocol if isinstance(protocol, str) else protocol[0])


def attach_filesystem(conn: duckdb.DuckDBPyConnection, filesystem: Any) -> None:
    """Register ``filesystem`` with the database of ``conn``, replacing one of its name."""
    name = filesystem_name(filesystem)
    if name in conn.list_filesystems():
        conn.unregister_filesystem(name)
    conn.register_filesystem(filesystem)


@atexit.register
def _close_open_databases() -> None:
    # An idle-close thread still inside DuckDB when the interpreter shuts
    # down aborts the process ("terminate called ..."); close them first.
    for database in list(_open_databases):
        database.close(wait_for_users=5.0)


class LeasedDatabase:
    """One DuckDB database, opened for bursts of work and closed when idle.

    Parameters
    ----------
    path
        Database file, or ``:memory:`` (kept open until :meth:`close`).
    on_open
        Called with every fresh connection (session settings, migrations).
    lock_timeout
        Seconds to keep retrying while another process holds the file.
    keep_open
        Seconds an idle connection stays open, so a burst of calls pays for
        one connect (about 20 ms with DuckDB) instead of one each.
    max_hold
        Seconds after which a busy connection is closed anyway, for fairness.
    """

    def __init__(
        self,
        path: str,
        on_open: Callable[[duckdb.DuckDBPyConnection], None],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        keep_open: float = DEFAULT_KEEP_OPEN,
        max_hold: float = 2.0,
    ) -> None:
        self.path = path
        self._on_open = on_open
        self.lock_timeout = lock_timeout
        self._keep_open = keep_open
        self._max_hold = max_hold
        # Held at least this long before stepping aside for a waiting process,
        # so that a queue of writers still batches a few operations per open.
        self._min_slice = min(0.25, max_hold)
        self._mutex = threading.RLock()  # connection state and user counts, held briefly
        self._opening = threading.Lock()  # one open at a time; held while waiting for the file
        self._foreign_holder = False  # the last open found the file held by a non-Consist program
        self._write_turn = threading.RLock()
        self._read_turn = threading.RLock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._reader: duckdb.DuckDBPyConnection | None = None
        self._depth = 0
        self._readers = 0
        self._opened_at = 0.0
        self._opened_wall_ns = 0
        self._last_used = 0.0
        self._resume_after = 0.0
        self._reaper: threading.Thread | None = None
        self._gate = FileGate(f"{path}.lock")
        # Bumped after every write lease and whenever the file is opened or let
        # go: while we hold the file no other process can write to it.
        self._generation = 0
        self._filesystems: dict[str, Any] = {}  # fsspec filesystems, registered on each open
        _open_databases.add(self)

    def change_token(self) -> Hashable:
        """Equal between two looks only if no write can have been committed in between.

        While the file is open here no other process can write to it, so
        counting our own write leases and opens is enough; while it is closed
        anyone may write, and the token equals nothing, not even a later one.
        """
        with self._mutex:
            return self._generation if self._conn is not None else object()

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    @contextmanager
    def lease(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The write connection for one operation; nested leases share it.

        Raises
        ------
        CatalogLocked, CatalogCorrupt, CatalogError
            Translated from whatever DuckDB raised.
        """
        # Writers take turns on the one write connection; the state lock is
        # held only to open it and count users, so readers are never queued
        # behind a write in progress.
        with self._write_turn:
            with self._opening:  # not the state lock: reads go on while this waits for the file
                self._ensure_fresh()
                with self._mutex:
                    conn = self._conn
                    assert conn is not None
                    self._depth += 1
            failed = False
            try:
                yield conn
            except duckdb.Error as exc:
                failed = True
                raise translate(exc, self.path) from None
            except ConsistError:
                raise  # an answer ("no such run"), not a broken connection: keep it open
            except BaseException:
                failed = True
                raise
            finally:
                with self._mutex:
                    self._depth -= 1
                    self._generation += 1  # after the commit, so a reader never misses it
                    if self._depth == 0 and self._readers == 0:
                        self._after_use(failed)

    @contextmanager
    def read_lease(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The read cursor for one read; it proceeds while a write holds :meth:`lease`.

        The cursor is a second connection to the same DuckDB instance, made when
        the write connection opens: a read sees the last committed state and
        does not wait for a write in progress on another thread.

        Raises
        ------
        CatalogLocked, CatalogCorrupt, CatalogError
            Translated from whatever DuckDB raised.
        """
        with self._read_turn:
            cursor = self._enter_read()
            if cursor is None:  # another program holds the file: read beside it
                with self._read_only_connection() as conn:
                    yield conn
                return
            failed = False
            try:
                yield cursor
            except duckdb.Error as exc:
                failed = True
                raise translate(exc, self.path) from None
            except ConsistError:
                raise
            except BaseException:
                failed = True
                raise
            finally:
                with self._mutex:
                    self._readers -= 1
                    if self._depth == 0 and self._readers == 0:
                        self._after_use(failed)

    def _enter_read(self) -> duckdb.DuckDBPyConnection | None:
        """The shared read cursor, opening the file if needed; None when another
        program (not Consist) holds the file and a read-only connection is the way in."""
        with self._mutex:
            if self._conn is not None and (self._depth or self._readers):
                self._readers += 1
                return self._reader
        while not self._opening.acquire(timeout=0.02):
            if self._foreign_holder:
                return None  # a write here is waiting for that program; do not queue behind it
        try:
            try:
                self._ensure_fresh(for_read=True)
            except _HeldByAnotherProgram:
                return None
            with self._mutex:
                self._readers += 1
                return self._reader
        finally:
            self._opening.release()

    @contextmanager
    def _read_only_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection of its own, for one read, beside another program's.

        DuckDB lets any number of read-only connections share a file; retried
        like a write open while the other program holds it for writing.
        """
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        while True:
            try:
                conn = duckdb.connect(self.path, read_only=True)
                break
            except duckdb.Error as exc:
                error = translate(exc, self.path)
                if not isinstance(error, CatalogLocked) or time.monotonic() >= deadline:
                    raise error from None
            time.sleep(max(0.0, min(random.uniform(delay / 2, delay), deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)
        try:
            for filesystem in self._filesystems.values():
                attach_filesystem(conn, filesystem)
            yield conn
        except duckdb.Error as exc:
            raise translate(exc, self.path) from None
        finally:
            conn.close()

    def register_filesystem(self, filesystem: Any) -> None:
        """Let SQL read ``<protocol>://`` paths through an fsspec filesystem, now and
        after every reopen; a filesystem of the same protocol replaces the earlier one."""
        with self._mutex:
            self._filesystems[filesystem_name(filesystem)] = filesystem
            if self._conn is not None:
                attach_filesystem(self._conn, filesystem)

    def close(self, wait_for_users: float = 0.0) -> None:
        """Close the connection, after waiting up to ``wait_for_users`` seconds for
        leases in progress on other threads to end."""
        deadline = time.monotonic() + wait_for_users
        while True:
            with self._mutex:
                busy = self._depth or self._readers
                if not busy or time.monotonic() >= deadline:
                    self._release()
                    return
            time.sleep(0.005)

    def _ensure_fresh(self, for_read: bool = False) -> None:
        """Open the file if it is closed (or held too long and idle); the caller holds
        ``_opening``, and the state lock is not held while waiting for the file."""
        with self._mutex:
            idle = self._depth == 0 and self._readers == 0
            stale = time.monotonic() - self._opened_at >= self._max_hold
            if idle and self._conn is not None and not self.in_memory and stale:
                self._release()
            if self._conn is not None:
                return
        conn = self._open(for_read)
        with self._mutex:
            self._conn = conn
            try:
                for filesystem in self._filesystems.values():
                    attach_filesystem(self._conn, filesystem)
                self._reader = self._conn.cursor()
            except duckdb.Error as exc:
                self._release()
                raise translate(exc, self.path) from None
            self._opened_at = time.monotonic()
            self._opened_wall_ns = time.time_ns()
            self._generation += 1  # another process may have written while we were closed

    def _open(self, for_read: bool = False) -> duckdb.DuckDBPyConnection:
        """The write connection, retried until ``lock_timeout``.

        ``for_read``: give up at once (``_HeldByAnotherProgram``) when a program
        that is not Consist holds the file, so the caller can read beside it.
        """
        pause = self._resume_after - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.001
        while True:
            gate_open = self._make_parent() and self._gate.try_acquire()
            if gate_open:
                self._drop_if_empty()
                try:
                    conn = duckdb.connect(self.path)
                except duckdb.Error as exc:
                    self._gate.release()
                    error = translate(exc, self.path)
                    if isinstance(error, CatalogLocked):
                        self._foreign_holder = True  # we held the gate: not a Consist process
                        if for_read:
                            raise _HeldByAnotherProgram from None
                    if not isinstance(error, CatalogLocked) or time.monotonic() >= deadline:
                        raise error from None
                else:
                    self._foreign_holder = False
                    return self._prepared(conn)
            elif time.monotonic() >= deadline:
                raise translate(
                    RuntimeError("Could not set lock: held by a Consist process"), self.path
                )
            self._gate.signal_waiting()
            # Waiting on the gate costs a syscall per try, so poll it often;
            # a foreign holder (no gate) costs a full DuckDB start per try.
            cap = 0.02 if not gate_open else 0.1
            time.sleep(max(0.0, min(random.uniform(delay / 2, delay), deadline - time.monotonic())))
            delay = min(delay * 2, cap)

    def _drop_if_empty(self) -> None:
        """A 0-byte file holds nothing (DuckDB refuses it): start a new database there.

        Called with the gate held, so no other Consist process is creating it.
        """
        if self.in_memory:
            return
        try:
            if os.stat(self.path).st_size == 0:
                os.unlink(self.path)
        except OSError:
            pass

    def _make_parent(self) -> bool:
        if not self.in_memory:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(
                    f"cannot create the folder for the catalog {self.path}: {exc}"
                ) from None
        return True

    def _prepared(self, conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        try:
            self._on_open(conn)
        except BaseException as exc:
            conn.close()
            self._gate.release()
            if isinstance(exc, duckdb.Error):
                raise translate(exc, self.path) from None
            raise
        return conn

    def _after_use(self, failed: bool) -> None:
        self._last_used = time.monotonic()
        if self.in_memory:
            return
        held = self._last_used - self._opened_at
        idle = self._readers == 0 and self._depth == 0  # no cursor may outlive its connection
        if idle and (failed or held >= self._max_hold):
            self._release()
        elif idle and held >= self._min_slice and self._gate.someone_waiting(self._opened_wall_ns):
            self._release()
            # Give the waiting process a head start before we queue again.
            self._resume_after = time.monotonic() + random.uniform(0.01, 0.04)
        elif self._reaper is None:
            self._reaper = threading.Thread(
                target=self._reap, name="consist-duckdb-idle-close", daemon=True
            )
            self._reaper.start()

    def _reap(self) -> None:
        while True:
            with self._mutex:
                if self._conn is None:
                    self._reaper = None
                    return
                wait = self._last_used + self._keep_open - time.monotonic()
                if wait <= 0 and self._depth == 0 and self._readers == 0:
                    self._release()
                    self._reaper = None
                    return
            time.sleep(max(wait, 0.005))

    def _release(self) -> None:
        reader, self._reader = self._reader, None
        conn, self._conn = self._conn, None
        for handle in (reader, conn):
            if handle is not None:
                try:
                    handle.close()
                except duckdb.Error:
                    pass
        if conn is not None:
            self._gate.release()
            self._generation += 1


class _HeldByAnotherProgram(Exception):
    """The file is held by a program that is not Consist (internal signal)."""
