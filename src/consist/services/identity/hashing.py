"""Content identity of files and directories, with a persistent memo.

Strategy ``"full"`` hashes the bytes (SHA-256); ``"fast"`` hashes size and
mtime only. A file whose (path, size, mtime_ns, inode) is unchanged since it
was last hashed is not read again: the memo, an SQLite file beside the runs,
remembers its digest, so re-checking a 100 GB input costs a ``stat``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from consist.domain.errors import InvalidInput, MissingFile

HASHING_STRATEGIES = ("full", "fast")
_CHUNK = 4 << 20
# Files bigger than this show a progress bar (when stderr is a terminal).
PROGRESS_THRESHOLD = 512 << 20


def check_strategy(strategy: str) -> str:
    if strategy not in HASHING_STRATEGIES:
        raise InvalidInput(
            f"hashing_strategy must be one of {HASHING_STRATEGIES}, not {strategy!r}"
        )
    return strategy


def sha256_file(path: Path, progress: Any = None) -> str:
    """SHA-256 of a file's bytes, read in large chunks into one reused buffer."""
    hasher = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while read := handle.readinto(buffer):
            hasher.update(view[:read])
            if progress is not None:
                progress(read)
    return hasher.hexdigest()


def _stat_key(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def fast_identity(stat: os.stat_result) -> str:
    return f"fast:{stat.st_size}:{stat.st_mtime_ns}"


class HashMemo:
    """Digests of files keyed by path, valid while size, mtime and inode are unchanged.

    Backed by SQLite (WAL) so several processes can share it; an in-process
    dictionary answers repeated questions without touching the file at all.
    A memo file that cannot be opened degrades to memory only, never to an error.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int, int], str]] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(path, check_same_thread=False, timeout=5.0)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS file_hashes (path TEXT PRIMARY KEY, size INTEGER,"
                    " mtime_ns INTEGER, inode INTEGER, digest TEXT)"
                )
                db.commit()
                self._db = db
            except sqlite3.Error:
                self._db = None

    def lookup(self, path: str, stat: os.stat_result) -> str | None:
        path = _memo_key(path)
        key = _stat_key(stat)
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None:
                return cached[1] if cached[0] == key else None
            if self._db is None:
                return None
            try:
                row = self._db.execute(
                    "SELECT size, mtime_ns, inode, digest FROM file_hashes WHERE path = ?", (path,)
                ).fetchone()
            except sqlite3.Error:
                return None
        if row is None or tuple(row[:3]) != key:
            return None
        with self._lock:
            self._cache[path] = (key, row[3])
        return str(row[3])

    def remember(self, path: str, stat: os.stat_result, digest: str) -> None:
        path = _memo_key(path)
        key = _stat_key(stat)
        with self._lock:
            self._cache[path] = (key, digest)
            if self._db is None:
                return
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?)",
                    (path, *key, digest),
                )
                self._db.commit()
            except sqlite3.Error:
                pass  # the memo is an optimisation; losing an entry costs one re-hash

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _memo_key(path: str) -> str:
    """The path as memo text; a name that is not UTF-8 as ``bytes:`` + its percent-encoding."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "bytes:" + quote(os.fsencode(path), safe="/")
    return path


class FileHasher:
    """Hashes files and directories by strategy, through the memo, in parallel."""

    def __init__(self, memo: HashMemo, strategy: str = "full", progress: bool | None = None):
        self.memo = memo
        self.strategy = check_strategy(strategy)
        self._progress = progress

    def identity(self, path: str | os.PathLike[str], strategy: str | None = None) -> str:
        """Content identity of a file or directory (see module docstring).

        Raises
        ------
        MissingFile
            If nothing exists at ``path``.
        """
        strategy = check_strategy(strategy or self.strategy)
        target = Path(path)
        try:
            stat = target.stat()
        except FileNotFoundError:
            raise MissingFile(f"cannot hash {target}: no such file or directory") from None
        if target.is_dir():
            return self._directory_identity(target, strategy)
        if strategy == "fast":
            return fast_identity(stat)
        return self._file_digest(target, stat)

    def known_identity(self, path: str | os.PathLike[str]) -> str | None:
        """The identity already on record for an unchanged file, without reading it."""
        target = Path(path)
        try:
            stat = target.stat()
        except FileNotFoundError:
            return None
        if target.is_dir():
            return None
        if self.strategy == "fast":
            return fast_identity(stat)
        return self.memo.lookup(os.path.abspath(target), stat)

    def content_hash(self, path: str | os.PathLike[str]) -> str:
        """SHA-256 of a file's bytes (or a directory's manifest), whatever the strategy."""
        return self.identity(path, strategy="full")

    def identities(self, paths: Sequence[Path], strategy: str | None = None) -> list[str]:
        """Identities of several files, hashed on parallel threads (hashlib releases the GIL)."""
        if len(paths) <= 1:
            return [self.identity(p, strategy) for p in paths]
        workers = min(len(paths), os.cpu_count() or 2, 8)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda p: self.identity(p, strategy), paths))

    def _file_digest(self, path: Path, stat: os.stat_result) -> str:
        key = os.path.abspath(path)
        known = self.memo.lookup(key, stat)
        if known is not None:
            return known
        digest = self._hash_with_progress(path, stat.st_size)
        # Only remember the digest if the file did not change while we read it.
        try:
            after = path.stat()
        except FileNotFoundError:
            raise MissingFile(f"{path} disappeared while it was being hashed") from None
        if _stat_key(after) == _stat_key(stat):
            self.memo.remember(key, stat, digest)
        return digest

    def _hash_with_progress(self, path: Path, size: int) -> str:
        show = self._progress if self._progress is not None else sys.stderr.isatty()
        if not show or size < PROGRESS_THRESHOLD:
            return sha256_file(path)
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"hashing {path.name}", total=size)
            digest = sha256_file(path, progress=lambda n: bar.advance(task, n))
        return digest

    def _directory_identity(self, root: Path, strategy: str) -> str:
        files = sorted(_walk_files(root))
        identities = self.identities([root / rel for rel in files], strategy)
        manifest = hashlib.sha256()
        for rel, identity in zip(files, identities, strict=True):
            # surrogateescape: a name that is not UTF-8 (caf\xe9.csv) hashes as its own bytes
            manifest.update(f"{rel}\x00{identity}\n".encode("utf-8", "surrogateescape"))
        return f"dir:{manifest.hexdigest()}"


def _walk_files(root: Path) -> Iterable[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            full = Path(dirpath) / name
            yield full.relative_to(root).as_posix()
