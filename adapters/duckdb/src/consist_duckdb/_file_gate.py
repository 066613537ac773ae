"""The gate file Consist processes queue on before opening a DuckDB file."""

from __future__ import annotations

import os
import time

try:
    import fcntl
except ImportError:  # Windows: DuckDB's own lock and retries only
    fcntl = None  # type: ignore[assignment]

from consist.relational.dialect import MEMORY

__all__ = ["FileGate"]


class FileGate:
    """An exclusive ``flock`` on ``<database>.lock`` that Consist takes before opening the file.

    A process waiting for DuckDB's own lock has to start a whole DuckDB
    instance per attempt (about 20 ms); waiting here costs one system call,
    and the lock file's mtime doubles as the "someone is waiting" signal the
    holder checks to step aside. Programs that ignore the gate (a DuckDB
    shell) are still handled by retrying DuckDB's lock error.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._last_signal = 0.0

    def try_acquire(self) -> bool:
        if fcntl is None or self.in_memory:
            return True
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            self.release()
            return True  # no gate (read-only directory, odd filesystem): rely on DuckDB's lock
        return True

    @property
    def in_memory(self) -> bool:
        return self._path == f"{MEMORY}.lock"

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def signal_waiting(self) -> None:
        now = time.monotonic()
        if now - self._last_signal < 0.01:
            return
        self._last_signal = now
        try:
            os.utime(self._path)
        except OSError:
            pass

    def someone_waiting(self, since_ns: int) -> bool:
        try:
            return os.stat(self._path).st_mtime_ns > since_ns
        except OSError:
            return False
