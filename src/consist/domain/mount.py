"""Mounts: portable ``name://relative`` URIs for files under named roots.

A mount table turns ``/mnt/data/land_use.csv`` (with mount ``inputs=/mnt/data``)
into ``inputs://land_use.csv`` and back, so provenance stays valid when data moves
between machines. The run's own directory is the ``workspace`` mount. A path
outside every mount is stored as a ``file://`` URI.

The relative part is percent-encoded from the file name's bytes (RFC 3986), so
a name that is not valid UTF-8 (``caf\\xe9.csv`` from a Latin-1 share, which
Python holds as the lone surrogate ``\\udce9``) becomes ``caf%E9.csv`` and
decodes back to the same bytes.

Escapes are refused with :class:`PathEscapesMount`: a URI whose relative part
climbs out with ``..`` or is absolute, and a path under a root that, once
symlinks are followed, lands outside that root.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

import attrs

from consist.domain.errors import InvalidURI, PathEscapesMount

WORKSPACE = "workspace"
FILE_SCHEME = "file"
_NAME = re.compile(r"^[a-z][a-z0-9_+.-]*$")
URI_PATTERN = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_+.-]*)://(?P<rest>.*)$", re.DOTALL)


def _fs_bytes(text: str, shown: str) -> bytes:
    """The file-system bytes of ``text``; InvalidURI for text no file name can hold."""
    try:
        return os.fsencode(text)
    except UnicodeEncodeError as exc:
        raise InvalidURI(
            f"{shown!r} holds {exc.object[exc.start : exc.end]!r}, which no file name can hold "
            "(a lone surrogate that is not an undecodable byte); fix its encoding"
        ) from None


def split_uri(uri: str) -> tuple[str, str]:
    """``("inputs", "a/b.csv")`` for ``"inputs://a/b.csv"``; InvalidURI if it has no scheme."""
    if not isinstance(uri, str):
        raise InvalidURI(f"a URI must be a str, not {type(uri).__name__}")
    _fs_bytes(uri, uri)
    match = URI_PATTERN.match(uri)
    if match is None:
        raise InvalidURI(f"{uri!r} is not a URI of the form name://relative/path")
    return match["scheme"], match["rest"]


def _safe_relative(uri: str, rest: str) -> str:
    """Normalised relative part of a mount URI, refusing anything that climbs out."""
    relative = unquote(rest, errors="surrogateescape")
    if relative in ("", "."):
        return ""
    if relative.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", relative):
        raise PathEscapesMount(f"{uri!r}: the part after :// must be relative to the mount")
    if "\\" in relative or "\x00" in relative:
        raise PathEscapesMount(f"{uri!r}: backslashes and NUL bytes are not allowed")
    normalised = posixpath.normpath(relative)
    if normalised == ".." or normalised.startswith("../"):
        raise PathEscapesMount(f"{uri!r} climbs out of its mount with '..'")
    return "" if normalised == "." else normalised


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _normalised_abspath(path: str | os.PathLike[str]) -> str:
    # abspath, not resolve(): symlinks are checked separately, on purpose.
    return os.path.normpath(os.path.abspath(os.fspath(path)))


@attrs.frozen
class Mount:
    """A named root directory."""

    name: str = attrs.field()
    root: str = attrs.field(converter=_normalised_abspath)

    @name.validator
    def _check_name(self, _attribute: object, value: str) -> None:
        if not _NAME.match(value) or value == FILE_SCHEME:
            raise InvalidURI(
                f"mount name {value!r} must be lower case letters, digits, '_', '+', '.', '-' "
                f"starting with a letter, and not {FILE_SCHEME!r}"
            )

    def contains(self, normalised_abs_path: str) -> bool:
        return _is_within(normalised_abs_path, self.root)


@attrs.frozen
class MountTable:
    """Named roots; converts absolute paths to URIs and URIs to paths."""

    mounts: Mapping[str, Mount] = attrs.field(factory=dict)

    @classmethod
    def of(cls, roots: Mapping[str, str | os.PathLike[str]] | None = None) -> MountTable:
        return cls({name: Mount(name, root) for name, root in (roots or {}).items()})

    def with_mount(self, name: str, root: str | os.PathLike[str]) -> MountTable:
        return MountTable({**self.mounts, name: Mount(name, root)})

    def with_workspace(self, root: str | os.PathLike[str]) -> MountTable:
        return self.with_mount(WORKSPACE, root)

    def __iter__(self) -> Iterator[Mount]:
        return iter(self.mounts.values())

    def to_uri(self, path: str | os.PathLike[str]) -> str:
        """Portable URI of ``path``: under the most specific mount, else ``file://``.

        Raises
        ------
        PathEscapesMount
            If the path is under a mount root but its real location (symlinks
            followed) is outside that root.
        """
        absolute = os.path.normpath(os.path.abspath(os.fspath(path)))
        _fs_bytes(absolute, absolute)
        candidates = [m for m in self.mounts.values() if m.contains(absolute)]
        if not candidates:
            return f"{FILE_SCHEME}://{quote(os.fsencode(Path(absolute).as_posix()), safe='/:')}"
        mount = max(candidates, key=lambda m: len(m.root))
        self._refuse_symlink_escape(absolute, mount, shown=os.fspath(path))
        relative = os.path.relpath(absolute, mount.root)
        relative = "" if relative == "." else PurePosixPath(Path(relative).as_posix()).as_posix()
        return f"{mount.name}://{quote(os.fsencode(relative), safe='/')}"

    def to_path(self, uri: str) -> Path:
        """Absolute local path of a mount or ``file://`` URI.

        Raises
        ------
        InvalidURI
            If the URI names no known mount.
        PathEscapesMount
            If it climbs out of its mount through ``..``, an absolute part or a symlink.
        """
        scheme, rest = split_uri(uri)
        if scheme == FILE_SCHEME:
            return Path(unquote(rest, errors="surrogateescape"))
        mount = self.mounts.get(scheme)
        if mount is None:
            known = ", ".join(sorted(self.mounts)) or "none"
            raise InvalidURI(
                f"{uri!r} names mount {scheme!r}, which is not configured here "
                f"(mounts: {known}); pass mounts={{{scheme!r}: '/path/to/root'}} to the Tracker"
            )
        relative = _safe_relative(uri, rest)
        absolute = os.path.normpath(os.path.join(mount.root, relative))
        _fs_bytes(absolute, uri)
        self._refuse_symlink_escape(absolute, mount, shown=uri)
        return Path(absolute)

    def is_local(self, uri: str) -> bool:
        """True when the URI resolves through this table (a mount or ``file://``)."""
        try:
            scheme, _ = split_uri(uri)
        except InvalidURI:
            return False
        return scheme == FILE_SCHEME or scheme in self.mounts

    @staticmethod
    def _refuse_symlink_escape(absolute: str, mount: Mount, shown: str) -> None:
        real_root = os.path.realpath(mount.root)
        real_path = os.path.realpath(absolute)
        if not _is_within(real_path, real_root):
            raise PathEscapesMount(
                f"{shown!r} is under mount {mount.name!r} ({mount.root}) but resolves to "
                f"{real_path}, outside it (a symlink leads out); log the real path instead "
                "or add a mount for its location"
            )
