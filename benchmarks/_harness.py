"""Measure, summarise and print benchmark figures as one JSON line each."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any


def time_calls(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn`` after ``warmup`` unrecorded ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def report(
    name: str,
    samples: Iterable[float],
    *,
    unit: str,
    limit: float | None = None,
    better: str = "lower",
    scale: float = 1.0,
    **extra: Any,
) -> dict[str, Any]:
    """Print one JSON line: median/min/max (times ``scale``), the limit and whether it is met."""
    values = [s * scale for s in samples]
    median = statistics.median(values)
    figure: dict[str, Any] = {
        "benchmark": name,
        "unit": unit,
        "median": round(median, 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "n": len(values),
        "limit": limit,
        "better": better,
    }
    if limit is not None:
        figure["ok"] = median <= limit if better == "lower" else median >= limit
    figure.update(extra)
    print(json.dumps(figure), flush=True)
    sys.stdout.flush()
    return figure
