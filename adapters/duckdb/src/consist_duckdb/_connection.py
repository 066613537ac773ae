"""Short-lived DuckDB connections: URL parsing, lock retries and vendor-error translation.

DuckDB lets one process at a time open a database file for writing, and an
open connection holds that lock. :class:`LeasedDatabase` therefore opens the
file only for a burst of work and lets it go again, so several processes (a
tracker per worker, a notebook, the CLI) can share one catalog file.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

import duckdb

from consist.domain.errors import CatalogCorrupt, CatalogError, CatalogLocked, InvalidURI

__all__ = [
    "DEFAULT_KEEP_OPEN",
    "DEFAULT_LOCK_TIMEOUT",
    "LeasedDatabase",
    "parse_url",
    "translate",
]

DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_KEEP_OPEN = 0.1
MEMORY = ":memory:"

_LOCK_MARKERS = ("could not set lock", "conflicting lock", "conflict on")
_CORRUPT_MARKERS = (
    "not a valid duckdb database file",
    "could not read enough bytes",
    "corrupt",
    "checksum",
    "failed to load metadata",
    "invalid block",
    "serialization error",
)
REBUILD_HINT = "run `consist db rebuild` to recreate it from the JSON snapshots"


def parse_url(url: str) -> tuple[str, dict[str, float]]:
    """The database path (or ``:memory:``) and numeric options of a ``duckdb://`` URL.

    ``duckdb:///abs/c.duckdb`` is absolute, ``duckdb://rel/c.duckdb`` relative to
    the working directory; ``?lock_timeout=30&keep_open=0.5`` set options.

    Raises
    ------
    InvalidURI
        If the scheme is not ``duckdb`` or no path is given.
    """
    scheme, sep, rest = url.partition("://")
    if scheme != "duckdb" or not sep:
        raise InvalidURI(f"{url!r} is not a duckdb:// URL (e.g. duckdb:///abs/path.duckdb)")
    rest, _, query = rest.partition("?")
    options: dict[str, float] = {}
    for name, values in parse_qs(query).items():
        if name not in ("lock_timeout", "keep_open"):
            raise InvalidURI(f"unknown option {name!r} in {url!r}; known: lock_timeout, keep_open")
        try:
            options[name] = float(values[-1])
        except ValueError:
            raise InvalidURI(f"option {name!r} in {url!r} must be a number") from None
    if rest in ("", MEMORY, "/" + MEMORY):
        if rest == "":
            raise InvalidURI(f"{url!r} names no file; use duckdb://:memory: for an in-memory one")
        return MEMORY, options
    return str(Path(rest).expanduser().absolute()), options


def translate(exc: BaseException, path: str) -> CatalogError:
    """The Consist error for a DuckDB exception raised while using ``path``."""
    message = str(exc)
    lowered = message.lower()
    if any(marker in lowered for marker in _LOCK_MARKERS):
        return CatalogLocked(
            f"the catalog {path} is held by another process ({message}). Close the other "
            "program using it (a DuckDB shell, a notebook, a long query), or allow a longer "
            "wait with ?lock_timeout=SECONDS; runs are kept in their JSON snapshots "
            "meanwhile and `consist db sync` indexes them later"
        )
    if any(marker in lowered for marker in _CORRUPT_MARKERS):
        return CatalogCorrupt(
            f"the catalog file {path} is damaged or is not a DuckDB database ({message}); "
            f"move it aside and {REBUILD_HINT}"
        )
    return CatalogError(f"DuckDB catalog {path}: {message}")


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
        max_hold: float = 0.5,
    ) -> None:
        self.path = path
        self._on_open = on_open
        self.lock_timeout = lock_timeout
        self._keep_open = keep_open
        self._max_hold = max_hold
        # Held at least this long before stepping aside for a waiting process,
        # so that a queue of writers still batches a few operations per open.
        self._min_slice = min(0.05, max_hold)
        self._mutex = threading.RLock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._depth = 0
        self._opened_at = 0.0
        self._opened_wall_ns = 0
        self._last_used = 0.0
        self._resume_after = 0.0
        self._reaper: threading.Thread | None = None
        self._waiting_flag = f"{path}.waiting"

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    @contextmanager
    def lease(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation; nested leases share it.

        Raises
        ------
        CatalogLocked, CatalogCorrupt, CatalogError
            Translated from whatever DuckDB raised.
        """
        with self._mutex:
            if self._depth == 0:
                self._ensure_fresh()
            conn = self._conn
            assert conn is not None
            self._depth += 1
            failed = False
            try:
                yield conn
            except duckdb.Error as exc:
                failed = True
                raise translate(exc, self.path) from None
            except BaseException:
                failed = True
                raise
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._after_use(failed)

    def close(self) -> None:
        with self._mutex:
            self._release()

    def _ensure_fresh(self) -> None:
        if self._conn is not None and not self.in_memory:
            if time.monotonic() - self._opened_at >= self._max_hold:
                self._release()
        if self._conn is None:
            self._conn = self._open()
            self._opened_at = time.monotonic()
            self._opened_wall_ns = time.time_ns()

    def _open(self) -> duckdb.DuckDBPyConnection:
        pause = self._resume_after - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.002
        while True:
            try:
                conn = duckdb.connect(self.path)
            except duckdb.Error as exc:
                error = translate(exc, self.path)
                if not isinstance(error, CatalogLocked) or time.monotonic() >= deadline:
                    raise error from None
                self._signal_waiting()
                time.sleep(max(0.0, min(random.uniform(delay / 2, delay), deadline - time.monotonic())))
                delay = min(delay * 2, 0.1)
                continue
            try:
                self._on_open(conn)
            except duckdb.Error as exc:
                conn.close()
                raise translate(exc, self.path) from None
            except BaseException:
                conn.close()
                raise
            return conn

    def _signal_waiting(self) -> None:
        # A file's mtime is the only channel between processes that needs no
        # server: the holder sees it changed after it opened and steps aside.
        try:
            Path(self._waiting_flag).touch()
        except OSError:
            pass

    def _someone_waiting(self) -> bool:
        try:
            return os.stat(self._waiting_flag).st_mtime_ns >= self._opened_wall_ns
        except OSError:
            return False

    def _after_use(self, failed: bool) -> None:
        self._last_used = time.monotonic()
        if self.in_memory:
            return
        held = self._last_used - self._opened_at
        if failed or held >= self._max_hold:
            self._release()
        elif held >= self._min_slice and self._someone_waiting():
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
                if wait <= 0 and self._depth == 0:
                    self._release()
                    self._reaper = None
                    return
            time.sleep(max(wait, 0.005))

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except duckdb.Error:
                pass

