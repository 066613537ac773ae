"""Progress bars for large transfers: rich on stderr, silent unless asked or on a TTY."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from fsspec.callbacks import Callback

PROGRESS_THRESHOLD = 64 << 20


def wants_progress(progress: bool | None) -> bool:
    """``progress`` if given, else whether stderr is an interactive terminal."""
    if progress is not None:
        return progress
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """One transfer's bar; phases (hashing, uploading) reuse it. A no-op below the threshold."""

    def __init__(self, enabled: bool, threshold: int = PROGRESS_THRESHOLD) -> None:
        self._enabled = enabled
        self._threshold = threshold
        self._bars: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def start(self, description: str, total: int | None) -> None:
        """Begin a phase; shows a bar only if enabled and ``total`` reaches the threshold."""
        if not self._enabled or total is None or total < self._threshold:
            self._task = None
            return
        if self._bars is None:
            self._bars = _new_bars()
            self._bars.start()
        if self._task is not None:
            self._bars.remove_task(self._task)
        self._task = self._bars.add_task(description, total=total)

    def advance(self, amount: int) -> None:
        if self._task is not None:
            self._bars.advance(self._task, amount)

    def callback(self, description: str) -> Callback:
        """An fsspec callback that feeds this bar from ``put_file`` / ``get_file``."""
        return _PhaseCallback(self, description)


class _PhaseCallback(Callback):  # type: ignore[misc]
    def __init__(self, progress: Progress, description: str) -> None:
        super().__init__()
        self._progress = progress
        self._description = description

    def set_size(self, size: int | None) -> None:
        super().set_size(size)
        self._progress.start(self._description, size)

    def relative_update(self, inc: int = 1) -> None:
        super().relative_update(inc)
        self._progress.advance(inc)

    def absolute_update(self, value: int) -> None:
        step = value - (self.value or 0)
        super().absolute_update(value)
        self._progress.advance(step)


def _new_bars() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as RichProgress

    return RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
