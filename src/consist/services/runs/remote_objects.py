"""Artifacts at object-store URLs: identity from metadata, bytes through a local cache.

An input at ``s3://bucket/zones.parquet`` is identified by what the store
says about it (version id or ETag, plus size): a cache check is one metadata
request. With ``hashing_strategy="full"`` its SHA-256 is needed; the object
is then streamed once into a local cache, hashed on the way, and the cached
copy is what a later load (or step input) reads, as long as the store still
reports the same version. The cache keeps one version per URL, under
``<run_dir>/.consist/remote-cache``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from consist.domain.errors import AdapterNotFound, IntegrityError
from consist.domain.remote import (
    OBJECT_IDENTITY_PREFIX,
    ObjectStat,
    manifest_identity,
    object_name,
)
from consist.files import sha256_of_file, write_atomically
from consist.ports import RemoteFiles

_DIGEST_FILE = ".sha256"
_VERSION_FILE = ".version"


class RemoteObjects:
    """Identity, local copies and uploads of URL artifacts, for one tracker.

    Parameters
    ----------
    files
        Builds the RemoteFiles adapter on first use (a URL artifact may never come).
    cache_dir
        Where local copies of objects live, one folder per URL and version.
    strategy
        The tracker's hashing strategy: ``"fast"`` identifies an object by its
        version and size, ``"full"`` by the SHA-256 of its bytes.
    """

    def __init__(
        self, files: Callable[[], RemoteFiles] | None, cache_dir: Path, strategy: str
    ) -> None:
        self._factory = files
        self._files: RemoteFiles | None = None
        self.cache_dir = cache_dir
        self.strategy = strategy
        self._lock = threading.Lock()

    @property
    def files(self) -> RemoteFiles:
        if self._files is None:
            if self._factory is None:
                raise AdapterNotFound(
                    "artifacts at URLs need the fsspec adapter: install consist-fsspec "
                    "(consist-fsspec[s3] for s3://) and use consist.Tracker"
                )
            self._files = self._factory()
        return self._files

    def stat(self, url: str) -> ObjectStat:
        return self.files.stat(url)

    def identity(self, url: str, strategy: str | None = None) -> tuple[ObjectStat, str]:
        """The object's stat and its identity under ``strategy`` (the tracker's by default).

        ``"fast"``: ``object:<version>:<size>``, from metadata only. ``"full"``, or a
        store that reports no version: the SHA-256 of the bytes, streamed into the
        local cache unless that already holds this version.
        """
        stat = self.files.stat(url)
        if (strategy or self.strategy) == "fast" and stat.identity is not None:
            return stat, stat.identity
        return stat, self._digest(stat)

    def local_copy(self, url: str, recorded: str | None = None) -> Path:
        """A local file holding the object's current bytes (downloaded at most once per
        version).

        Raises
        ------
        IntegrityError
            ``recorded`` (the identity a run logged) no longer matches the object.
        RemoteObjectMissing, RemoteStoreError
            The object is gone or the store refused.
        """
        stat = self.files.stat(url)
        entry = self._entry(stat)
        if not _complete(entry, stat):
            self._fetch(stat, entry)
        if recorded is not None and not self._matches(stat, entry, recorded):
            raise IntegrityError(
                f"{url} changed since it was recorded (recorded identity {recorded}); "
                "log it again as an input to use the new version"
            )
        return entry

    def upload(self, source: Path, url: str) -> tuple[ObjectStat, str]:
        """Write ``source`` to ``url``; returns the new stat and the identity to record.

        The local file becomes the cached copy of the new version, so reading the
        output back downloads nothing.
        """
        digest = content_digest(source) if self.strategy == "full" else None
        stat = self.files.upload(source, url)
        if digest is None and stat.identity is None:  # no version to go by: hash it here
            digest = content_digest(source)
        entry = self._entry(stat)
        with self._lock:
            _drop_other_versions(entry)
            entry.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                shutil.copytree(source, entry)
            else:
                shutil.copy2(source, entry)
            _mark_complete(entry, stat)
            if digest is not None:
                _write_digest(entry, digest)
        if digest is None and stat.identity is not None:
            return stat, stat.identity
        assert digest is not None
        return stat, digest

    def filesystem(self, url: str) -> tuple[object, str]:
        return self.files.filesystem(url)

    # -- the cache ---------------------------------------------------------

    def _entry(self, stat: ObjectStat) -> Path:
        url_dir = hashlib.sha256(stat.url.encode()).hexdigest()[:32]
        version = hashlib.sha256(f"{stat.version}|{stat.size}".encode()).hexdigest()[:16]
        if stat.version is None:  # nothing tells one version from the next: never reuse
            version = "unversioned"
        return self.cache_dir / url_dir / version / object_name(stat.url)

    def _digest(self, stat: ObjectStat) -> str:
        entry = self._entry(stat)
        if stat.version is not None and _complete(entry, stat):
            known = _read_digest(entry)
            if known is not None:
                return known
            digest = content_digest(entry)  # cached by a fast-mode load: hash the local copy
            _write_digest(entry, digest)
            return digest
        return self._fetch(stat, entry)

    def _fetch(self, stat: ObjectStat, entry: Path) -> str:
        with self._lock:
            _drop_other_versions(entry)
        fetched, digest = self.files.download(stat.url, entry)
        if fetched != stat:  # rewritten between the stat and the read: cache under its own
            real = self._entry(fetched)
            real.parent.mkdir(parents=True, exist_ok=True)
            os.replace(entry, real)
            raise IntegrityError(
                f"{stat.url} changed while Consist was identifying it; run the step again"
            )
        _mark_complete(entry, stat)
        _write_digest(entry, digest)
        return digest

    def _matches(self, stat: ObjectStat, entry: Path, recorded: str) -> bool:
        if recorded.startswith(OBJECT_IDENTITY_PREFIX):
            return stat.identity == recorded
        return self._digest(stat) == recorded if entry.exists() else False


def content_digest(path: Path) -> str:
    """SHA-256 of a file, or the ``dir:`` manifest identity of a folder's files."""
    if not path.is_dir():
        return sha256_of_file(path)
    files = [p for p in path.rglob("*") if p.is_file()]
    return manifest_identity((p.relative_to(path).as_posix(), sha256_of_file(p)) for p in files)


def _complete(entry: Path, stat: ObjectStat) -> bool:
    """Whether the cache holds this version of the object whole."""
    if stat.version is None:
        return False
    try:
        marker = (entry.parent / _VERSION_FILE).read_text()
        if stat.is_folder:
            return entry.is_dir() and marker == stat.version
        return entry.stat().st_size == stat.size and marker == stat.version
    except OSError:
        return False


def _mark_complete(entry: Path, stat: ObjectStat) -> None:
    if stat.version is not None:
        write_atomically(entry.parent / _VERSION_FILE, iter([stat.version.encode()]), False)


def _read_digest(entry: Path) -> str | None:
    try:
        text = (entry.parent / _DIGEST_FILE).read_text().strip()
    except OSError:
        return None
    return text if len(text.removeprefix("dir:")) == 64 else None


def _write_digest(entry: Path, digest: str) -> None:
    write_atomically(entry.parent / _DIGEST_FILE, iter([digest.encode()]), durable=False)


def _drop_other_versions(entry: Path) -> None:
    """Keep one cached version per URL: the folders of older ones go."""
    url_dir = entry.parent.parent
    if not url_dir.is_dir():
        return
    for version_dir in url_dir.iterdir():
        if version_dir != entry.parent:
            shutil.rmtree(version_dir, ignore_errors=True)
