"""Manual run lifecycle: snapshots first, then the catalog; failures recorded, never lost."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import consist
from consist.domain import RunStatus
from consist.domain.errors import ConfigNotSerializable, DuplicateRun, NoActiveTracker


def _snapshot(tracker: Any, run_id: str) -> dict[str, Any]:
    return json.loads((tracker.run_dir / run_id / "consist.json").read_text())


def test_completed_run_has_snapshot_and_catalog_row(tracker: Any, data_dir: Path) -> None:
    """start_run writes the snapshot and the catalog agrees with it."""
    with tracker.start_run(
        "r1",
        model="clean",
        year=2030,
        iteration=1,
        tags=["a"],
        config={"threshold": 0.5},
        facet={"threshold": 0.5},
    ) as run:
        consist.log_artifact(data_dir / "raw.csv", key="raw", direction="input")
        assert consist.current_run() is run
    snapshot = _snapshot(tracker, "r1")
    assert snapshot["run"]["status"] == "completed"
    assert snapshot["run"]["config"] == {"threshold": 0.5}
    assert [a["key"] for a in snapshot["artifacts"]] == ["raw"]
    assert snapshot["run"]["signature"] is not None
    stored = tracker.get_run("r1")
    assert (stored.status, stored.year, stored.iteration, stored.tags) == (
        RunStatus.COMPLETED,
        2030,
        1,
        ("a",),
    )


def test_exception_marks_run_failed_and_reraises(tracker: Any) -> None:
    """A failing block leaves a failed snapshot with the error, fires the hook, re-raises."""
    seen: list[tuple[str, str]] = []
    tracker.events.on_run_failed(lambda run, exc: seen.append((run.id, type(exc).__name__)))
    with pytest.raises(ZeroDivisionError), tracker.start_run("boom", model="m"):
        1 / 0  # noqa: B018
    snapshot = _snapshot(tracker, "boom")["run"]
    assert snapshot["status"] == "failed"
    assert snapshot["error_type"] == "ZeroDivisionError"
    assert "division by zero" in snapshot["error_message"]
    assert tracker.get_run("boom").status is RunStatus.FAILED
    assert seen == [("boom", "ZeroDivisionError")]


def test_duplicate_run_id_is_refused(tracker: Any) -> None:
    with tracker.start_run("same", model="m"):
        pass
    with pytest.raises(DuplicateRun, match="same"), tracker.start_run("same", model="m"):
        pass
    assert tracker.get_run("same").status is RunStatus.COMPLETED


def test_begin_and_end_run_without_with_block(tracker: Any) -> None:
    active = tracker.begin_run("manual", model="m")
    assert consist.current_run() is active
    run = tracker.end_run(active)
    assert run.status is RunStatus.COMPLETED
    with pytest.raises(NoActiveTracker):
        consist.current_run()


def test_unserialisable_config_is_refused_before_anything_runs(tracker: Any) -> None:
    with (
        pytest.raises(ConfigNotSerializable, match=r"config\.callback"),
        tracker.start_run("bad", model="m", config={"callback": print}),
    ):
        pass
    assert not (tracker.run_dir / "bad" / "consist.json").exists()


def test_hook_that_raises_does_not_break_the_run(tracker: Any, caplog: Any) -> None:
    """A broken hook is logged; the run still completes."""
    tracker.events.on_run_complete(lambda run, artifacts: 1 / 0)
    got: list[str] = []
    tracker.events.on_run_complete(lambda run, artifacts: got.append(run.id))
    with (
        caplog.at_level(logging.WARNING, logger="consist.events"),
        tracker.start_run("hooked", model="m"),
    ):
        pass
    assert tracker.get_run("hooked").status is RunStatus.COMPLETED
    assert got == ["hooked"]
    assert "hook" in caplog.text


class _BrokenCatalog:
    """Delegates reads, fails every write: a locked or full catalog."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def record(self, record: Any) -> None:
        raise OSError("disk full")

    def close(self) -> None:
        pass  # the real catalog is handed to a healthy tracker afterwards

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_catalog_failure_never_fails_the_run_and_sync_recovers(
    make_tracker: Any, caplog: Any, catalog_url: str
) -> None:
    """Snapshot is the truth: a failing catalog logs a warning; the next tracker indexes it."""
    from consist.container import build_catalog

    real = build_catalog(catalog_url)
    broken = make_tracker(catalog=_BrokenCatalog(real))
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        with broken.start_run("lost", model="m"):
            pass
        broken.flush()
    assert "consist db sync" in caplog.text
    assert (broken.run_dir / "lost" / "consist.json").exists()
    broken.close()
    assert "lost" not in real.run_ids()
    healthy = make_tracker(catalog=real)
    if catalog_url == "memory://":  # nothing to recover in memory: sync indexes it
        assert healthy.sync() == ["lost"]
    else:  # opening a tracker on a file catalog indexes what it lacks
        assert "lost" in real.run_ids()
    assert healthy.get_run("lost").status is RunStatus.COMPLETED
    assert healthy.sync() == []


def test_rebuild_from_snapshots_gives_the_same_answers(
    make_tracker: Any, tmp_path: Path, data_dir: Path
) -> None:
    """Delete the catalog: rebuilding from snapshots restores runs, artifacts and links."""
    first = make_tracker()
    with first.start_run("up", model="prep"):
        out = first.log_dataframe(__import__("pandas").DataFrame({"x": [1]}), key="table")
    with first.start_run("down", model="use"):
        consist.log_artifact(out, key="table", direction="input")
    before = {rid: first.get_record(rid) for rid in ("up", "down")}
    first.close()
    fresh = make_tracker(catalog="memory://")
    assert fresh.rebuild() == 2
    after = {rid: fresh.get_record(rid) for rid in ("up", "down")}
    for rid in before:
        assert after[rid].run == before[rid].run
        assert set(after[rid].artifacts) == set(before[rid].artifacts)
        assert set(after[rid].links) == set(before[rid].links)


def test_killed_process_leaves_a_running_run_that_is_marked_interrupted(
    make_tracker: Any, tmp_path: Path, catalog_url: str
) -> None:
    """kill -9 mid-run: the next Tracker marks it failed, and it never serves a hit."""
    run_dir = tmp_path / "runs"
    script = textwrap.dedent(f"""
        import os, signal, consist
        t = consist.Tracker({str(run_dir)!r}, catalog={catalog_url!r}, background_writes=False)
        t.begin_run("doomed", model="m")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert json.loads((run_dir / "doomed" / "consist.json").read_text())["run"]["status"] == (
        "running"
    )
    tracker = make_tracker(run_dir=run_dir)
    tracker.sync()
    snapshot = json.loads((run_dir / "doomed" / "consist.json").read_text())["run"]
    assert snapshot["status"] == "failed"
    assert snapshot["error_type"] == "Interrupted"
    run = tracker.get_run("doomed")
    assert run.status is RunStatus.FAILED
    assert tracker.find_by_signature(run.signature_digest or "x") is None


def test_live_runs_of_other_processes_are_left_alone(make_tracker: Any, tmp_path: Path) -> None:
    first = make_tracker()
    active = first.begin_run("in-flight", model="m")
    second = make_tracker()
    assert second.snapshots.abandoned() == []
    assert (
        json.loads((first.run_dir / "in-flight" / "consist.json").read_text())["run"]["status"]
        == "running"
    )
    first.end_run(active)
