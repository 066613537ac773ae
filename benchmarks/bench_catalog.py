"""Catalog lookups at scale: signature hits and (parent, model, year) queries, DuckDB and SQLite.

Each adapter gets a fresh file holding N runs (100,000; 5,000 with --quick),
every run with a signature, a small config and facet, one input and one output
artifact, spread over 100 scenarios x 10 models x 10 years. The load uses the
adapters' optional ``record_many`` capability.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._harness import report, time_calls
from consist.container import build_catalog
from consist.domain import (
    Artifact,
    Direction,
    Run,
    RunArtifactLink,
    RunQuery,
    RunRecord,
    Signature,
)

_T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
_BATCH = 5_000


def _record(i: int) -> RunRecord:
    run_id = f"run-{i:07d}"
    parent, model, year = f"scenario-{i % 100}", f"model-{(i // 100) % 10}", 2020 + (i // 1000) % 10
    inp = Artifact(
        id=f"{run_id}-in", key="land_use", uri=f"inputs://land_use_{i % 500}.csv", size=1 << 20
    )
    out = Artifact(
        id=f"{run_id}-out",
        key="persons",
        uri=f"workspace://{run_id}/persons.parquet",
        driver="parquet",
        content_hash=f"{i:064x}",
        producer_run_id=run_id,
    )
    run = Run(
        id=run_id,
        model=model,
        parent_run_id=parent,
        year=year,
        signature=Signature("code", f"config-{i}", "inputs"),
        config={"sample_rate": 0.25, "seed": i},
        facet={"sample_rate": 0.25},
        created_at=_T0 + dt.timedelta(seconds=i),
    ).completed(at=_T0 + dt.timedelta(seconds=i + 60))
    links = (
        RunArtifactLink(run_id, inp.id, Direction.INPUT, "land_use"),
        RunArtifactLink(run_id, out.id, Direction.OUTPUT, "persons"),
    )
    return RunRecord(run, (inp, out), links)


def _cycle(values: list[Any]) -> Iterator[Any]:
    random.Random(7).shuffle(values)
    return itertools.cycle(values)


def _bench(name: str, url: str, path: Path, runs: int) -> None:
    catalog = build_catalog(url)
    started = time.perf_counter()
    for start in range(0, runs, _BATCH):
        catalog.record_many(_record(i) for i in range(start, min(start + _BATCH, runs)))
    load = time.perf_counter() - started
    report(f"catalog.{name}.bulk_load", [runs / load], unit="runs/s", better="higher", runs=runs)

    signatures = _cycle(
        [_record(i).run.signature_digest for i in range(0, runs, max(1, runs // 500))]
    )
    report(
        f"catalog.{name}.find_by_signature",
        time_calls(lambda: catalog.find_by_signature(next(signatures)), repeat=300),
        unit="ms",
        scale=1000,
        limit=2.0,
        runs=runs,
    )
    queries = _cycle(
        [
            RunQuery(parent_run_id=f"scenario-{p}", model=f"model-{m}", year=2020 + y)
            for p in range(0, 100, 7)
            for m in range(10)
            for y in range(0, 10, 3)
        ]
    )
    report(
        f"catalog.{name}.find_runs_parent_model_year",
        time_calls(lambda: catalog.find_runs(next(queries)), repeat=200),
        unit="ms",
        scale=1000,
        limit=10.0,
        runs=runs,
    )
    catalog.close()
    size = sum(p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name))
    report(f"catalog.{name}.bytes_per_run", [size / runs], unit="bytes", runs=runs)


def main(quick: bool) -> None:
    runs = 5_000 if quick else 100_000
    with tempfile.TemporaryDirectory(prefix="consist-bench-catalog-") as tmp:
        for name, suffix in (("duckdb", "duckdb"), ("sqlite", "sqlite")):
            path = Path(tmp) / f"catalog.{suffix}"
            _bench(name, f"{name}:///{path}", path, runs)


if __name__ == "__main__":
    main(quick=True)
