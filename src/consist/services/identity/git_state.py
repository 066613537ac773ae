"""What git says about a repository: its root, HEAD, the diff, which files it tracks.

Every answer comes from the ``git`` command line, run without optional locks
so that asking never rewrites the index. :func:`stamps` lists the files whose
``stat`` changes whenever HEAD or the index does (the index, HEAD, the branch
ref), which is what lets a caller keep an answer until one of them moves.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

import attrs

from consist.services.identity.code_files import Stamp


@attrs.frozen
class Repo:
    """A working tree: ``root``, its own git directory and the one shared by its worktrees."""

    root: str
    git_dir: str
    common_dir: str


def repo_of(directory: str | Path) -> Repo | None:
    """The repository holding ``directory``, or None outside git."""
    out = run_git(
        directory,
        "rev-parse",
        "--path-format=absolute",
        "--show-toplevel",
        "--git-dir",
        "--git-common-dir",
    )
    lines = out.splitlines() if out else []
    if len(lines) != 3:
        return None
    return Repo(*(os.path.normpath(line) for line in lines))


def head_identity(repo: Repo) -> str | None:
    """``<commit>`` or ``<commit>-dirty-<sha256 of the diff>``; None before the first commit."""
    head = run_git(repo.root, "rev-parse", "--verify", "--quiet", "HEAD")
    if not head:
        return None
    diff = run_git(repo.root, "diff", "HEAD", "--no-ext-diff", "--binary", raw=True)
    if diff:
        return f"{head}-dirty-{hashlib.sha256(diff.encode()).hexdigest()}"
    return head


def tracked(repo: Repo, paths: Iterable[str]) -> set[str] | None:
    """Which of ``paths`` (absolute, under the root) are in the index; None if git failed."""
    relative = [os.path.relpath(p, repo.root) for p in paths]
    if not relative:
        return set()
    out = run_git(repo.root, "ls-files", "-z", "--", *relative, raw=True)
    if out is None:
        return None
    return {os.path.normpath(os.path.join(repo.root, name)) for name in out.split("\0") if name}


def stamps(repo: Repo) -> tuple[Stamp, ...]:
    """The files whose stat moves with the index, HEAD or the branch HEAD points at."""
    head_file = os.path.join(repo.git_dir, "HEAD")
    files = [os.path.join(repo.git_dir, "index"), head_file]
    try:
        with open(head_file, encoding="utf-8") as handle:
            head = handle.read().strip()
    except OSError:
        head = ""
    if head.startswith("ref: "):
        files.append(os.path.join(repo.common_dir, *head[5:].split("/")))
        files.append(os.path.join(repo.common_dir, "packed-refs"))
    return tuple(Stamp.of(f) for f in files)


def run_git(directory: str | Path, *args: str, raw: bool = False) -> str | None:
    """Stdout of ``git args`` in ``directory`` (stripped unless ``raw``); None on any failure."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_LITERAL_PATHSPECS": "1", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, env=env, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout if raw else done.stdout.strip()
