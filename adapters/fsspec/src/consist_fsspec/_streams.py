"""Chunked copies that hash on the way through, and a reader that verifies at EOF."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from consist.domain.errors import IntegrityError

CHUNK_SIZE = 8 << 20


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


def hash_file(path: Path, advance: Callable[[int], None]) -> tuple[str, int]:
    """SHA-256 and size of a local file, read in chunks."""
    with open(path, "rb", buffering=0) as handle:
        return copy_hashing(handle, None, advance)


def copy_and_hash(source: Path, target: Path, advance: Callable[[int], None]) -> tuple[str, int]:
    """Copy a local file with the kernel's copy while hashing it in this thread.

    ``shutil.copyfile`` (``copy_file_range`` / ``sendfile`` on Linux) runs in a
    worker thread and never brings the bytes into Python; the hash reads the
    same pages, mostly from the page cache. The result costs about
    max(copy, hash) instead of their sum. The hash is of ``source``; callers
    that cannot trust it to stay unchanged compare its ``stat`` before and after.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="consist-copy") as pool:
        copying = pool.submit(shutil.copyfile, source, target)
        try:
            result = hash_file(source, advance)
        finally:
            copying.result()
    return result


def fsync_path(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
