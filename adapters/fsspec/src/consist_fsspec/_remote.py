"""FsspecRemoteFiles: single objects at fsspec URLs, described, streamed and written."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import fsspec

from consist.domain.errors import (
    AdapterNotFound,
    ConsistError,
    InvalidInput,
    InvalidURI,
    RemoteObjectMissing,
    RemoteStoreError,
)
from consist.domain.remote import (
    ObjectStat,
    check_remote_url,
    folder_version,
    manifest_identity,
)
from consist.files import temp_file_beside

from ._streams import copy_hashing
from ._vendor_errors import Scrubber

# The store's change token for an object, best first: a version id names the
# bytes exactly; an ETag (S3, Azure) or generation (GCS) changes on every write;
# a modification time is what memory and local filesystems offer.
_VERSION_FIELDS = (
    "VersionId",
    "version_id",
    "ETag",
    "etag",
    "generation",
    "md5Hash",
    "LastModified",
    "last_modified",
    "mtime",
    "updated",
    "created",
)


class FsspecRemoteFiles:
    """Objects at any URL fsspec can open: ``s3://``, ``gs://``, ``az://``, ``memory://``...

    Parameters
    ----------
    storage_options
        Passed to the filesystem (``key``, ``secret``, ``client_kwargs``, ...).
        They never appear in ``repr()`` or in error messages.
    for_scheme
        Apply ``storage_options`` only to URLs served by the same filesystem as
        this scheme (the blob store's, say); other URLs use their backend's
        default credential chain. ``None``: apply them to every URL.
    """

    def __init__(
        self, storage_options: dict[str, Any] | None = None, *, for_scheme: str | None = None
    ) -> None:
        self._options = dict(storage_options or {})
        self._scrub = Scrubber(self._options)
        self._for_class = _filesystem_class(for_scheme) if for_scheme else None

    def __repr__(self) -> str:
        hidden = ", ".join(f"{key!r}: '***'" for key in sorted(self._options))
        return f"FsspecRemoteFiles(storage_options={{{hidden}}})"

    # -- RemoteFiles -------------------------------------------------------

    def stat(self, url: str) -> ObjectStat:
        fs, path = self._open(url)
        with self._vendor_errors(url, "stat"):
            fs.invalidate_cache(path)  # a listing cached earlier would hide a new version
            info = fs.info(path)
            if info.get("type") == "directory":
                return self._folder_stat(url, self._objects(fs, path))
        return self._stat_of(url, info)

    def download(self, url: str, destination: Path) -> tuple[ObjectStat, str]:
        fs, path = self._open(url)
        before = self.stat(url)
        if before.is_folder:
            return self._download_folder(fs, path, url, before, destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = temp_file_beside(destination)
        try:
            with self._vendor_errors(url, "download"), os.fdopen(fd, "wb") as sink:
                with fs.open(path, "rb") as source:
                    digest, size = copy_hashing(source, sink.write, lambda _n: None)
                sink.flush()
                os.fsync(sink.fileno())
            after = self.stat(url)
            if after != before or size != before.size:
                raise RemoteStoreError(
                    f"{self._shown(url)} changed while it was being read; try again", url
                )
            os.replace(temp_name, destination)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return before, digest

    def upload(self, source: Path, url: str) -> ObjectStat:
        fs, path = self._open(url)
        if source.is_dir():
            return self._upload_folder(fs, path, url, source)
        with self._vendor_errors(url, "upload"):
            parent = fs._parent(path)
            if parent and not fs.exists(parent):
                with contextlib.suppress(Exception):  # object stores have no folders to make
                    fs.makedirs(parent, exist_ok=True)
            fs.put_file(os.fspath(source), path)
        return self.stat(url)

    def filesystem(self, url: str) -> tuple[Any, str]:
        fs, path = self._open(url)
        return fs, fs.unstrip_protocol(path)

    # -- folders -----------------------------------------------------------

    def _objects(self, fs: Any, path: str) -> dict[str, dict[str, Any]]:
        """Every object under the folder ``path``, by name relative to it."""
        found = fs.find(path, detail=True)
        prefix = path.rstrip("/") + "/"
        return {
            name[len(prefix) :]: info
            for name, info in found.items()
            if name.startswith(prefix) and info.get("type") != "directory"
        }

    def _folder_stat(self, url: str, objects: dict[str, dict[str, Any]]) -> ObjectStat:
        if not objects:
            raise RemoteObjectMissing(f"no object under {self._shown(url)} (an empty folder)", url)
        entries = [
            (name, self._stat_of(url, info).version, int(info.get("size") or 0))
            for name, info in objects.items()
        ]
        size = sum(entry[2] for entry in entries)
        return ObjectStat(url=url, size=size, version=folder_version(entries), is_folder=True)

    def _download_folder(
        self, fs: Any, path: str, url: str, before: ObjectStat, destination: Path
    ) -> tuple[ObjectStat, str]:
        """Every object of the folder into a temp folder beside ``destination``, hashed on
        the way, renamed into place once complete."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
        try:
            digests: list[tuple[str, str]] = []
            with self._vendor_errors(url, "download"):
                for name in sorted(self._objects(fs, path)):
                    target = temp.joinpath(*name.split("/"))
                    if not target.resolve().is_relative_to(temp.resolve()):
                        raise InvalidInput(f"{self._shown(url)} holds an object named {name!r}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with (
                        fs.open(f"{path.rstrip('/')}/{name}", "rb") as src,
                        open(target, "wb") as sink,
                    ):
                        digest, _ = copy_hashing(src, sink.write, lambda _n: None)
                    digests.append((name, digest))
            if self.stat(url) != before:
                raise RemoteStoreError(
                    f"{self._shown(url)} changed while it was being read; try again", url
                )
            if destination.exists():
                shutil.rmtree(destination)
            os.replace(temp, destination)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return before, manifest_identity(digests)

    def _upload_folder(self, fs: Any, path: str, url: str, source: Path) -> ObjectStat:
        """Each file under ``source`` to the same name under ``url``; objects already there
        that the folder does not hold are removed, so the URL holds exactly the folder."""
        names = {
            p.relative_to(source).as_posix(): p for p in sorted(source.rglob("*")) if p.is_file()
        }
        with self._vendor_errors(url, "upload"):
            base = path.rstrip("/")
            if fs.exists(base) and fs.info(base).get("type") == "directory":
                stale = [f"{base}/{name}" for name in self._objects(fs, base) if name not in names]
                if stale:
                    fs.rm(stale)
            elif fs.exists(base):
                fs.rm_file(base)  # an object where the folder goes: replaced by the folder
            for name, file in names.items():
                fs.put_file(os.fspath(file), f"{base}/{name}")
        return self.stat(url)

    # -- helpers -----------------------------------------------------------

    def _open(self, url: str) -> tuple[Any, str]:
        check_remote_url(url)
        scheme = url.split("://", 1)[0].lower()
        try:
            cls = _filesystem_class(scheme)
            options = self._options if self._for_class in (None, cls) else {}
            fs, path = fsspec.core.url_to_fs(url, **options)
        except ImportError as exc:
            raise AdapterNotFound(
                f"reading {self._shown(url)} needs a package that is not installed "
                f"({self._scrub(str(exc))}); for S3 install consist-fsspec[s3], for GCS "
                "consist-fsspec[gcs], for Azure consist-fsspec[azure]"
            ) from None
        except ValueError as exc:
            raise InvalidURI(f"cannot open {self._shown(url)}: {self._scrub(str(exc))}") from None
        except ConsistError:
            raise
        except Exception as exc:
            self._fail(url, "open", exc)
        return fs, str(path)

    def _stat_of(self, url: str, info: dict[str, Any]) -> ObjectStat:
        if info.get("type") not in (None, "file"):
            raise InvalidInput(
                f"{self._shown(url)} is a {info.get('type')}, not one object; "
                "a URL artifact names a single object"
            )
        version = next(
            (f"{field}={info[field]}" for field in _VERSION_FIELDS if info.get(field)), None
        )
        return ObjectStat(url=url, size=int(info.get("size") or 0), version=version)

    @contextlib.contextmanager
    def _vendor_errors(self, url: str, action: str) -> Iterator[None]:
        """botocore / OSError / fsspec failures become our errors, naming the URL."""
        try:
            yield
        except ConsistError:
            raise
        except (FileNotFoundError, NotADirectoryError):
            raise RemoteObjectMissing(
                f"no object at {self._shown(url)} (or its bucket does not exist); "
                "check the URL and that the object was written",
                url,
            ) from None
        except Exception as exc:
            self._fail(url, action, exc)

    def _fail(self, url: str, action: str, exc: BaseException) -> NoReturn:
        # Vendor messages can quote request details: scrubbed, and not chained.
        detail = self._scrub(f"{type(exc).__name__}: {exc}")
        raise RemoteStoreError(
            f"{action} of {self._shown(url)} failed ({detail}); check the URL, the "
            "credentials in storage_options or the environment, and the permissions",
            url,
        ) from None

    def _shown(self, url: str) -> str:
        return self._scrub(url)


def _filesystem_class(scheme: str) -> Any:
    """The fsspec class for a scheme (``s3`` and ``s3a`` share one), without building it."""
    try:
        return fsspec.get_filesystem_class(scheme)
    except ImportError:
        raise AdapterNotFound(
            f"{scheme}:// URLs need a package that is not installed; for S3 install "
            "consist-fsspec[s3], for GCS consist-fsspec[gcs], for Azure consist-fsspec[azure]"
        ) from None
    except ValueError:
        raise InvalidURI(f"no fsspec filesystem serves {scheme}:// URLs") from None
