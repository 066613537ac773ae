"""Chunked copies that hash on the way through, and a reader that verifies at EOF."""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import os
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from consist.domain.errors import IntegrityError

CHUNK_SIZE = 8 << 20
# Local hashing reads into reused buffers of this size: no allocation per
# chunk, and small enough to still be in cache when the hash reads them back.
HASH_CHUNK = 1 << 20
# How many of those buffers a reading thread may fill ahead of the hash.
READ_AHEAD = 4
# One kernel copy step; its writeback to disk is started as soon as it is copied.
COPY_CHUNK = 64 << 20
# Progress is reported at most this often (a bar update costs a lock and a clock read).
PROGRESS_STEP = 8 << 20
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback, do not wait for it
_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def copy_hashing(
    source: Any,
    write: Callable[[bytes], object] | None,
    advance: Callable[[int], None],
    chunk_size: int = CHUNK_SIZE,
) -> tuple[str, int]:
    """Read ``source`` in chunks, hash each, hand it to ``write``; returns (digest, size).

    Hashing runs in a worker thread while this thread writes the same chunk
    and reads the next (hashlib and file I/O both release the GIL), so a
    copy costs about max(I/O, hashing) rather than their sum. At most two
    chunks are alive at once.
    """
    hasher = hashlib.sha256()
    size = 0
    chunk: bytes = source.read(chunk_size)
    if len(chunk) < chunk_size:  # small: not worth a thread
        while chunk:
            hasher.update(chunk)
            if write is not None:
                write(chunk)
            size += len(chunk)
            advance(len(chunk))
            chunk = source.read(chunk_size)
        return hasher.hexdigest(), size
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="consist-hash") as pool:
        pending: Future[None] | None = None
        while chunk:
            if pending is not None:
                pending.result()
            pending = pool.submit(hasher.update, chunk)
            if write is not None:
                write(chunk)
            size += len(chunk)
            advance(len(chunk))
            chunk = source.read(chunk_size)
        if pending is not None:
            pending.result()
    return hasher.hexdigest(), size


def hash_file(
    path: Path, advance: Callable[[int], None], *, flush: bool = False
) -> tuple[str, int]:
    """SHA-256 and size of a local file.

    Files of a few chunks or more are read by a worker thread, a few chunks
    ahead, so that this thread does nothing but hash (about 20% faster with
    a core to spare). With ``flush``, the file is also flushed to disk
    (``fsync``) by another worker meanwhile: the flush waits on the disk, the
    hash on the CPU.
    """
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="consist-hash") as pool:
        flushing = pool.submit(fsync_path, path) if flush else None
        with open(path, "rb", buffering=0) as handle:
            result = _hash_local(handle, advance, pool)
        if flushing is not None:
            flushing.result()
    return result


def copy_and_hash(
    source: Path, target: Path, advance: Callable[[int], None], *, durable: bool = True
) -> tuple[str, int]:
    """Copy a local file inside the kernel while this thread hashes it; returns (digest, size).

    A worker thread copies in ``COPY_CHUNK`` steps with ``copy_file_range``
    (a reflink on XFS / Btrfs, a server-side copy on NFS 4.2), else
    ``sendfile``, else ``read`` / ``write``; the bytes never enter Python.
    This thread hashes ``source`` meanwhile (a second worker reads it a few
    chunks ahead), from the same pages, mostly in the page cache, so the whole
    costs about max(copy, hash) instead of their sum.

    With ``durable``, the writeback of each copied step is started at once
    (``sync_file_range`` on Linux) and ``target`` is ``fsync``-ed at the end,
    so the disk writes overlap the hashing and the final flush has little
    left to do.

    The hash is of ``source``; callers that cannot trust it to stay unchanged
    compare its ``stat`` before and after.

    Raises
    ------
    IntegrityError
        The copy and the hash saw different lengths (``source`` changed).
    """
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="consist-copy") as pool:
        copying = pool.submit(_copy_file, source, target, durable, stop)
        try:
            with open(source, "rb", buffering=0) as handle:
                digest, size = _hash_local(handle, advance, pool, lambda: _failed(copying))
        except BaseException:
            stop.set()  # the copy stops at its next step; the pool waits for it
            raise
        copied = copying.result()
    if copied != size:
        raise IntegrityError(
            f"{source} changed while it was being copied ({copied} bytes copied, {size} "
            "hashed); nothing was kept: try again once nothing is writing to it"
        )
    return digest, size


def fsync_path(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY | _O_BINARY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: Path | str) -> bool:
    """Flush a directory's entries to disk, so that a rename into it or a new entry
    survives a crash. Best effort: returns False where that is not possible
    (Windows cannot open a directory; some filesystems refuse to flush one).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return False
    try:
        os.fsync(fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def make_dirs(path: str) -> list[str]:
    """``os.makedirs(path, exist_ok=True)``; returns the directories it created, outermost first."""
    missing = []
    folder = os.path.abspath(path)
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    os.makedirs(path, exist_ok=True)
    return missing[::-1]


def _hash_stream(
    handle: Any, advance: Callable[[int], None], give_up: Callable[[], bool] | None = None
) -> tuple[str, int]:
    """SHA-256 of a raw file object read with ``readinto``; ``give_up`` is polled per chunk."""
    hasher = hashlib.sha256()
    buffer = bytearray(HASH_CHUNK)
    view = memoryview(buffer)
    size = unreported = 0
    while read := handle.readinto(buffer):
        hasher.update(view[:read])  # hashlib releases the GIL for buffers this size
        size += read
        unreported += read
        if unreported >= PROGRESS_STEP:
            advance(unreported)
            unreported = 0
            if give_up is not None and give_up():
                break
    if unreported:
        advance(unreported)
    return hasher.hexdigest(), size


def _hash_local(
    handle: Any,
    advance: Callable[[int], None],
    pool: ThreadPoolExecutor,
    give_up: Callable[[], bool] | None = None,
) -> tuple[str, int]:
    """SHA-256 of a local file; ``pool`` reads ahead unless the file is only a few chunks."""
    if os.fstat(handle.fileno()).st_size < READ_AHEAD * HASH_CHUNK:
        return _hash_stream(handle, advance, give_up)
    return _hash_read_ahead(handle, advance, pool, give_up)


def _hash_read_ahead(
    handle: Any,
    advance: Callable[[int], None],
    pool: ThreadPoolExecutor,
    give_up: Callable[[], bool] | None = None,
) -> tuple[str, int]:
    """``_hash_stream`` with the reads done by a worker, into ``READ_AHEAD`` reused buffers."""
    free: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
    full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
    for _ in range(READ_AHEAD):
        free.put(bytearray(HASH_CHUNK))

    def read() -> None:
        try:
            while (buffer := free.get()) is not None:
                count = handle.readinto(buffer)
                full.put((buffer, count))
                if not count:
                    return
        except BaseException:
            full.put(None)  # wakes the hasher; reading.result() raises the error
            raise

    reading = pool.submit(read)
    hasher = hashlib.sha256()
    size = unreported = 0
    try:
        while (item := full.get()) is not None and item[1]:
            buffer, count = item
            hasher.update(memoryview(buffer)[:count])
            free.put(buffer)
            size += count
            unreported += count
            if unreported >= PROGRESS_STEP:
                advance(unreported)
                unreported = 0
                if give_up is not None and give_up():
                    break
    finally:
        free.put(None)  # the reader stops after at most READ_AHEAD more reads
    reading.result()
    if unreported:
        advance(unreported)
    return hasher.hexdigest(), size


def _failed(future: Future[Any]) -> bool:
    return future.done() and future.exception() is not None


def _copy_file(source: Path, target: Path, durable: bool, stop: threading.Event) -> int:
    source_fd = os.open(source, os.O_RDONLY | _O_BINARY)
    try:
        target_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_BINARY, 0o666)
        try:
            copied = _copy_fds(source_fd, target_fd, durable, stop)
            if durable:
                os.fsync(target_fd)
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)
    return copied


def _copy_fds(source: int, target: int, durable: bool, stop: threading.Event) -> int:
    """Copy until EOF with the fastest step this platform and filesystem accept."""
    steps = [*_KERNEL_STEPS, _read_write]
    writeback = _sync_file_range() if durable else None
    offset = 0
    while not stop.is_set():
        step = steps[0]
        try:
            copied = step(source, target, offset, COPY_CHUNK)
        except OSError as exc:
            if exc.errno in _DISK_FULL or len(steps) == 1:
                raise
            # Not supported for this pair of files (EXDEV across filesystems,
            # ENOSYS / EOPNOTSUPP / EINVAL on some filesystems): the next,
            # slower step takes over at the same offset.
            steps.pop(0)
            continue
        if not copied:
            if len(steps) == 1:
                break
            # Some filesystems (procfs-like, a few FUSE and network ones) make
            # the kernel steps report 0 before the end; a plain read decides.
            steps = [_read_write]
            continue
        if writeback is not None:
            writeback(target, offset, copied, _SYNC_FILE_RANGE_WRITE)
        offset += copied
    return offset


def _copy_file_range(source: int, target: int, offset: int, count: int) -> int:
    return os.copy_file_range(source, target, count, offset, offset)


def _sendfile(source: int, target: int, offset: int, count: int) -> int:
    os.lseek(target, offset, os.SEEK_SET)
    return os.sendfile(target, source, offset, count)


def _read_write(source: int, target: int, offset: int, count: int) -> int:
    os.lseek(source, offset, os.SEEK_SET)
    data = os.read(source, min(count, CHUNK_SIZE))
    os.lseek(target, offset, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(target, view) :]
    return len(data)


_KERNEL_STEPS: list[Callable[[int, int, int, int], int]] = []
if sys.platform.startswith("linux"):  # elsewhere sendfile only writes to sockets
    if hasattr(os, "copy_file_range"):
        _KERNEL_STEPS.append(_copy_file_range)
    if hasattr(os, "sendfile"):
        _KERNEL_STEPS.append(_sendfile)


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range`` (Linux only; the os module does not wrap it), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    # Only a hint: a failure (-1) leaves all the flushing to the final fsync.
    return function  # type: ignore[no-any-return]


class VerifyingReader(io.BufferedIOBase):
    """Wraps a blob's file object; raises ``IntegrityError`` on reaching EOF with bad bytes.

    Only a read that starts at offset 0 and goes straight to the end can be
    verified. A seek elsewhere turns verification off for this handle (the
    bytes are still served); ``get`` is the always-verified path.
    """

    def __init__(self, inner: BinaryIO, digest: str, where: str) -> None:
        super().__init__()
        self._inner = inner
        self._digest = digest
        self._where = where
        self._hasher = hashlib.sha256()
        self._position = 0
        self._verifying = True
        self._verified = False

    @property
    def verified(self) -> bool:
        """True once every byte has been read in order and matched the digest."""
        return self._verified

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._inner.seekable())

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = int(self._inner.seek(offset, whence))
        if position != self._position:
            self._verifying = False
        self._position = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while part := self._inner.read(CHUNK_SIZE):
                self._consume(part)
                parts.append(part)
            self._at_eof()
            return b"".join(parts)
        data = bytes(self._inner.read(size))
        if data:
            self._consume(data)
        elif size > 0:
            self._at_eof()
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()

    def _consume(self, data: bytes) -> None:
        if self._verifying:
            self._hasher.update(data)
        self._position += len(data)

    def _at_eof(self) -> None:
        if not self._verifying or self._verified:
            return
        if self._hasher.hexdigest() != self._digest:
            self._verifying = False
            raise IntegrityError(
                f"blob {self._digest} in {self._where} does not hash to its digest; "
                "it is corrupted: delete it and store the file again"
            )
        self._verified = True


def flush_entries(folder: str, created: list[str]) -> None:
    """After a rename into ``folder``: flush it, and the parent of every directory
    just created for it, so that the new name survives a crash (best effort)."""
    folders = [folder, *(os.path.dirname(d) for d in reversed(created))]
    for directory in dict.fromkeys(folders):
        fsync_directory(directory)


def fingerprint(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino
