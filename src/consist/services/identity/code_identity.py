"""Code identity: the ``code_hash`` part of a signature.

- ``"git"`` (default): the commit of the repository holding the step's source,
  plus ``-dirty-<sha256 of the diff of tracked files>`` when they are modified,
  plus ``-untracked-<sha256>`` over the step's files that git does not track
  (its own file, and the project-local modules it imports). Outside git (or
  before the first commit): ``files:<sha256>`` over the step's file and the
  project-local modules it imports. A step with no source file at all (typed
  into a REPL, made by ``exec``) is identified by its own bytecode, with a
  :class:`CodeIdentityWarning`. A manually tracked block is identified the same
  way from the code that opened it. See :mod:`consist.services.identity.code_files` for
  what "project-local" means.
- ``"module"``: SHA-256 of the callable's module source.
- ``"function"``: SHA-256 of the callable's own source, parsed and dumped
  through ``ast`` so comments, docstrings and formatting do not count.
  (Manually tracked blocks, which have no callable, use ``"git"`` instead.)
- any other string: used as is (a version label you manage yourself);
- a callable: called with the step function, its return value used as is.

A ``"git"`` identity is remembered per source file with the ``stat`` of every
file it covers and of git's index, HEAD and branch ref; each run re-checks
those and computes it again only when one moved, so an edit followed by
``importlib.reload`` is a miss in a long-lived process too.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import os
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import attrs

from consist.domain import UNKNOWN_CODE_VERSION
from consist.domain.errors import InvalidInput
from consist.services.identity import code_files, git_state
from consist.services.identity.code_files import SourceFile, Stamp

CodeIdentity = str | Callable[[Any], str]
_BUILTIN = ("git", "module", "function")


class CodeIdentityWarning(UserWarning):
    """A step's code could only be identified by its own bytecode (no source file)."""


def code_hash(identity: CodeIdentity, fn: Callable[..., Any] | None, cwd: Path) -> str:
    """The code part of a signature for step ``fn`` (None for a manual run)."""
    if callable(identity):
        value = identity(fn)
        if not isinstance(value, str) or not value:
            raise InvalidInput("a code_identity callable must return a non-empty string")
        return value
    if identity == "git":
        return default_identity(fn, cwd)
    if identity in ("module", "function"):
        if fn is None:
            # A manually tracked block has no callable to hash: fall back to git.
            return default_identity(None, cwd)
        return module_identity(fn) if identity == "module" else function_identity(fn)
    if not isinstance(identity, str) or not identity:
        raise InvalidInput(
            f"code_identity must be one of {_BUILTIN}, a version string or a callable, "
            f"not {identity!r}"
        )
    return f"user:{identity}"


def default_identity(fn: Callable[..., Any] | None, project_dir: Path | None = None) -> str:
    """The ``"git"`` identity of step ``fn``, or of the code that opened a manual run.

    Modules under ``project_dir`` (the tracker's) count as the project's too,
    besides those of the step's repository or package.
    """
    code, module_file = _code_of(fn) if fn is not None else (_caller_code(), None)
    filename = code.co_filename if code is not None else module_file
    if filename:
        memo = _memo_of_file(filename, str(project_dir) if project_dir else "")
        if memo is not None:
            module_name = getattr(inspect.unwrap(fn), "__module__", None) if fn else None
            if (
                fn is None
                or code is None
                or not memo.edited
                or _runs_what_is_on_disk(code, module_name, memo)
            ):
                return memo.identity
            _warn_once(code, _NOT_RELOADED)
            return "bytecode:" + _bytecode_digest(code, fn)
    if code is not None:
        _warn_once(code, _NO_SOURCE)
        return "bytecode:" + _bytecode_digest(code, fn)
    target = inspect.unwrap(fn) if fn is not None else None
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', target)}"
    return f"builtin:{name}@{sys.version_info.major}.{sys.version_info.minor}"


# ---------------------------------------------------------------- file-based identity
@attrs.frozen
class _Memo:
    sources: tuple[SourceFile, ...]  # every file the identity covers
    git: tuple[Stamp, ...]
    identity: str
    entry: SourceFile  # the file the step's code comes from
    # Computed again because a file changed while this process ran: the loaded
    # code may predate the edit. (At first use, the modules a process has
    # imported are taken to be what their files say, as they almost always
    # are; comparing then would also flag modules an import hook rewrote,
    # such as pytest's assertion rewriting.)
    edited: bool = False

    def recheck(self) -> tuple[SourceFile, ...] | None:
        """The files as they are now if none changed, else None.

        One ``stat`` per file; a file whose stat moved (or that was written
        too recently to trust its stat) is hashed again and still counts as
        unchanged when its content is.
        """
        current: list[SourceFile] | None = None
        for index, source in enumerate(self.sources):
            stamp = source.stamp
            try:
                st = os.stat(stamp.path)
            except OSError:
                return None
            if st.st_mtime_ns != stamp.mtime_ns or st.st_size != stamp.size or source.racy:
                again = code_files.source_file(stamp.path)
                if again is None or again.digest != source.digest:
                    return None
                current = current or list(self.sources)
                current[index] = again
        if any(Stamp.of(stamp.path) != stamp for stamp in self.git):
            return None
        return self.sources if current is None else tuple(current)


_memos: dict[tuple[str, str], _Memo] = {}
_memos_lock = threading.Lock()


def _memo_of_file(filename: str, project_dir: str) -> _Memo | None:
    key = (filename, project_dir)
    memo = _memos.get(key)
    if memo is not None:
        sources = memo.recheck()
        if sources is not None:
            if sources is not memo.sources:
                memo = attrs.evolve(memo, sources=sources)
                _memos[key] = memo
            return memo
    path = os.path.realpath(filename)
    if not os.path.isfile(path):
        return None
    edited = memo is not None
    memo = _compute(path, project_dir)
    if memo is None:
        return None
    memo = attrs.evolve(memo, edited=edited)
    with _memos_lock:
        _memos[key] = memo
    return memo


def _compute(path: str, project_dir: str) -> _Memo | None:
    repo = git_state.repo_of(os.path.dirname(path))
    # Stamps are taken before git is asked, so a change while it answers is
    # seen on the next run rather than lost.
    git_stamps = git_state.stamps(repo) if repo is not None else ()
    roots = [repo.root] if repo is not None else []
    project = code_files.project_of(path, [*roots, project_dir] if project_dir else roots)
    files = code_files.closure(path, project)
    if files is None:
        return None
    sources = files
    entry = next(f for f in files if f.stamp.path == path)
    head = git_state.head_identity(repo) if repo is not None else None
    if repo is None or head is None:
        return _Memo(sources, git_stamps, "files:" + _digest_of(files, project), entry)
    in_index = git_state.tracked(repo, (f.stamp.path for f in files))
    if in_index is None:
        return _Memo(sources, git_stamps, "files:" + _digest_of(files, project), entry)
    untracked = [f for f in files if f.stamp.path not in in_index]
    if untracked:
        head = f"{head}-untracked-{_digest_of(untracked, project)}"
    return _Memo(sources, git_stamps, head, entry)


def _digest_of(files: tuple[SourceFile, ...] | list[SourceFile], project: Any) -> str:
    # Paths relative to the project, so two checkouts of one project agree.
    listing = sorted(f"{project.relative(f.stamp.path)}\0{f.digest}" for f in files)
    # surrogateescape: a file name that is not UTF-8 is hashed as its own bytes.
    return hashlib.sha256("\n".join(listing).encode("utf-8", "surrogateescape")).hexdigest()


def forget_git_identities() -> None:
    """Compute every code identity again on next use (each run re-checks anyway)."""
    with _memos_lock:
        _memos.clear()
    code_files.forget_files()


def git_identity(directory: Path) -> str:
    """Commit (+ ``-dirty-<diff hash>``) of the repository holding ``directory``.

    A version label for records such as checkpoints; ``unknown_code_version``
    outside git. Steps use :func:`default_identity`, which is never a constant.
    """
    repo = git_state.repo_of(directory.resolve())
    head = git_state.head_identity(repo) if repo is not None else None
    return head or UNKNOWN_CODE_VERSION


# ---------------------------------------------------------------- no source file
def _code_of(fn: Callable[..., Any]) -> tuple[CodeType | None, str | None]:
    """The code object a step runs, or else the file of its module."""
    target: Any = inspect.unwrap(fn)
    while isinstance(target, functools.partial):
        target = inspect.unwrap(target.func)
    target = getattr(target, "__func__", target)  # a bound method
    code = getattr(target, "__code__", None)
    if code is None and not isinstance(target, type):
        owner = next((k for k in type(target).__mro__ if "__call__" in k.__dict__), None)
        call = owner.__dict__["__call__"] if owner is not None else None  # a callable instance
        code = getattr(call, "__code__", None)
    if isinstance(code, CodeType):
        return code, None
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    return None, getattr(module, "__file__", None)


def _caller_code() -> CodeType | None:
    """The code that opened a manual run: the first frame outside Consist.

    Frames of installed packages (a CLI framework, say) are passed over too,
    unless nothing else is on the stack.
    """
    fallback = None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name == "consist" or name.startswith("consist.")):
            if not code_files.is_installed(frame.f_code.co_filename):
                return frame.f_code
            fallback = fallback or frame.f_code
        frame = frame.f_back
    return fallback


_NO_SOURCE = (
    "has no source file, so its code identity is its own bytecode: edits to code it "
    "calls are not seen. Define steps in a module file to have every edit detected."
)
_NOT_RELOADED = (
    "differs from its source file, which was edited after it was imported: its code "
    "identity is the bytecode it runs until you reload the module (importlib.reload, "
    "%autoreload) or restart."
)
_warned: set[tuple[str, str, str]] = set()


def _warn_once(code: CodeType, why: str) -> None:
    key = (code.co_filename, code.co_qualname, why)
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(
        f"consist: {code.co_qualname!r} (from {code.co_filename}) {why}",
        CodeIdentityWarning,
        stacklevel=4,
    )


# (step code, digest of its file) pairs whose loaded module matched the file.
_verified: set[tuple[CodeType, str]] = set()


def _runs_what_is_on_disk(code: CodeType, module_name: str | None, memo: _Memo) -> bool:
    """Whether the step's module, as loaded, is what its file compiles to now.

    False when the file was edited after the module was imported and not
    reloaded: the functions defined in the file (the step and its neighbours)
    are compared with the file's current code.
    """
    key = (code, memo.entry.digest)
    if key in _verified:
        return True
    try:
        with open(memo.entry.stamp.path, "rb") as handle:
            source = handle.read()
        module_code = compile(source, code.co_filename, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return False
    on_disk: dict[str, set[str]] = {}
    pending = [module_code]
    while pending:
        candidate = pending.pop()
        on_disk.setdefault(candidate.co_qualname, set()).add(_code_digest(candidate))
        pending.extend(c for c in candidate.co_consts if isinstance(c, CodeType))
    for loaded in (code, *_functions_loaded_from(code, module_name)):
        if _code_digest(loaded) not in on_disk.get(loaded.co_qualname, ()):
            return False
    if hashlib.sha256(source).hexdigest() == memo.entry.digest:
        _verified.add(key)
    return True


def _functions_loaded_from(code: CodeType, module_name: str | None) -> list[CodeType]:
    """Code of the functions and methods, defined in ``code``'s file, that its module holds."""
    module = sys.modules.get(module_name or "")
    if getattr(module, "__file__", None) != code.co_filename:
        module = next(
            (
                m
                for m in list(sys.modules.values())
                if getattr(m, "__file__", None) == code.co_filename
            ),
            None,
        )
    if module is None:
        return []
    found = []
    values = list(vars(module).values())
    seen: set[int] = set()
    for value in values:  # grows with the members of the module's own classes
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, type) and value.__module__ == module.__name__:
            values.extend(vars(value).values())
        function = getattr(value, "__func__", value)  # staticmethod, classmethod
        function_code = getattr(function, "__code__", None)
        if isinstance(function_code, CodeType) and function_code.co_filename == code.co_filename:
            found.append(function_code)
    return found


def _code_digest(code: CodeType) -> str:
    hasher = hashlib.sha256()
    _hash_code(code, hasher)
    return hasher.hexdigest()


def _bytecode_digest(code: CodeType, fn: Callable[..., Any] | None) -> str:
    hasher = hashlib.sha256()
    _hash_code(code, hasher)
    target = inspect.unwrap(fn) if fn is not None else None
    for field in ("__defaults__", "__kwdefaults__"):
        hasher.update(repr(getattr(target, field, None)).encode())
    return hasher.hexdigest()


def _hash_code(code: CodeType, hasher: Any) -> None:
    """Instructions, names and constants, recursively; not line numbers or file names."""
    hasher.update(code.co_code)
    hasher.update(repr((code.co_names, code.co_varnames, code.co_argcount)).encode())
    for const in code.co_consts:
        if isinstance(const, CodeType):
            _hash_code(const, hasher)
        elif isinstance(const, frozenset):
            hasher.update(repr(sorted(map(repr, const))).encode())
        else:
            hasher.update(repr(const).encode())


def module_identity(fn: Callable[..., Any]) -> str:
    module = inspect.getmodule(inspect.unwrap(fn))
    try:
        source = inspect.getsource(module) if module is not None else None
    except (OSError, TypeError):
        source = None
    if source is None:
        raise InvalidInput(
            f"code_identity='module': the source of {getattr(fn, '__qualname__', fn)!r}'s "
            "module is not available; use code_identity='git' or a version string"
        )
    return "module:" + hashlib.sha256(source.encode()).hexdigest()


def function_identity(fn: Callable[..., Any]) -> str:
    return _function_identity_of_code(inspect.unwrap(fn))


@functools.lru_cache(maxsize=1024)
def _function_identity_of_code(fn: Callable[..., Any]) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        raise InvalidInput(
            f"code_identity='function': the source of {getattr(fn, '__qualname__', fn)!r} "
            "is not available (defined interactively?); use a version string instead"
        ) from None
    tree = ast.parse(source)
    for node in ast.walk(tree):
        _drop_docstring(node)
    for node in ast.walk(tree):
        # Decorators (the define_step call, say) are not the function's behaviour.
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.decorator_list = []
            break
    normalised = ast.dump(tree, annotate_fields=True, include_attributes=False)
    return "function:" + hashlib.sha256(normalised.encode()).hexdigest()


def _drop_docstring(node: ast.AST) -> None:
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
        return
    body = node.body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]
