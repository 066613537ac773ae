"""A process killed at a random moment loses no run it acknowledged.

A child runs cached steps and tracked blocks, printing each run id once the
call has returned (the run is acknowledged). The parent kills it with SIGKILL
or SIGTERM at a random moment, several times over the same run directory and
catalog. In every other round on SQLite a second connection holds a write
transaction, so the child's catalog writes are queued when it dies. A fresh
process must then find every acknowledged run, get a cache hit for every
acknowledged step, and the catalog file itself must hold them.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    import consist

    run_dir, catalog, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
    source = Path(run_dir).parent / "input.csv"
    tracker = consist.Tracker(run_dir, catalog=catalog, code_identity="faults-v1")

    def work(raw):
        return None

    print("ready", flush=True)
    for i in range(100_000):
        if i % 3 == 2:
            with tracker.start_run(f"{prefix}-block-{i}", model="block") as run:
                tracker.log_artifact(source, key="raw", direction="input", run=run)
            print("run", f"{prefix}-block-{i}", flush=True)
        else:
            result = tracker.run(
                work, name="work", inputs={"raw": source}, load_inputs=False,
                config={"prefix": prefix, "i": i},
            )
            print("step", result.run.id, prefix, i, flush=True)
""")

VERIFY = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import consist

    run_dir, catalog, acked = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    source = Path(run_dir).parent / "input.csv"
    tracker = consist.Tracker(run_dir, catalog=catalog, code_identity="faults-v1")
    found = {run.id for run in tracker.find_runs()}
    calls = []

    def work(raw):
        calls.append(1)

    misses = []
    for prefix, i in acked["steps"]:
        result = tracker.run(
            work, name="work", inputs={"raw": source}, load_inputs=False,
            config={"prefix": prefix, "i": i},
        )
        if not result.cache_hit:
            misses.append([prefix, i])
    tracker.close()
    print(json.dumps({
        "missing": sorted(set(acked["runs"]) - found), "misses": misses, "calls": len(calls),
    }))
""")

IN_CATALOG = textwrap.dedent("""
    import json, sys
    from consist.container import build_catalog

    catalog = build_catalog(sys.argv[1])
    print(json.dumps(sorted(catalog.run_ids())))
    catalog.close()
""")


def _kill_rounds(
    tmp_path: Path, catalog: str, sig: signal.Signals, rounds: int, seed: int
) -> dict[str, list]:
    """Start and kill the child ``rounds`` times; what it acknowledged before each kill."""
    rng = random.Random(seed)
    run_dir = tmp_path / "runs"
    (tmp_path / "input.csv").write_text("zone,trips\n1,10\n")
    acked: dict[str, list] = {"runs": [], "steps": []}
    for round_no in range(rounds):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(run_dir), catalog, f"k{round_no}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        busy = _hold_write_lock(catalog) if round_no % 2 else None
        # Kill right after an acknowledgement (the catalog write is then still
        # queued) or at a random instant in between; give up waiting after
        # 30 s (a child stuck behind the busy catalog is killed all the same).
        target = rng.randint(17, 40)
        lines: list[str] = []
        reader = threading.Thread(target=_collect, args=(child.stdout, lines))
        reader.start()
        deadline = time.monotonic() + 30
        while len(lines) < target and reader.is_alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0, 0.05))
        os.kill(child.pid, sig)
        child.wait(timeout=60)
        reader.join(timeout=60)
        err = child.stderr.read() if child.stderr is not None else ""
        if busy is not None:
            busy.rollback()
            busy.close()
        assert child.returncode == -sig, err
        complete = "".join(lines).split("\n")[:-1]  # a torn last line does not count
        for line in complete:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "run":
                acked["runs"].append(parts[1])
            elif parts[0] == "step":
                acked["runs"].append(parts[1])
                acked["steps"].append([parts[2], int(parts[3])])
    return acked


def _collect(stream: Any, lines: list[str]) -> None:
    for line in iter(stream.readline, ""):
        lines.append(line)


def _hold_write_lock(catalog: str) -> sqlite3.Connection | None:
    """Every other round, another process writes to an SQLite catalog the whole time
    (a long transaction): the child's catalog writes queue behind it."""
    if not catalog.startswith("sqlite:"):
        return None
    conn = sqlite3.connect(catalog.removeprefix("sqlite://"), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def _fresh(script: str, *args: str) -> object:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
@pytest.mark.parametrize("scheme", ["duckdb", "sqlite"])
def test_acknowledged_runs_survive_a_kill(tmp_path: Path, scheme: str, sig: signal.Signals) -> None:
    """0 acknowledged runs missing and every acknowledged step a hit, in a fresh process."""
    catalog = f"{scheme}:///{tmp_path}/catalog.{scheme}"
    acked = _kill_rounds(tmp_path, catalog, sig, rounds=6, seed=sum(map(ord, scheme + sig.name)))
    # At least 100 per signal: 200 or more acknowledged runs per catalog, killed mid-work.
    assert len(acked["runs"]) >= 100, "too few runs acknowledged to say anything"
    result = _fresh(VERIFY, str(tmp_path / "runs"), catalog, json.dumps(acked))
    assert isinstance(result, dict)
    assert result["missing"] == [], f"{len(result['missing'])} of {len(acked['runs'])} lost"
    assert result["misses"] == [] and result["calls"] == 0
    indexed = _fresh(IN_CATALOG, catalog)
    assert isinstance(indexed, list)
    assert set(acked["runs"]) <= set(indexed), "the catalog file itself lacks acknowledged runs"
