"""Code identity: the ``code_hash`` part of a signature.

- ``"git"`` (default): the commit SHA of the repository holding the step's
  source, plus ``-dirty-<sha256 of the diff of tracked files>`` when they are
  modified; ``unknown_code_version`` outside git. Computed once per repository
  per process (the code a process runs is the code it imported), refreshable
  with :func:`forget_git_identities`.
- ``"module"``: SHA-256 of the callable's module source.
- ``"function"``: SHA-256 of the callable's own source, parsed and dumped
  through ``ast`` so comments, docstrings and formatting do not count.
  (Manually tracked blocks, which have no callable, use ``"git"`` instead.)
- any other string: used as is (a version label you manage yourself);
- a callable: called with the step function, its return value used as is.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import os
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consist.domain import UNKNOWN_CODE_VERSION
from consist.domain.errors import InvalidInput

CodeIdentity = str | Callable[[Any], str]
_BUILTIN = ("git", "module", "function")


def code_hash(identity: CodeIdentity, fn: Callable[..., Any] | None, cwd: Path) -> str:
    """The code part of a signature for step ``fn`` (None for a manual run)."""
    if callable(identity):
        value = identity(fn)
        if not isinstance(value, str) or not value:
            raise InvalidInput("a code_identity callable must return a non-empty string")
        return value
    if identity == "git":
        return git_identity(_source_dir(fn) or cwd)
    if identity in ("module", "function"):
        if fn is None:
            # A manually tracked block has no callable to hash: fall back to git.
            return git_identity(cwd)
        return module_identity(fn) if identity == "module" else function_identity(fn)
    if not isinstance(identity, str) or not identity:
        raise InvalidInput(
            f"code_identity must be one of {_BUILTIN}, a version string or a callable, "
            f"not {identity!r}"
        )
    return f"user:{identity}"


def _source_dir(fn: Callable[..., Any] | None) -> Path | None:
    if fn is None:
        return None
    try:
        source = inspect.getsourcefile(inspect.unwrap(fn))
    except TypeError:
        return None
    return Path(source).resolve().parent if source else None


@functools.cache
def _git_root(directory: Path) -> Path | None:
    result = _git(directory, "rev-parse", "--show-toplevel")
    return Path(result) if result else None


@functools.cache
def _git_identity_of_root(root: Path) -> str:
    head = _git(root, "rev-parse", "HEAD")
    if not head:
        return UNKNOWN_CODE_VERSION
    diff = _git(root, "diff", "HEAD", "--no-ext-diff", "--binary", raw=True)
    if diff:
        return f"{head}-dirty-{hashlib.sha256(diff.encode()).hexdigest()}"
    return head


def git_identity(directory: Path) -> str:
    root = _git_root(directory.resolve())
    return UNKNOWN_CODE_VERSION if root is None else _git_identity_of_root(root)


def forget_git_identities() -> None:
    """Recompute git identities on next use (after editing code in a long process)."""
    _git_root.cache_clear()
    _git_identity_of_root.cache_clear()


def _git(directory: Path, *args: str, raw: bool = False) -> str | None:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, env=env, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout if raw else done.stdout.strip()


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
