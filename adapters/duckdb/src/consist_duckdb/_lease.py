"""A TableStore opened only for bursts of work, so other processes can use the same file.

DuckDB lets one process at a time hold a database file, and a table store
keeps its connection open. When the data tables live in the catalog's own
file (the default, see ``docs/design/data-storage.md``), a store held for the
life of a Tracker would lock every other process out of the catalog. This
wrapper opens the store on demand, keeps it for ``keep_open`` idle seconds
(so a burst of calls pays for one open) and closes it again; while another
process holds the file it retries for ``lock_timeout`` seconds.
"""

from __future__ import annotations

import atexit
import random
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar, cast

from consist.domain.errors import CatalogLocked, InvalidInput
from consist.ports import (
    SupportsChangeToken,
    SupportsFsspecFiles,
    SupportsIntegrityCheck,
    TableStore,
)

__all__ = ["LeasedTableStore", "open_table_store"]

T = TypeVar("T")

_open_stores: weakref.WeakSet[LeasedTableStore] = weakref.WeakSet()


@atexit.register
def _close_open_stores() -> None:
    # A store closed by its idle thread while the interpreter shuts down can
    # abort the process inside DuckDB; close them while Python still runs.
    for store in list(_open_stores):
        store.close()


class LeasedTableStore:
    """TableStore that opens the real one (``open_store()``) per burst of calls.

    Parameters
    ----------
    open_store
        Builds a fresh store (``DuckDBTableStore(url)``, say); called on each lease.
    keep_open
        Idle seconds before the store is closed and the file released.
    lock_timeout
        Seconds to keep retrying while another process holds the file.
    shares_catalog
        True when the store's database is the catalog's own file, so SQL run
        here sees the catalog tables too.

    Attributes
    ----------
    guard
        Context manager factory wrapped around every open and close. For a
        shared file the wiring sets it to the catalog's own connection lease:
        DuckDB's in-process instance cache is not safe against one thread
        opening a file while another closes the last connection to it (we saw
        half-initialised instances without ``python_arrow_scan``), so the store
        only ever opens and closes while the catalog holds the instance open.
    """

    def __init__(
        self,
        open_store: Callable[[], TableStore],
        *,
        keep_open: float = 0.5,
        lock_timeout: float = 10.0,
        shares_catalog: bool = False,
    ) -> None:
        self._open_store = open_store
        self._keep_open = keep_open
        self._lock_timeout = lock_timeout
        self.shares_catalog = shares_catalog
        self._mutex = threading.RLock()
        self._store: TableStore | None = None
        self._depth = 0
        self._last_used = 0.0
        self._reaper: threading.Thread | None = None
        self._closed = False
        self._opens = 0
        self._filesystems: list[Any] = []  # registered again on every open
        _open_stores.add(self)
        self.guard: Callable[[], AbstractContextManager[Any]] = nullcontext

    @contextmanager
    def lease(self) -> Iterator[TableStore]:
        """The open store for a burst of calls; nested leases share it."""
        with self._mutex:
            if self._closed:
                raise InvalidInput("this table store is closed; create a new Tracker")
            if self._store is None:
                self._store = self._open()
            self._depth += 1
            try:
                yield self._store
            finally:
                self._depth -= 1
                self._last_used = time.monotonic()
                if self._depth == 0 and self._reaper is None:
                    self._reaper = threading.Thread(
                        target=self._reap, name="consist-tables-idle-close", daemon=True
                    )
                    self._reaper.start()

    def _open(self) -> TableStore:
        deadline = time.monotonic() + self._lock_timeout
        delay = 0.005
        while True:
            try:
                with self.guard():
                    store = self._open_store()
                    for filesystem in self._filesystems:
                        cast(SupportsFsspecFiles, store).register_filesystem(filesystem)
                self._opens += 1  # another process may have written while it was closed
                return store
            except CatalogLocked:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, 0.2)

    def _reap(self) -> None:
        while True:
            with self._mutex:
                wait = self._last_used + self._keep_open - time.monotonic()
                if self._store is None or (wait <= 0 and self._depth == 0):
                    self._release()
                    self._reaper = None
                    return
            time.sleep(max(wait, 0.005))

    def _release(self, guarded: bool = True) -> None:
        store, self._store = self._store, None
        if store is not None:
            with self.guard() if guarded else nullcontext():
                store.close()

    def register_filesystem(self, filesystem: Any) -> None:
        """Let SQL read ``<protocol>://`` paths through an fsspec filesystem, now and
        after every reopen (``SupportsFsspecFiles``).

        Raises
        ------
        InvalidInput
            The stores this one opens cannot read fsspec files.
        """
        with self.lease() as store:
            if not isinstance(store, SupportsFsspecFiles):
                raise InvalidInput(f"{type(store).__name__} cannot read fsspec filesystems")
            store.register_filesystem(filesystem)
            if filesystem not in self._filesystems:
                self._filesystems.append(filesystem)

    def change_token(self) -> Hashable:
        """Changes when the store is reopened or the open store reports a write.

        While the store is open no other process can write to its file; while
        it is closed, or when the inner store cannot tell, the token equals
        nothing, not even a later one.
        """
        with self._mutex:
            store = self._store
            if store is None or not isinstance(store, SupportsChangeToken):
                return object()
            return (self._opens, store.change_token())

    def _call(self, use: Callable[[TableStore], T]) -> T:
        with self.lease() as store:
            return use(store)

    # -- the TableStore port -------------------------------------------------

    def write_rows(self, table: str, data: Any, *, artifact_id: str) -> int:
        return self._call(lambda s: s.write_rows(table, data, artifact_id=artifact_id))

    def has_rows(self, table: str, artifact_id: str) -> bool:
        return self._call(lambda s: s.has_rows(table, artifact_id))

    def create_view(self, name: str, select_sql: str) -> None:
        self._call(lambda s: s.create_view(name, select_sql))

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return self._call(lambda s: s.query(sql, params))

    def tables(self) -> list[str]:
        return self._call(lambda s: s.tables())

    def check(self) -> list[str]:
        """The store's own integrity check, when it offers one (``SupportsIntegrityCheck``)."""
        return self._call(
            lambda s: list(s.check()) if isinstance(s, SupportsIntegrityCheck) else []
        )

    def close(self) -> None:
        """Close the store now; safe to call twice.

        Not guarded: the Tracker closes its catalog first, and reopening it here
        only to close this connection would be wasted work.
        """
        with self._mutex:
            self._closed = True
            self._release(guarded=False)

    def __repr__(self) -> str:
        return f"LeasedTableStore({self._open_store!r}, shares_catalog={self.shares_catalog})"


def open_table_store(url: str, *, shares_catalog: bool = False) -> TableStore:
    """The ``consist.tables`` entry point for ``duckdb://``: a database file is opened
    only for bursts of work (:class:`LeasedTableStore`), an in-memory one held open."""
    from ._tables import DuckDBTableStore

    if ":memory:" in url:
        return DuckDBTableStore(url)
    return LeasedTableStore(lambda: DuckDBTableStore(url), shares_catalog=shares_catalog)
