"""Another program reading the DuckDB catalog never breaks a run.

A second process holds a read-only connection on the catalog file for 30 s
(as the DuckDB shell, DBeaver or a notebook would). Meanwhile a Tracker
starts, 50 runs complete and their steps are cache hits, here and in a fresh
process; once the reader lets go, all 50 are in the catalog file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import consist

HOLD_SECONDS = 30
RUNS = 50

HOLDER = textwrap.dedent("""
    import sys, time
    import duckdb

    conn = duckdb.connect(sys.argv[1], read_only=True)
    conn.execute("SELECT count(*) FROM runs").fetchall()
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.close()
""")

FRESH_HIT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import consist

    run_dir, catalog, i = sys.argv[1], sys.argv[2], int(sys.argv[3])
    source = Path(run_dir).parent / "input.csv"
    calls = []

    def work(raw):
        calls.append(1)

    tracker = consist.Tracker(run_dir, catalog=catalog, code_identity="faults-v1")
    result = tracker.run(work, name="work", inputs={"raw": source}, load_inputs=False,
                         config={"i": i})
    tracker.close()
    print(json.dumps({"hit": result.cache_hit, "calls": len(calls)}))
""")

IN_CATALOG = textwrap.dedent("""
    import json, sys
    import duckdb

    conn = duckdb.connect(sys.argv[1], read_only=True)
    print(json.dumps([row[0] for row in conn.execute("SELECT id FROM runs").fetchall()]))
""")


def _work(raw: object) -> None:
    return None


def _step(tracker: consist.Tracker, source: Path, i: int) -> consist.RunResult:
    return tracker.run(
        _work, name="work", inputs={"raw": source}, load_inputs=False, config={"i": i}
    )


@pytest.mark.slow
def test_runs_finish_while_another_program_reads_the_catalog(tmp_path: Path) -> None:
    """Held read-only for 30 s: the tracker starts, 50 runs finish and hit; none is lost."""
    db = tmp_path / "provenance.duckdb"
    url = f"duckdb:///{db}"
    run_dir = tmp_path / "runs"
    source = tmp_path / "input.csv"
    source.write_text("zone,trips\n1,10\n")
    with consist.Tracker(run_dir, catalog=url, code_identity="faults-v1") as first:
        _step(first, source, -1)  # the catalog exists and holds a run
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(HOLD_SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    held_since = time.monotonic()
    try:
        tracker = consist.Tracker(run_dir, catalog=url, code_identity="faults-v1")
        assert time.monotonic() - held_since < 5, "the tracker waited for the reader"
        ids = [_step(tracker, source, i).run.id for i in range(RUNS)]
        assert all(_step(tracker, source, i).cache_hit for i in (0, RUNS // 2, RUNS - 1))
        assert _step(tracker, source, -1).cache_hit  # a hit from the catalog itself
        fresh = subprocess.run(
            [sys.executable, "-c", FRESH_HIT, str(run_dir), url, str(RUNS - 1)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert fresh.returncode == 0, fresh.stderr
        assert json.loads(fresh.stdout.strip().splitlines()[-1]) == {"hit": True, "calls": 0}
        still_held = holder.poll() is None
    finally:
        holder.wait(timeout=HOLD_SECONDS + 60)
    assert still_held, "the reader let go before the runs finished; the test proves nothing"
    deadline = time.monotonic() + 60
    while not set(ids) <= tracker.catalog.run_ids() and time.monotonic() < deadline:
        time.sleep(0.5)
    tracker.close()
    indexed = subprocess.run(
        [sys.executable, "-c", IN_CATALOG, str(db)], capture_output=True, text=True, timeout=60
    )
    assert indexed.returncode == 0, indexed.stderr
    assert set(ids) <= set(json.loads(indexed.stdout))
