"""Tracker and caching-engine figures on the embedded default (DuckDB catalog on disk).

- per-run overhead: start_run + log one small input + log one small output + end
  (target <= 5 ms median), and catalog bytes per run (target <= 8 KB);
- cache hit end to end with 10,000 runs in the catalog (target <= 3 ms median);
- a trivial cache-miss run (target <= 10 ms median);
- re-check of an unchanged 1 GiB input (target <= 5 ms);
- full hashing throughput against raw hashlib sha256 on the same file (target >= 80%).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import report, time_calls


def _tracker(root: Path, **options: Any) -> Any:
    import consist

    options.setdefault("code_identity", "bench-v1")
    return consist.Tracker(root / "runs", db_path=root / "provenance.duckdb", **options)


def _catalog_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.glob("provenance.duckdb*") if p.is_file())


def per_run_overhead(root: Path, runs: int) -> None:
    source = root / "input.csv"
    root.mkdir(parents=True, exist_ok=True)
    source.write_text("a,b\n1,2\n")
    counter = iter(range(10**9))

    def one_run(tracker: Any) -> None:
        run_id = f"r{next(counter)}"
        with tracker.start_run(run_id, model="bench", year=2030) as active:
            tracker.log_artifact(source, key="raw", direction="input", run=active)
            out = active.workspace / "out.csv"
            out.write_text("x\n1\n")
            tracker.log_artifact(out, key="out", run=active)

    # An empty catalog's file is the fixed overhead; what the runs add is per run.
    _tracker(root).close()
    baseline = _catalog_bytes(root)
    tracker = _tracker(root)
    for _ in range(5):
        one_run(tracker)
    started = time.perf_counter()
    samples = time_calls(lambda: one_run(tracker), runs, warmup=0)
    tracker.flush()
    amortised = (time.perf_counter() - started) / runs
    report(
        "tracker.per_run_overhead",
        samples,
        unit="ms",
        scale=1000,
        limit=5.0,
        amortised_ms_including_catalog_writes=round(amortised * 1000, 3),
    )
    tracker.close()
    # DuckDB allocates storage in 256 KiB blocks per table and index, so a few
    # hundred runs say more about block size than about runs: measure what
    # 2,000 more runs add to the file.
    before = _catalog_bytes(root)
    extra = 400 if runs < 500 else 2_000
    tracker = _tracker(root, background_writes=True)
    for _ in range(extra):
        one_run(tracker)
    tracker.close()
    report(
        "tracker.catalog_bytes_per_run",
        [(_catalog_bytes(root) - before) / extra],
        unit="bytes",
        limit=8192,
        runs_measured=extra,
        runs_before=runs + 5,
        empty_catalog_bytes=baseline,
    )


def cache_hit_and_miss(root: Path, catalog_runs: int, repeat: int) -> None:
    tracker = _tracker(root)
    _fill_catalog(tracker, catalog_runs)
    source = root / "step-input.csv"
    source.write_text("value\n1\n2\n")

    def step(raw: Path) -> None:
        return None

    tracker.run(step, inputs={"raw": source}, load_inputs=False, config={"k": 1})
    samples = time_calls(
        lambda: tracker.run(step, inputs={"raw": source}, load_inputs=False, config={"k": 1}),
        repeat,
    )
    report(
        "engine.cache_hit_end_to_end",
        samples,
        unit="ms",
        scale=1000,
        limit=3.0,
        catalog_runs=catalog_runs,
    )
    counter = iter(range(10**9))
    miss_samples = time_calls(
        lambda: tracker.run(
            step, inputs={"raw": source}, load_inputs=False, config={"k": next(counter) + 2}
        ),
        repeat,
    )
    report(
        "engine.trivial_cache_miss",
        miss_samples,
        unit="ms",
        scale=1000,
        limit=10.0,
        catalog_runs=catalog_runs,
    )
    tracker.close()


def _fill_catalog(tracker: Any, count: int) -> None:
    """Bulk-index synthetic completed runs so lookups face a realistic catalog."""
    from consist.domain import Artifact, Direction, Run, RunArtifactLink, RunRecord, Signature

    records = []
    for i in range(count):
        sig = Signature(f"code{i % 7}", f"cfg{i}", f"in{i}")
        run = Run(
            id=f"filler-{i}",
            model=f"m{i % 20}",
            year=2020 + i % 30,
            parent_run_id=f"scen{i % 50}",
            signature=sig,
        ).completed()
        art = Artifact(
            id=f"fa-{i}",
            key="out",
            uri=f"workspace://out{i}.parquet",
            content_hash=hashlib.sha256(str(i).encode()).hexdigest(),
            producer_run_id=run.id,
        )
        records.append(
            RunRecord(run, (art,), (RunArtifactLink(run.id, art.id, Direction.OUTPUT, "out"),))
        )
    bulk = getattr(tracker.catalog, "record_many", None)
    if bulk is not None:
        bulk(records)
    else:
        for record in records:
            tracker.catalog.record(record)


def hashing(root: Path, size: int) -> None:
    from consist.services.identity.hashing import FileHasher, HashMemo

    path = root / "big.bin"
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for _ in range(size >> 20):
            handle.write(chunk)

    def raw_sha() -> None:
        hasher = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                hasher.update(block)

    raw, ours = [], []
    raw_sha()  # warm the page cache
    for _ in range(5):  # interleaved, so background load hits both alike
        raw.extend(time_calls(raw_sha, 1, warmup=0))
        # A fresh memo each time: the figure is hashing, not a memo lookup.
        fresh = FileHasher(HashMemo(None), progress=False)
        ours.extend(time_calls(lambda hasher=fresh: hasher.identity(path), 1, warmup=0))
    ratio = statistics.median(raw) / statistics.median(ours)
    report(
        "hashing.full_throughput_vs_hashlib",
        [ratio],
        unit="ratio",
        limit=0.8,
        better="higher",
        file_mib=size >> 20,
        ours_mib_s=round((size >> 20) / statistics.median(ours), 1),
        hashlib_mib_s=round((size >> 20) / statistics.median(raw), 1),
    )
    memo = HashMemo(root / "memo.sqlite")
    FileHasher(memo, progress=False).identity(path)
    warm = FileHasher(HashMemo(root / "memo.sqlite"), progress=False)
    recheck = time_calls(lambda: warm.identity(path), 200, warmup=1)
    report(
        "hashing.recheck_unchanged_input",
        recheck,
        unit="ms",
        scale=1000,
        limit=5.0,
        file_mib=size >> 20,
    )
    path.unlink()


def main(quick: bool = False) -> None:
    root = Path(tempfile.mkdtemp(prefix="consist-bench-"))
    try:
        per_run_overhead(root / "overhead", 50 if quick else 500)
        cache_hit_and_miss(root / "cache", 1_000 if quick else 10_000, 50 if quick else 200)
        hashing(root, (64 if quick else 1024) << 20)
    finally:
        shutil.rmtree(root, ignore_errors=True)
