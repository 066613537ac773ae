"""A file whose name is not valid UTF-8 (Latin-1 from an old share) works end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist

LATIN1_NAME = b"caf\xe9.csv"


@pytest.fixture
def latin1_file(data_dir: Path) -> str:
    """``café.csv`` written with its Latin-1 bytes: Python sees ``caf\\udce9.csv``."""
    path = os.fsencode(data_dir) + b"/" + LATIN1_NAME
    with open(path, "wb") as handle:
        handle.write(b"value,group\n0.1,a\n0.6,b\n0.9,a\n")
    return os.fsdecode(path)


def _clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw[raw["value"] >= 0.5]


def _catalog_cli(catalog_url: str, tmp_path: Path, *args: str) -> Any:
    command = [str(Path(sys.executable).parent / "consist"), *args, "--catalog", catalog_url]
    command += ["--run-dir", str(tmp_path / "runs")]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("catalog_url", ["duckdb", "sqlite"], indirect=True)
def test_step_on_latin1_file_name_snapshot_catalog_load_rebuild(
    make_tracker: Any, latin1_file: str, tmp_path: Path, catalog_url: str
) -> None:
    """Run a step on caf\\xe9.csv, find it in snapshot and catalog, load it, rebuild the catalog."""
    tracker = make_tracker()
    result = tracker.run(_clean, name="clean", inputs={"raw": latin1_file}, outputs=["cleaned"])
    record = tracker.get_record(result.run.id)
    (raw,) = [a for a in record.artifacts if a.key == "raw"]
    assert raw.uri.endswith("/caf%E9.csv")
    assert os.fsencode(tracker.resolve_path(raw)).endswith(LATIN1_NAME)

    snapshot = json.loads((tmp_path / "runs" / result.run.id / "consist.json").read_text())
    assert any(a["uri"].endswith("caf%E9.csv") for a in snapshot["artifacts"])
    assert tracker.snapshots.pending() == []
    (found,) = tracker.find_artifacts(uri=raw.uri)
    assert consist.load(found, tracker=tracker)["value"].tolist() == [0.1, 0.6, 0.9]
    again = tracker.run(_clean, name="clean", inputs={"raw": latin1_file}, outputs=["cleaned"])
    assert again.cache_hit
    tracker.close()

    rebuilt = _catalog_cli(catalog_url, tmp_path, "db", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "2 run(s)" in rebuilt.stdout
    fresh = make_tracker()
    assert {r.id for r in fresh.find_runs()} == {result.run.id, again.run.id}
    found = fresh.find_artifacts(uri=raw.uri)[0]  # each run logged the raw input
    assert consist.load(found, tracker=fresh)["value"].tolist() == [0.1, 0.6, 0.9]
