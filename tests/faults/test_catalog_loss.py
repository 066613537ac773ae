"""A lost catalog is rebuilt from the snapshots, never silently empty.

Runs are made (here, or in a child that is killed); then the catalog file is deleted, emptied to
0 bytes, replaced (by an older copy of itself, by a fresh catalog, by a file
that is not a database) or its write-ahead log is deleted. A fresh process
opening a Tracker must warn, and find every run and get every cache hit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import consist

STEPS = 12

MAKE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import consist

    run_dir, catalog, first, count, end = sys.argv[1:6]
    source = Path(run_dir).parent / "input.csv"
    source.write_text("zone,trips\\n1,10\\n")
    tracker = consist.Tracker(run_dir, catalog=catalog, code_identity="faults-v1")

    def work(raw):
        return None

    for i in range(int(first), int(first) + int(count)):
        tracker.run(work, name="work", inputs={"raw": source}, load_inputs=False,
                    config={"i": i})
    if end == "kill":  # right after the catalog writes, before anyone checkpoints
        tracker.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    tracker.close()
""")

CHECK = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import consist

    run_dir, catalog, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    source = Path(run_dir).parent / "input.csv"
    tracker = consist.Tracker(run_dir, catalog=catalog, code_identity="faults-v1")
    found = len(tracker.find_runs(model="work"))
    calls = []

    def work(raw):
        calls.append(1)

    hits = sum(
        tracker.run(work, name="work", inputs={"raw": source}, load_inputs=False,
                    config={"i": i}).cache_hit
        for i in range(count)
    )
    tracker.close()
    print(json.dumps({"found": found, "hits": hits, "calls": len(calls)}))
""")


def _python(script: str, *args: object, killed: bool = False) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == (-9 if killed else 0), done.stderr
    return done


def _file(tmp_path: Path, scheme: str) -> Path:
    return tmp_path / f"catalog.{scheme}"


def _make(tmp_path: Path, scheme: str, first: int, count: int, end: str = "close") -> None:
    """Steps ``first`` .. ``first + count - 1``; a clean close is done here, a kill in a child."""
    url = f"{scheme}:///{_file(tmp_path, scheme)}"
    if end == "kill":
        _python(MAKE, tmp_path / "runs", url, first, count, end, killed=True)
        return
    source = tmp_path / "input.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("zone,trips\n1,10\n")
    with consist.Tracker(tmp_path / "runs", catalog=url, code_identity="faults-v1") as tracker:
        for i in range(first, first + count):
            tracker.run(
                _work, name="work", inputs={"raw": source}, load_inputs=False, config={"i": i}
            )


def _work(raw: object) -> None:
    return None


def _check(tmp_path: Path, scheme: str) -> tuple[dict[str, int], str]:
    url = f"{scheme}:///{_file(tmp_path, scheme)}"
    done = _python(CHECK, tmp_path / "runs", url, STEPS)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def _companions(path: Path) -> list[Path]:
    names = [path.with_name(path.name + s) for s in (".wal", "-wal", "-shm", "-journal")]
    return [p for p in names if p.exists()]


def _delete(path: Path) -> None:
    for file in [path, *_companions(path)]:
        file.unlink()


def _empty(path: Path) -> None:
    _delete(path)
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    _delete(path)
    path.write_bytes(b"this is not a database\n" * 100)


LOSSES = {"deleted": _delete, "emptied": _empty, "replaced_by_garbage": _garbage}


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("scheme", ["duckdb", "sqlite"])
def test_lost_catalog_is_rebuilt_on_open(tmp_path: Path, scheme: str, loss: str) -> None:
    """Deleted, 0-byte or garbage: a warning, then every run and every hit is back."""
    _make(tmp_path, scheme, 0, STEPS)
    LOSSES[loss](_file(tmp_path, scheme))
    result, stderr = _check(tmp_path, scheme)
    assert result == {"found": STEPS, "hits": STEPS, "calls": 0}
    assert "rebuilt" in stderr, stderr


@pytest.mark.parametrize("scheme", ["duckdb", "sqlite"])
def test_catalog_replaced_by_an_older_copy_catches_up(tmp_path: Path, scheme: str) -> None:
    """An older copy put back (a restored backup) lacks later runs: they are indexed again."""
    _make(tmp_path, scheme, 0, 4)
    file = _file(tmp_path, scheme)
    backup = tmp_path / "backup"
    shutil.copy(file, backup)
    _make(tmp_path, scheme, 4, STEPS - 4)
    _delete(file)
    shutil.copy(backup, file)
    result, stderr = _check(tmp_path, scheme)
    assert result == {"found": STEPS, "hits": STEPS, "calls": 0}
    assert "lacked runs" in stderr, stderr


@pytest.mark.parametrize("scheme", ["duckdb", "sqlite"])
def test_catalog_replaced_by_a_fresh_one_is_rebuilt(tmp_path: Path, scheme: str) -> None:
    """A new, empty catalog put in place of the old one is filled from the snapshots."""
    _make(tmp_path, scheme, 0, STEPS)
    file = _file(tmp_path, scheme)
    _delete(file)
    _make(tmp_path / "elsewhere", scheme, 100, 0)  # a catalog made by another project
    shutil.move(_file(tmp_path / "elsewhere", scheme), file)
    result, stderr = _check(tmp_path, scheme)
    assert result == {"found": STEPS, "hits": STEPS, "calls": 0}
    assert "rebuilt" in stderr, stderr


@pytest.mark.parametrize("scheme", ["duckdb", "sqlite"])
def test_deleted_write_ahead_log_loses_nothing_acknowledged(tmp_path: Path, scheme: str) -> None:
    """Killed with commits still in the WAL, then the WAL deleted: nothing is lost."""
    _make(tmp_path, scheme, 0, 4)  # closed cleanly: these are in the main file
    _make(tmp_path, scheme, 4, STEPS - 4, end="kill")
    wal = _companions(_file(tmp_path, scheme))
    assert wal, "the process left no write-ahead log; the test proves nothing"
    for file in wal:
        file.unlink()
    result, stderr = _check(tmp_path, scheme)
    assert result == {"found": STEPS, "hits": STEPS, "calls": 0}
    assert "lacked runs" in stderr, stderr
