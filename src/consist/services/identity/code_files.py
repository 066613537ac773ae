"""The source files a step runs: its own file and the project-local modules it imports.

Imports are followed statically (``ast``), never by importing anything, and only
into files under the project's roots (never the standard library or an installed
package). Each file's digest and import list are remembered by
``(path, mtime_ns, size)``, so checking that nothing changed costs one ``stat``
per file.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable, Sequence

import attrs

# A file modified this recently may change again within the same mtime tick
# without changing size, so its content is re-hashed until it is older (as
# git does for "racily clean" index entries).
_RACY_NS = 2_000_000_000
_PARSED_SUFFIXES = (".py", ".pyw")
_INSTALLED_PARTS = frozenset({"site-packages", "dist-packages"})

ImportRef = tuple[int, str]  # (relative level, dotted name); level 0 is absolute


@attrs.frozen
class Stamp:
    """What a ``stat`` says about a file; ``None`` fields when it is missing."""

    path: str
    mtime_ns: int | None
    size: int | None

    @classmethod
    def of(cls, path: str) -> Stamp:
        try:
            st = os.stat(path)
        except OSError:
            return cls(path, None, None)
        return cls(path, st.st_mtime_ns, st.st_size)


@attrs.frozen
class SourceFile:
    """One file's digest and the imports written in it, as of ``stamp``."""

    stamp: Stamp
    digest: str
    imports: tuple[ImportRef, ...]
    racy: bool


_files: dict[str, SourceFile] = {}
_files_lock = threading.Lock()


def source_file(path: str) -> SourceFile | None:
    """``path``'s digest and imports; read again only when its stat changed."""
    stamp = Stamp.of(path)
    if stamp.size is None:
        return None
    known = _files.get(path)
    if known is not None and known.stamp == stamp and not known.racy:
        return known
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    if known is not None and known.digest == digest:
        imports = known.imports
    else:
        imports = _imports_in(data, path)
    racy = stamp.mtime_ns is not None and time.time_ns() - stamp.mtime_ns < _RACY_NS
    found = SourceFile(stamp, digest, imports, racy)
    with _files_lock:
        _files[path] = found
    return found


def forget_files() -> None:
    """Read every file again on next use."""
    with _files_lock:
        _files.clear()


def _imports_in(data: bytes, path: str) -> tuple[ImportRef, ...]:
    if not path.endswith(_PARSED_SUFFIXES):
        return ()
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError):
        return ()
    refs: list[ImportRef] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            refs.extend((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            refs.append((node.level, module))
            # `from pkg import name`: name may be a submodule.
            refs.extend(
                (node.level, f"{module}.{alias.name}" if module else alias.name)
                for alias in node.names
                if alias.name != "*"
            )
    return tuple(dict.fromkeys(refs))


# ---------------------------------------------------------------- project roots
@attrs.frozen
class Project:
    """Where project-local code lives: ``roots``; where absolute imports resolve: ``search``."""

    roots: tuple[str, ...]
    search: tuple[str, ...]

    def holds(self, path: str) -> bool:
        return any(_under(path, root) for root in self.roots) and not is_installed(path)

    def relative(self, path: str) -> str:
        for root in self.roots:
            if _under(path, root):
                return os.path.relpath(path, root).replace(os.sep, "/")
        return path


def project_of(entry: str, extra_roots: Iterable[str] = ()) -> Project:
    """The project of file ``entry``: its import root plus ``extra_roots`` (a repository, say).

    The import root is the directory above ``entry``'s top-level package (or
    ``entry``'s directory for a plain module). When that is an installed
    location, only the top-level package itself counts.
    ``entry`` must be a real path (``os.path.realpath``).
    """
    directory = os.path.dirname(entry)
    top = entry
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        top = directory
        directory = os.path.dirname(directory)
    own_root = top if is_installed(directory) else directory
    roots = tuple(dict.fromkeys([own_root, *(os.path.realpath(r) for r in extra_roots)]))
    search = [directory]
    for entry_dir in sys.path:
        absolute = os.path.realpath(entry_dir or os.curdir)
        if any(_under(absolute, root) for root in roots) and not is_installed(absolute):
            search.append(absolute)
    return Project(roots, tuple(dict.fromkeys(search)))


def closure(entry: str, project: Project) -> tuple[SourceFile, ...] | None:
    """``entry`` and every project-local file it imports, directly or not; None if unreadable."""
    first = source_file(entry)
    if first is None:
        return None
    found = {entry: first}
    pending = [entry]
    while pending:
        path = pending.pop()
        for ref in found[path].imports:
            for target in _resolve(ref, path, project):
                if target in found:
                    continue
                source = source_file(target)
                if source is not None:
                    found[target] = source
                    pending.append(target)
    return tuple(found[p] for p in sorted(found))


def _resolve(ref: ImportRef, importer: str, project: Project) -> list[str]:
    level, dotted = ref
    parts = dotted.split(".") if dotted else []
    if level:
        base = os.path.dirname(importer)
        for _ in range(level - 1):
            base = os.path.dirname(base)
        bases: Sequence[str] = [base]
        files = [os.path.join(base, "__init__.py")]
    else:
        bases = project.search
        files = []
    for base in bases:
        hits = _module_files(base, parts)
        if hits:
            files.extend(hits)
            break
    else:
        if not level:
            # Loaded some other way (an import hook, sys.path changed since):
            # where Python actually found it.
            files.extend(_loaded_files(parts))
    return [f for f in files if os.path.isfile(f) and project.holds(f)]


def _loaded_files(parts: Sequence[str]) -> list[str]:
    files = []
    for end in range(1, len(parts) + 1):
        location = getattr(sys.modules.get(".".join(parts[:end])), "__file__", None)
        if isinstance(location, str):
            files.append(os.path.realpath(location))
    return files


def _module_files(base: str, parts: Sequence[str]) -> list[str]:
    """Files Python runs to import ``parts`` from ``base``: each package's __init__, the module."""
    files: list[str] = []
    directory = base
    for part in parts:
        package = os.path.join(directory, part)
        init = os.path.join(package, "__init__.py")
        if os.path.isfile(init):
            files.append(init)
            directory = package
        elif os.path.isfile(package + ".py"):
            files.append(package + ".py")
            break
        elif os.path.isdir(package):  # a namespace package
            directory = package
        else:
            break
    return files


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(sorted(os.path.abspath(p) for p in found))


_INSTALLED_ROOTS = _installed_roots()


def is_installed(path: str) -> bool:
    """Standard library or an installed package: never project code."""
    if _INSTALLED_PARTS.intersection(path.split(os.sep)):
        return True
    return any(_under(path, root) for root in _INSTALLED_ROOTS)
