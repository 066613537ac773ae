"""Runs as a DataFrame (pandas or polars): one row per run, its facet flattened into columns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from consist.domain import Run
from consist.domain.errors import InvalidInput
from consist.domain.facets import flatten

FRAME_KINDS = ("pandas", "polars")
RUN_COLUMNS = (
    "id",
    "model",
    "scenario",
    "year",
    "iteration",
    "status",
    "started",
    "ended",
    "duration_s",
    "cache_hit",
    "cached_from",
    "signature",
    "tags",
)
FACET_PREFIX = "facet."


def check_as(value: Any, what: str) -> str:
    """``list`` (or None) or one of the frame kinds; InvalidInput otherwise."""
    if value is None or value == "list":
        return "list"
    if isinstance(value, str) and value in FRAME_KINDS:
        return value
    raise InvalidInput(f"{what}(as_=...) must be 'list', 'pandas' or 'polars', not {value!r:.80}")


def run_row(run: Run) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": run.id,
        "model": run.model,
        "scenario": run.parent_run_id,
        "year": run.year,
        "iteration": run.iteration,
        "status": str(run.status),
        "started": run.created_at,
        "ended": run.ended_at,
        "duration_s": run.duration_seconds,
        "cache_hit": run.cache_hit,
        "cached_from": run.cached_from,
        "signature": run.signature_digest,
        "tags": ",".join(run.tags),
    }
    for leaf in flatten(run.facet) if run.facet else ():
        row[FACET_PREFIX + leaf.key] = leaf.value
    return row


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _one_type_per_column(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A facet key holding numbers in one run and text in another becomes a text column
    (polars refuses mixed columns; pandas would keep an object column of both)."""
    for column in columns:
        kinds = {_kind(row[column]) for row in rows if row.get(column) is not None}
        if len(kinds) > 1:
            for row in rows:
                value = row.get(column)
                if value is not None and not isinstance(value, str):
                    row[column] = json.dumps(value)


def runs_frame(runs: Sequence[Run], kind: str) -> Any:
    """The runs as a pandas or polars DataFrame, in the order given."""
    rows = [run_row(run) for run in runs]
    facets = sorted({c for row in rows for c in row if c.startswith(FACET_PREFIX)})
    _one_type_per_column(rows, facets)
    columns = [*RUN_COLUMNS, *facets]
    data = {c: [row.get(c) for row in rows] for c in columns}
    try:
        if kind == "pandas":
            import pandas as pd

            frame = pd.DataFrame(data, columns=columns)
            for column in ("started", "ended"):
                frame[column] = pd.to_datetime(frame[column], utc=True)
            return frame
        import polars as pl
    except ImportError:
        raise InvalidInput(f"as_={kind!r} needs {kind}: pip install {kind}") from None
    return pl.DataFrame(data, schema_overrides=_polars_types(pl), strict=False)


def _polars_types(pl: Any) -> dict[str, Any]:
    return {
        "id": pl.String,
        "model": pl.String,
        "scenario": pl.String,
        "year": pl.Int64,
        "iteration": pl.Int64,
        "status": pl.String,
        "started": pl.Datetime("us", "UTC"),
        "ended": pl.Datetime("us", "UTC"),
        "duration_s": pl.Float64,
        "cache_hit": pl.Boolean,
        "cached_from": pl.String,
        "signature": pl.String,
        "tags": pl.String,
    }
