"""One bad record never poisons the catalog: it waits in the outbox with its reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import CliRunner

from consist.cli import app
from consist.domain import Artifact, Direction, RunArtifactLink, RunRecord, new_id

pytestmark = pytest.mark.parametrize("catalog_url", ["duckdb", "sqlite"], indirect=True)
runner = CliRunner()


def _bad_record(good: RunRecord, run_id: str) -> RunRecord:
    """A record whose artifact key is not valid Unicode: the catalog engines refuse it."""
    key = "caf\udce9"
    artifact = Artifact(
        id=new_id(), key=key, uri="workspace://x.csv", driver="csv", content_hash="0" * 64, size=1
    )
    link = RunArtifactLink(run_id, artifact.id, Direction.OUTPUT, key)
    return RunRecord(attrs.evolve(good.run, id=run_id), (artifact,), (link,))


def _cli(catalog_url: str, tmp_path: Path, *args: str) -> Any:
    options = ["--catalog", catalog_url, "--run-dir", str(tmp_path / "runs")]
    return runner.invoke(app, [*args, *options])


def test_refused_write_goes_to_the_outbox_with_its_reason_and_queries_go_on(
    make_tracker: Any,
) -> None:
    tracker = make_tracker()
    with tracker.start_run("good", model="m"):
        pass
    tracker.save_record(_bad_record(tracker.get_record("good"), "bad"))
    tracker.flush()
    reasons = tracker.snapshots.pending_reasons()
    assert list(reasons) == ["bad"]
    assert "surrogate" in reasons["bad"]
    with tracker.start_run("after", model="m"):
        pass
    tracker.flush()
    assert tracker.sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 2}]
    assert set(tracker.catalog.run_ids()) == {"good", "after"}


def _plant_bad_snapshots(tmp_path: Path, good: RunRecord) -> None:
    runs = tmp_path / "runs"
    (runs / "torn").mkdir()
    (runs / "torn" / "consist.json").write_text('{"format": 1, "run": {"id": "torn"')
    document = {"format": 1, **_bad_record(good, "latin").to_dict()}
    (runs / "latin").mkdir()
    (runs / "latin" / "consist.json").write_text(json.dumps(document))


@pytest.mark.parametrize("command", [["db", "sync"], ["db", "rebuild"]])
def test_db_sync_and_rebuild_skip_bad_snapshots_list_them_and_exit_non_zero(
    make_tracker: Any, tmp_path: Path, catalog_url: str, command: list[str]
) -> None:
    tracker = make_tracker()
    for run_id in ("one", "two"):
        with tracker.start_run(run_id, model="m"):
            pass
    good = tracker.get_record("one")
    tracker.close()
    _plant_bad_snapshots(tmp_path, good)

    result = _cli(catalog_url, tmp_path, *command)
    assert result.exit_code == 1, result.output
    assert "2 run(s) could not be indexed" in result.stderr
    assert "latin: " in result.stderr and "surrogate" in result.stderr
    assert "torn: " in result.stderr and "cannot be read" in result.stderr
    fresh = make_tracker()
    assert sorted(r.id for r in fresh.find_runs()) == ["one", "two"]
    assert sorted(fresh.snapshots.pending_reasons()) == ["latin", "torn"]

    (tmp_path / "runs" / "torn" / "consist.json").unlink()
    (tmp_path / "runs" / "latin" / "consist.json").unlink()
    fresh.close()
    again = _cli(catalog_url, tmp_path, "db", "sync")
    assert again.exit_code == 0, again.output
