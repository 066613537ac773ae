"""FsspecBlobStore: content-addressed blobs on any filesystem fsspec can open."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from consist.domain.digests import check_digest
from consist.domain.errors import (
    AdapterNotFound,
    BlobNotFound,
    IntegrityError,
    InvalidURI,
    MissingFile,
    NotFound,
)
from consist.files import temp_file_beside

from . import _names
from ._listing import modified_at, version_of
from ._progress import Progress, wants_progress
from ._streams import (
    VerifyingReader,
    copy_and_hash,
    copy_hashing,
    fingerprint,
    flush_entries,
    fsync_path,
    hash_file,
    make_dirs,
)
from ._vendor_errors import VendorErrors

# Filesystems where one object write becomes visible only once complete (S3
# PutObject / CompleteMultipartUpload, GCS resumable upload finalisation, Azure
# block-list commit), while a rename is a full server-side copy. There, blobs
# are written straight to their final key; everywhere else they are staged
# under a temporary name and renamed.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"})
# A file under <root>/tmp not modified for this long is a leftover of a write
# that was interrupted (a crash, a kill): no live write pauses that long.
STALE_TEMP_AGE = 3600.0

logger = logging.getLogger("consist.fsspec")


class FsspecBlobStore:
    """Blobs under ``<root>/sha256/ab/cd/<digest>`` on a local disk, S3, GCS, Azure or memory.

    Parameters
    ----------
    url
        Any fsspec URL or a plain path: ``/data/blobs``, ``file:///data/blobs``,
        ``s3://bucket/prefix``, ``gcs://bucket/prefix``, ``az://container/prefix``,
        ``memory://scratch``.
    storage_options
        Passed to the fsspec filesystem (``key``, ``secret``, ``client_kwargs``,
        ``profile``, ...). Without them the backend's usual credential chain
        applies. The values never appear in ``repr()`` or in error messages.
    progress
        Show a progress bar on stderr for transfers of 64 MiB or more: ``True``
        always, ``False`` never, ``None`` (default) when stderr is a terminal.
    durable
        Flush what is written to a local disk (``fsync``) before it becomes
        visible: a blob before it is renamed to its digest, a fetched file
        before it replaces ``destination`` (default ``True``); after the
        rename, its directory is flushed too, so that the new name survives a
        crash (best effort: not on Windows). ``False`` skips the flushes, for
        scratch disks whose contents do not outlive a crash anyway: after a
        power loss or kernel crash a blob may then be empty or incomplete;
        ``get`` still refuses it (``IntegrityError``) and the next ``put`` of
        the same file replaces it if its size is wrong. Object stores (S3,
        GCS, Azure) are unaffected.

    Raises
    ------
    InvalidURI
        fsspec does not know the URL's scheme.
    AdapterNotFound
        The scheme needs a package that is not installed (``s3fs``, ``gcsfs``, ``adlfs``).
    """

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        progress: bool | None = None,
        durable: bool = True,
    ) -> None:
        self.url = url
        self._options = dict(storage_options or {})
        self._progress = progress
        self._durable = durable
        self._errors = VendorErrors(url, self._options)
        self._where = self._errors.where
        try:
            fs, root = fsspec.core.url_to_fs(url, **self._options)
        except ImportError as exc:
            raise AdapterNotFound(
                f"blob store {self._where} needs a package that is not installed "
                f"({self._errors.scrub(str(exc))}); for S3 install consist-fsspec[s3], for GCS "
                "consist-fsspec[gcs], for Azure consist-fsspec[azure]"
            ) from None
        except ValueError as exc:
            raise InvalidURI(
                f"cannot open blob store {self._where}: {self._errors.scrub(str(exc))}"
            ) from None
        self._fs: Any = fs
        self._root = str(root).rstrip("/")
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self._direct = bool(protocols & _OBJECT_STORES)
        self._local = isinstance(fs, LocalFileSystem)
        if not self._direct:
            try:
                self.remove_stale_temps()
            except Exception as exc:  # opening a store never fails for want of tidying
                logger.debug("blob store %s: tmp/ not cleaned (%s)", self._where, exc)

    def __repr__(self) -> str:
        hidden = ", ".join(f"{key!r}: '***'" for key in sorted(self._options))
        return f"FsspecBlobStore({self._where!r}, storage_options={{{hidden}}})"

    # -- BlobStore ---------------------------------------------------------

    def put(self, path: Path) -> str:
        """Store a file's bytes, streaming them; returns their SHA-256 digest.

        Raises
        ------
        MissingFile
            ``path`` is not a file.
        IntegrityError
            The file changed while it was being uploaded (nothing is kept).
        BlobStoreError
            The store could not be written.
        """
        path = Path(path)
        if not path.is_file():
            raise MissingFile(f"cannot store {path}: no such file")
        with Progress(wants_progress(self._progress)) as progress:
            if self._direct:
                return self._put_direct(path, progress)
            if self._local:
                return self._put_local(path, progress)
            return self._put_staged(path, progress)

    def get(self, digest: str, destination: Path) -> Path:
        """Write the blob to ``destination`` through a temp file beside it, verified.

        The file gets the permissions of any new file (0666 less the umask).

        Raises
        ------
        BlobNotFound
            The store holds no such blob.
        IntegrityError
            The stored bytes do not hash to ``digest``; ``destination`` is untouched.
        BlobStoreError
            The store could not be read.
        """
        key = _names.blob_key(self._root, check_digest(digest))
        destination = Path(destination)
        created = make_dirs(str(destination.parent))
        fd, temp_name = temp_file_beside(destination)  # 0666 less the umask, not 0600
        try:
            with Progress(wants_progress(self._progress)) as progress:
                if self._direct:
                    os.close(fd)
                    actual = self._download_then_hash(digest, key, temp_name, progress)
                elif self._local:
                    os.close(fd)
                    actual = self._copy_out(digest, key, temp_name, progress)
                else:
                    actual = self._stream_to(digest, key, fd, progress)
            if actual != digest:
                raise IntegrityError(
                    f"blob {digest} in {self._where} hashes to {actual}; it is corrupted: "
                    "delete it and store the file again"
                )
            os.replace(temp_name, destination)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        if self._durable:
            flush_entries(str(destination.parent), created)
        return destination

    def open(self, digest: str) -> BinaryIO:
        """A file object over the blob that raises ``IntegrityError`` at EOF if corrupted.

        Raises
        ------
        BlobNotFound
            The store holds no such blob.
        """
        key = _names.blob_key(self._root, check_digest(digest))
        with self._errors.translated("open", not_found=lambda: BlobNotFound(digest, self._where)):
            inner = self._fs.open(key, "rb")
        return VerifyingReader(inner, digest, self._where)  # type: ignore[return-value]

    def fsspec_location(self, digest: str) -> tuple[Any, str]:
        """The filesystem holding a blob and its URL there (``SupportsInPlaceReads``).

        A local store gives a plain absolute path; others a URL with the
        protocol (``s3://bucket/prefix/sha256/ab/cd/<digest>``).
        """
        key = _names.blob_key(self._root, check_digest(digest))
        return self._fs, key if self._local else self._fs.unstrip_protocol(key)

    def exists(self, digest: str) -> bool:
        key = _names.blob_key(self._root, check_digest(digest))
        with self._errors.translated("exists"):
            return bool(self._fs.exists(key))

    def delete(self, digest: str) -> None:
        """Remove the blob; removing an absent blob is not an error."""
        key = _names.blob_key(self._root, check_digest(digest))
        with (
            contextlib.suppress(BlobNotFound),
            self._errors.translated("delete", not_found=lambda: BlobNotFound(digest, self._where)),
        ):
            self._fs.rm_file(key)
        self._forget_listings()

    def digests(self) -> Iterator[str]:
        """Every digest stored, sorted."""
        found = self._find(f"{self._root}/{_names.BLOBS_DIR}")
        return iter(sorted({d for key in found if (d := _names.digest_of_key(key))}))

    # -- SupportsNamedObjects ---------------------------------------------

    def write_named(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``<root>/named/<name>``, replacing any previous object.

        Raises
        ------
        InvalidURI
            ``name`` is absolute or climbs with ``..``.
        """
        key = _names.named_key(self._root, name)
        with self._errors.translated("write_named"):
            if self._direct:
                self._fs.pipe_file(key, bytes(data))
                return
            temp = _names.temp_key(self._root)
            self._fs.makedirs(self._fs._parent(temp), exist_ok=True)
            try:
                with self._fs.open(temp, "wb") as handle:
                    handle.write(bytes(data))
                if self._local and self._durable:
                    fsync_path(temp)
                self._commit(temp, key)
            except BaseException:
                self._discard(temp)
                raise

    def read_named(self, name: str) -> bytes:
        """The bytes stored under ``name``.

        Raises
        ------
        NotFound
            Nothing is stored under that name.
        InvalidURI
            ``name`` is absolute or climbs with ``..``.
        """
        key = _names.named_key(self._root, name)
        missing = NotFound(f"no object named {name!r} in {self._where}")
        with self._errors.translated("read_named", not_found=lambda: missing):
            return bytes(self._fs.cat_file(key))

    def list_named(self, prefix: str = "") -> Iterator[str]:
        """Names starting with ``prefix`` (a plain string prefix), sorted."""
        _names.check_name(prefix, prefix=True)
        base = f"{self._root}/{_names.NAMED_DIR}/"
        names = (key[len(base) :] for key in self._find(base.rstrip("/")) if key.startswith(base))
        return iter(sorted(n for n in names if n.startswith(prefix)))

    # -- SupportsNamedVersions -------------------------------------------

    def named_versions(self, prefix: str = "") -> dict[str, str | None]:
        """Names starting with ``prefix``, sorted, each with a token that changes when the
        object is written again, from one listing: the ETag on S3 and Azure, the
        generation on GCS, modification time, inode and size on a local disk; None
        where the filesystem reports nothing that changes with every write.
        """
        _names.check_name(prefix, prefix=True)
        base = f"{self._root}/{_names.NAMED_DIR}/"
        with self._errors.translated("list"):
            try:
                found = dict(self._fs.find(base.rstrip("/"), detail=True))
            except FileNotFoundError:
                found = {}
        self._forget_listings()
        versions = {}
        for key, info in found.items():
            name = key[len(base) :] if key.startswith(base) else ""
            if name.startswith(prefix) and name:
                versions[name] = version_of(info)
        return dict(sorted(versions.items()))

    # -- housekeeping ------------------------------------------------------

    def remove_stale_temps(self, older_than: float = STALE_TEMP_AGE) -> list[str]:
        """Delete leftovers of interrupted writes: files under ``<root>/tmp`` not
        modified for ``older_than`` seconds (default one hour). Returns their keys.

        Opening a store does this already (except on object stores, which write
        no temporary files). Younger files are kept: they may belong to a write
        in progress in another process. A file whose age the filesystem does not
        report is kept too.

        Raises
        ------
        BlobStoreError
            ``<root>/tmp`` exists but cannot be listed.
        """
        folder = f"{self._root}/{_names.TEMP_DIR}"
        with self._errors.translated("list tmp"):
            try:
                entries = self._fs.ls(folder, detail=True)
            except FileNotFoundError:
                return []
        cutoff = time.time() - older_than
        removed = []
        for entry in entries:
            modified = modified_at(entry)
            inside = str(entry.get("name", "")).startswith(f"{folder}/")  # not tmp itself
            if not inside or entry.get("type") != "file" or modified is None or modified > cutoff:
                continue
            try:
                self._fs.rm_file(entry["name"])
            except Exception as exc:  # gone already (another process cleaned it), or refused
                logger.debug("blob store %s: cannot remove %s (%s)", self._where, entry, exc)
                continue
            removed.append(str(entry["name"]))
        if removed:
            logger.info(
                "blob store %s: removed %d stale temporary file(s) left by interrupted writes",
                self._where,
                len(removed),
            )
        return removed

    # -- writing -------------------------------------------------------------

    def _put_direct(self, path: Path, progress: Progress) -> str:
        """Hash locally, skip if present, then one upload straight to the final key."""
        before = fingerprint(path)
        progress.start(f"hashing {path.name}", before[0])
        digest, size = hash_file(path, progress.advance)
        key = _names.blob_key(self._root, digest)
        if self._holds(key, size):
            return digest
        with self._errors.translated("put"):
            self._fs.put_file(str(path), key, callback=progress.callback(f"uploading {path.name}"))
        if fingerprint(path) != before:
            with contextlib.suppress(Exception):
                self._fs.rm_file(key)
            raise IntegrityError(
                f"{path} changed while it was being stored in {self._where}; nothing was "
                "kept: store it again once nothing is writing to it"
            )
        return digest

    def _put_local(self, path: Path, progress: Progress) -> str:
        """Kernel copy into a temp name while hashing (flushed), then rename to the digest's key."""
        temp = _names.temp_key(self._root)
        before = fingerprint(path)
        progress.start(f"storing {path.name}", before[0])
        with self._errors.translated("put"):
            os.makedirs(os.path.dirname(temp), exist_ok=True)
            try:
                digest, size = copy_and_hash(
                    path, Path(temp), progress.advance, durable=self._durable
                )
                if fingerprint(path) != before:
                    raise IntegrityError(
                        f"{path} changed while it was being stored in {self._where}; nothing "
                        "was kept: store it again once nothing is writing to it"
                    )
                key = _names.blob_key(self._root, digest)
                if self._holds(key, size):
                    os.unlink(temp)
                else:
                    self._commit(temp, key)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        return digest

    def _put_staged(self, path: Path, progress: Progress) -> str:
        """Stream into a temp name while hashing, then move it to the digest's key."""
        temp = _names.temp_key(self._root)
        progress.start(f"storing {path.name}", path.stat().st_size)
        with self._errors.translated("put"):
            self._fs.makedirs(self._fs._parent(temp), exist_ok=True)
            try:
                with open(path, "rb", buffering=0) as source, self._fs.open(temp, "wb") as sink:
                    digest, size = copy_hashing(source, sink.write, progress.advance)
                key = _names.blob_key(self._root, digest)
                if self._holds(key, size):
                    self._discard(temp)
                else:
                    self._commit(temp, key)
            except BaseException:
                self._discard(temp)
                raise
        return digest

    def _commit(self, temp: str, key: str) -> None:
        parent = self._fs._parent(key)
        if not self._local:
            self._fs.makedirs(parent, exist_ok=True)
            self._fs.mv(temp, key)
            return
        created = make_dirs(parent)
        os.replace(temp, key)
        if self._durable:
            flush_entries(parent, created)

    def _discard(self, temp: str) -> None:
        with contextlib.suppress(Exception):
            self._fs.rm_file(temp)

    def _holds(self, key: str, size: int) -> bool:
        """Whether ``key`` exists with the expected size (a truncated leftover is replaced)."""
        with self._errors.translated("exists"):
            try:
                info = self._fs.info(key)
            except FileNotFoundError:
                return False
        return bool(info.get("type") == "file" and info.get("size") == size)

    # -- reading -------------------------------------------------------------

    def _download_then_hash(self, digest: str, key: str, temp: str, progress: Progress) -> str:
        # The backend's own get_file is its fastest path (one streamed GET, or
        # concurrent ranges); hashing the local copy afterwards reads it back
        # from the page cache, while a worker flushes it to disk.
        with self._errors.translated("get", not_found=lambda: BlobNotFound(digest, self._where)):
            self._fs.get_file(key, temp, callback=progress.callback(f"downloading {digest[:12]}"))
        progress.start(f"verifying {digest[:12]}", os.path.getsize(temp))
        actual, _ = hash_file(Path(temp), progress.advance, flush=self._durable)
        return actual

    def _copy_out(self, digest: str, key: str, temp: str, progress: Progress) -> str:
        # Blobs are immutable once committed, so hashing the stored file while
        # the kernel copies it verifies the bytes the copy received.
        with self._errors.translated("get", not_found=lambda: BlobNotFound(digest, self._where)):
            progress.start(f"fetching {digest[:12]}", os.path.getsize(key))
            actual, _ = copy_and_hash(
                Path(key), Path(temp), progress.advance, durable=self._durable
            )
        return actual

    def _stream_to(self, digest: str, key: str, fd: int, progress: Progress) -> str:
        with (
            os.fdopen(fd, "wb") as sink,
            self._errors.translated("get", not_found=lambda: BlobNotFound(digest, self._where)),
        ):
            source = self._fs.open(key, "rb")
            progress.start(f"fetching {digest[:12]}", getattr(source, "size", None))
            with source:
                actual, _ = copy_hashing(source, sink.write, progress.advance)
            sink.flush()
            if self._durable:
                os.fsync(sink.fileno())
        return actual

    def _find(self, base: str) -> list[str]:
        with self._errors.translated("list"):
            try:
                found = list(self._fs.find(base))
            except FileNotFoundError:
                found = []
        self._forget_listings()
        return found

    def _forget_listings(self) -> None:
        # Listing caches (s3fs's dircache) would otherwise answer exists() from
        # a stale listing after another process wrote or deleted a blob.
        with contextlib.suppress(Exception):
            self._fs.invalidate_cache(self._root)
