"""Chart series of the report: per-step runtime and cache-hit rate over time, in time bins.

Binning here keeps the page small and fast whatever the number of runs: the
browser draws at most ``bins`` points per line.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from consist.domain import Run, RunStatus

DEFAULT_BINS = 40


def time_series(steps: Sequence[Run], bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Series over equal time bins of the runs' start times.

    ``runtime[step][i]`` is the mean duration in seconds of the runs of ``step``
    that executed (cache misses) in bin ``i``, ``hit_rate[i]`` the share of the
    bin's completed runs served from the cache; None where a bin has no such run.
    """
    finished = [r for r in steps if r.status is RunStatus.COMPLETED]
    if not finished:
        return {"bins": [], "bin_seconds": None, "runtime": {}, "hit_rate": [], "runs_per_bin": []}
    start = min(r.created_at for r in finished)
    end = max(r.created_at for r in finished)
    span = (end - start).total_seconds()
    count = max(1, min(bins, len(finished))) if span > 0 else 1
    width = span / count if span > 0 else 1.0

    def index(run: Run) -> int:
        return min(count - 1, int((run.created_at - start).total_seconds() / width))

    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * count)
    numbers: dict[str, list[int]] = defaultdict(lambda: [0] * count)
    hits, totals = [0] * count, [0] * count
    for run in finished:
        i = index(run)
        totals[i] += 1
        if run.cache_hit:
            hits[i] += 1
        elif run.duration_seconds is not None:
            step = run.model or "run"
            sums[step][i] += run.duration_seconds
            numbers[step][i] += 1
    runtime = {step: _means(sums[step], numbers[step]) for step in sorted(sums)}
    return {
        "bins": [(start + dt.timedelta(seconds=width * i)).isoformat() for i in range(count)],
        "bin_seconds": width,
        "runtime": runtime,
        "hit_rate": _means([float(h) for h in hits], totals),
        "runs_per_bin": totals,
    }


def _means(sums: list[float], counts: list[int]) -> list[float | None]:
    return [round(s / n, 4) if n else None for s, n in zip(sums, counts, strict=True)]
