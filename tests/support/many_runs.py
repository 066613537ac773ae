"""A catalog of many runs written in bulk through the Catalog port, for report tests at scale.

Each scenario runs ``prepare`` -> ``simulate`` (which also reads the year
before) -> ``summarize`` for every year, over one shared raw input. Some runs
are cache hits, a few failed. Records go in with ``record_many`` (one
transaction), so 10,000 runs take seconds rather than the minutes real steps would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from consist.domain import Artifact, Direction, Run, RunArtifactLink, RunRecord, Signature
from consist.ports import Catalog

STEPS = ("prepare", "simulate", "summarize")
START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def many_run_records(scenarios: int, years: int) -> list[RunRecord]:
    """``scenarios * years * 3`` step runs plus one header run per scenario."""
    raw = Artifact(
        _digest("raw"), "zones", "inputs://zones.csv", "csv", _digest("zones-bytes"), 1200
    )
    records: list[RunRecord] = []
    clock = START
    for s in range(scenarios):
        scenario = f"scenario-{s:03d}"
        header = Run(scenario, "scenario", "completed", created_at=clock, ended_at=clock,
                     meta={"consist_scenario": True})  # fmt: skip
        records.append(RunRecord(header))
        previous: Artifact | None = None  # the simulate output of the year before
        for y in range(years):
            year = 2000 + y
            inputs: dict[str, Artifact] = {"zones": raw}
            for step in STEPS:
                clock += dt.timedelta(seconds=7)
                run_id = f"{step}-{s:03d}-{year}"
                number = s * years + y
                hit = step != "simulate" and number % 4 == 0
                failed = step == "simulate" and number % 97 == 5
                seconds = 0.05 if hit else 1.0 + (number % 13) / 4 + STEPS.index(step)
                if step == "simulate" and previous is not None:
                    inputs["previous"] = previous
                out = Artifact(
                    _digest("out", run_id), step + "_out", f"workspace://{step}.parquet",
                    "parquet", _digest("bytes", run_id), 5000, producer_run_id=run_id,
                    created_at=clock,
                )  # fmt: skip
                run = Run(
                    run_id,
                    step,
                    "failed" if failed else "completed",
                    parent_run_id=scenario,
                    year=year,
                    signature=Signature(_digest("code"), _digest("cfg", s), _digest("in", run_id)),
                    config={"fuel_price": 3 + s / 10, "year": year},
                    created_at=clock,
                    ended_at=clock + dt.timedelta(seconds=seconds),
                    cache_hit=hit,
                    cached_from=f"{step}-000-{year}" if hit and s else None,
                    error_type="RuntimeError" if failed else None,
                    error_message="solver diverged" if failed else None,
                )
                links = [
                    RunArtifactLink(run_id, art.id, Direction.INPUT, key)
                    for key, art in inputs.items()
                ]
                artifacts = list({a.id: a for a in inputs.values()}.values())
                if failed:
                    records.append(RunRecord(run, artifacts, links))
                    break  # a failed simulation ends its year
                links.append(RunArtifactLink(run_id, out.id, Direction.OUTPUT, out.key))
                records.append(RunRecord(run, [*artifacts, out], links))
                inputs = {out.key: out}
                if step == "simulate":
                    previous = out
    return records


def write_many_runs(catalog: Catalog, scenarios: int = 20, years: int = 168) -> int:
    """Write the records into ``catalog`` in one bulk call; returns the number of step runs."""
    records = many_run_records(scenarios, years)
    catalog.record_many(records)  # type: ignore[attr-defined]
    return sum(1 for r in records if r.run.model != "scenario")


def runs_dir(root: Path) -> Path:
    path = root / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path
