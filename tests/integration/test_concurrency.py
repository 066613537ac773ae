"""Several processes, one catalog file: no lost work, no user-visible lock errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import consist
from consist.domain import Direction

WORKERS = 4
RUNS_EACH = 100

WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    import consist

    run_dir, catalog, worker, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    source = Path(run_dir).parent / f"input-{worker}.csv"
    source.write_text(f"worker,{worker}\\n")
    tracker = consist.Tracker(run_dir, catalog=catalog, code_identity="v1")
    for i in range(count):
        with tracker.start_run(f"w{worker}-r{i}", model="load", year=2000 + i) as run:
            tracker.log_artifact(source, key="raw", direction="input", run=run)
            out = run.workspace / "out.csv"
            out.write_text(f"{worker},{i}\\n")
            tracker.log_artifact(out, key="out", run=run)
    tracker.close()
    print("done", worker)
""")


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["duckdb", "sqlite"])
def test_four_processes_hundred_runs_each_lose_nothing(tmp_path: Path, scheme: str) -> None:
    """All 400 runs and 800 artifact links are indexed after at most one sync."""
    suffix = "duckdb" if scheme == "duckdb" else "sqlite"
    catalog = f"{scheme}:///{tmp_path}/shared.{suffix}"
    run_dir = tmp_path / "runs"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(run_dir), catalog, str(w), str(RUNS_EACH)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WORKERS)
    ]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code == 0, err
        assert "Traceback" not in err and "Error" not in err, err
    tracker = consist.Tracker(run_dir, catalog=catalog, code_identity="v1")
    synced = tracker.sync()  # the outbox: runs whose catalog write gave up
    runs = tracker.find_runs(model="load")
    assert len(runs) == WORKERS * RUNS_EACH
    assert {r.status for r in runs} == {consist.RunStatus.COMPLETED}
    record = tracker.get_record(f"w{WORKERS - 1}-r{RUNS_EACH - 1}")
    assert {link.direction for link in record.links} == {Direction.INPUT, Direction.OUTPUT}
    outputs = tracker.find_artifacts(key="out")
    assert len(outputs) == WORKERS * RUNS_EACH
    tracker.close()
    print(f"{scheme}: {len(synced)} runs came in through db sync")
