"""Capturing the files a tool writes into a folder as a step's outputs."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from consist.domain import Artifact

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun

FileState = tuple[int, int]


def file_clock_ns() -> int:
    """Now, on the clock file systems stamp mtimes with.

    Linux stamps files from its coarse clock, which lags the precise one by up
    to a tick: a file written just after a precise "now" can look older than it.
    """
    coarse = getattr(time, "CLOCK_REALTIME_COARSE", None)
    if coarse is not None:
        return time.clock_gettime_ns(coarse)
    return time.time_ns() - 20_000_000


def stem(path: Path) -> str:
    """A file's name without any of its suffixes (``trips.csv.gz`` -> ``trips``)."""
    name = path.name
    for suffix in reversed(path.suffixes):
        name = name.removesuffix(suffix)
    return name or path.name


def file_states(root: Path, pattern: str) -> dict[Path, FileState]:
    if not root.is_dir():
        return {}
    states = {}
    for path in root.rglob("*"):
        if path.is_file() and fnmatch.fnmatch(path.name, pattern):
            stat = path.stat()
            states[path] = (stat.st_size, stat.st_mtime_ns)
    return states


def capture_changed(
    active: ActiveRun, root: Path, pattern: str, before: Mapping[Path, FileState]
) -> dict[str, Artifact]:
    """Log files under ``root`` that are new or changed since ``before``."""
    captured = {}
    for path, state in sorted(file_states(root, pattern).items()):
        if before.get(path) != state:
            key = stem(path)
            captured[key] = active.log_output(path, key)
    return captured


class OutputCapture:
    """What ``ctx.capture_outputs(...)`` returns: the outputs it logged, by key.

    Made, it logs the files changed since ``since_ns`` (the step's start); as a
    with-block it also logs those changed inside the block, and ``with ... as
    captured`` gives the dict of all of them.
    """

    def __init__(self, active: ActiveRun, root: Path, pattern: str, since_ns: int) -> None:
        self._active = active
        self._root = root
        self._pattern = pattern
        current = file_states(root, pattern)
        older = {path: state for path, state in current.items() if state[1] < since_ns}
        self.captured: dict[str, Artifact] = capture_changed(active, root, pattern, older)
        self._before = current

    def __enter__(self) -> dict[str, Artifact]:
        return self.captured

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            changed = capture_changed(self._active, self._root, self._pattern, self._before)
            self.captured.update(changed)

    def __getitem__(self, key: str) -> Artifact:
        return self.captured[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.captured)

    def __len__(self) -> int:
        return len(self.captured)

    def __repr__(self) -> str:
        return f"<OutputCapture {sorted(self.captured)}>"
