"""Directory artifacts in a blob store: every file a blob, plus a JSON manifest blob.

A manifest is canonical JSON (sorted keys, no spaces)::

    {"consist_manifest":1,"files":{"a/b.csv":{"digest":"…","size":12},…}}

with relative POSIX paths as keys. Its own digest names the directory. Only
files are recorded: empty directories, permissions and timestamps are not.
Symbolic links are followed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

import attrs

from consist.domain.errors import IntegrityError, InvalidInput, MissingFile
from consist.ports.blobs import BlobStore

__all__ = [
    "ManifestEntry",
    "get_tree",
    "is_manifest",
    "manifest_digest",
    "put_tree",
    "read_manifest",
    "tree_identity",
]

_FORMAT = 1
_MARKER = b'{"consist_manifest":'


@attrs.frozen
class ManifestEntry:
    """One file of a stored directory."""

    digest: str
    size: int


def put_tree(store: BlobStore, directory: Path) -> str:
    """Store every file under ``directory`` and a manifest of them; returns the manifest's digest.

    Parameters
    ----------
    store
        Any ``BlobStore``.
    directory
        The directory to archive; files are streamed one by one.

    Returns
    -------
    str
        The digest of the manifest blob: equal directories give equal digests.

    Raises
    ------
    MissingFile
        ``directory`` does not exist.
    InvalidInput
        ``directory`` is not a directory.
    """
    directory = Path(directory)
    if not directory.exists():
        raise MissingFile(f"cannot archive {directory}: no such directory")
    if not directory.is_dir():
        raise InvalidInput(f"cannot archive {directory} as a tree: it is a file; use put()")
    files = {
        rel: ManifestEntry(store.put(directory / rel), (directory / rel).stat().st_size)
        for rel in _relative_files(directory)
    }
    with tempfile.TemporaryDirectory(prefix="consist-manifest-") as scratch:
        manifest = Path(scratch) / "manifest.json"
        manifest.write_bytes(_manifest_payload(files))
        return store.put(manifest)


def manifest_digest(directory: Path, digest_of: Callable[[Path], str]) -> str:
    """The digest ``put_tree`` would return for ``directory``, computed without a store.

    Parameters
    ----------
    directory
        The directory to describe.
    digest_of
        SHA-256 hex digest of one file's bytes (a memoizing hasher, say).

    Raises
    ------
    MissingFile
        ``directory`` is not a directory.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise MissingFile(f"cannot describe {directory}: no such directory")
    files = {
        rel: ManifestEntry(digest_of(directory / rel), (directory / rel).stat().st_size)
        for rel in _relative_files(directory)
    }
    return hashlib.sha256(_manifest_payload(files)).hexdigest()


def _manifest_payload(files: Mapping[str, ManifestEntry]) -> bytes:
    document = {
        "consist_manifest": _FORMAT,
        "files": {rel: attrs.asdict(entry) for rel, entry in sorted(files.items())},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def is_manifest(store: BlobStore, digest: str) -> bool:
    """Whether the blob ``digest`` is a directory manifest written by ``put_tree``.

    Reads only the first bytes of a blob that is not one.
    """
    with store.open(digest) as handle:
        if handle.read(len(_MARKER)) != _MARKER:
            return False
    try:
        read_manifest(store, digest)
    except InvalidInput:
        return False
    return True


def read_manifest(store: BlobStore, digest: str) -> dict[str, ManifestEntry]:
    """The files a manifest lists, by relative POSIX path (verified against ``digest``).

    Raises
    ------
    InvalidInput
        The blob is not a manifest, or lists a path that would leave the tree.
    """
    with store.open(digest) as handle:
        raw = handle.read()  # read to EOF, so a verifying reader checks the digest
    try:
        document = json.loads(raw)
        if document["consist_manifest"] != _FORMAT:
            raise ValueError(f"unknown manifest format {document['consist_manifest']!r}")
        files = {
            str(rel): ManifestEntry(str(entry["digest"]), int(entry["size"]))
            for rel, entry in document["files"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"blob {digest} is not a Consist directory manifest: {exc}") from None
    for rel in files:
        _check_relative(rel, digest)
    return files


def tree_identity(store: BlobStore, manifest: str) -> str:
    """The ``dir:`` content hash (full strategy) of the directory a manifest describes."""
    hasher = hashlib.sha256()
    for rel, entry in sorted(read_manifest(store, manifest).items()):
        hasher.update(f"{rel}\x00{entry.digest}\n".encode())
    return f"dir:{hasher.hexdigest()}"


def get_tree(store: BlobStore, manifest_digest: str, destination: Path) -> Path:
    """Restore a stored directory at ``destination``, every file verified.

    Files are fetched into a temporary sibling directory, which is renamed
    into place only once all of them are there and correct. An existing
    ``destination`` is replaced: it is moved aside, the new tree renamed in,
    then the old one removed, so for a moment neither is at the path. Files and
    folders get the permissions of any new file or folder (the umask applies).

    Raises
    ------
    BlobNotFound
        The manifest or one of its files is not in the store.
    IntegrityError
        A file's bytes do not match the manifest; ``destination`` is untouched.
    InvalidInput
        The blob is not a manifest.
    """
    destination = Path(destination)
    files = read_manifest(store, manifest_digest)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_dir_beside(destination)
    try:
        _fetch_all(store, files, staging)
        _swap_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def _staging_dir_beside(destination: Path) -> Path:
    """A new empty ``.<name>.<random>`` folder beside ``destination``, with the
    permissions of any new folder (0777 less the umask; ``mkdtemp`` would give 0700)."""
    for _ in range(100):
        staging = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:12]}")
        try:
            staging.mkdir(0o777)
        except FileExistsError:
            continue
        return staging
    raise FileExistsError(f"cannot create a temporary folder beside {destination}")


def _fetch_all(store: BlobStore, files: Mapping[str, ManifestEntry], root: Path) -> None:
    for rel, entry in files.items():
        target = store.get(entry.digest, root.joinpath(*PurePosixPath(rel).parts))
        if target.stat().st_size != entry.size:
            raise IntegrityError(
                f"{rel}: the manifest records {entry.size} bytes but blob {entry.digest} "
                f"holds {target.stat().st_size}; the manifest is inconsistent"
            )


def _swap_into_place(staging: Path, destination: Path) -> None:
    if not destination.exists() and not destination.is_symlink():
        os.replace(staging, destination)
        return
    aside = destination.with_name(f".{destination.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(destination, aside)
    try:
        os.replace(staging, destination)
    except BaseException:
        os.replace(aside, destination)
        raise
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)


def _relative_files(directory: Path) -> list[str]:
    found = []
    for folder, subdirs, names in os.walk(directory):
        subdirs.sort()
        for name in names:
            path = Path(folder) / name
            if path.is_file():
                found.append(path.relative_to(directory).as_posix())
    return sorted(found)


def _check_relative(rel: str, digest: str) -> None:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(
            f"manifest {digest} lists {rel!r}, which is not a relative path inside the tree"
        )
