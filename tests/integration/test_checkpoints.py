"""Checkpoint store and provenance sidecars for simple pipelines."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import consist
from consist.domain.errors import InvalidInput, MissingFile
from consist.services.identity.provenance import sidecar_path

FRAMES = {
    "polars": pl.DataFrame({"gene": ["A", "B"], "score": [0.9, 0.8]}),
    "pandas": pd.DataFrame({"gene": ["A", "B"], "score": [0.9, 0.8]}),
    "arrow": pa.table({"gene": ["A", "B"], "score": [0.9, 0.8]}),
}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with consist.CheckpointStore(tmp_path / "ck.duckdb", config={"k": 1}) as opened:
        yield opened


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_save_and_load_round_trip(store: Any, kind: str) -> None:
    store.save(FRAMES[kind], "scores")
    loaded = store.load("scores", as_=kind)
    assert type(loaded).__module__.split(".")[0] == {"arrow": "pyarrow"}.get(kind, kind)
    assert pl.from_arrow(store.load("scores", as_="arrow")).to_dicts() == [
        {"gene": "A", "score": 0.9},
        {"gene": "B", "score": 0.8},
    ]


def test_lifecycle_has_list_delete(store: Any) -> None:
    assert store.load("missing") is None and not store.has("missing")
    store.save(FRAMES["polars"], "one", description="first")
    store.save(FRAMES["pandas"], "two")
    listed = store.list()
    assert [(e["name"], e["row_count"], e["description"]) for e in listed] == [
        ("one", 2, "first"),
        ("two", 2, ""),
    ]
    assert all(e["config_hash"] and e["code_version"] for e in listed)
    store.delete("one")
    store.delete("one")
    assert store.names() == ["two"] and store.load("one") is None


def test_replace_false_refuses_and_true_replaces(store: Any) -> None:
    store.save(FRAMES["polars"], "t")
    with pytest.raises(InvalidInput, match="replace"):
        store.save(FRAMES["polars"], "t", replace=False)
    store.save(pl.DataFrame({"other": [1, 2, 3]}), "t")
    assert store.load("t").columns == ["other"]


def test_export_parquet_is_readable_by_pyarrow(store: Any, tmp_path: Path) -> None:
    store.save(FRAMES["arrow"], "t")
    path = store.export_parquet("t", tmp_path / "deep" / "dir" / "t.parquet")
    assert pq.read_table(path).num_rows == 2
    with pytest.raises(InvalidInput, match="nope"):
        store.export_parquet("nope", tmp_path / "x.parquet")


def test_query_with_parameters(store: Any) -> None:
    store.save(FRAMES["polars"], "t")
    table = store.query('SELECT gene FROM "checkpoint_t" WHERE score > ?', [0.85])
    assert table["gene"].to_list() == ["A"]


def test_sidecar_round_trip_and_keys(tmp_path: Path) -> None:
    recorder = consist.ProvenanceRecorder(
        pipeline_version="1.0", config={"a": 1}, data_source_versions={"api": "v4"}
    )
    recorder.record_step("fetch", {"rows": 3})
    recorder.record_step("filter")
    output = tmp_path / "out.parquet"
    output.write_bytes(b"x")
    path = recorder.save_sidecar(output)
    assert path == tmp_path / "out.parquet.provenance.json"
    loaded = consist.ProvenanceRecorder.load_sidecar(output)
    assert set(loaded) == {
        "pipeline_version",
        "package_versions",
        "data_source_versions",
        "config_hash",
        "created_at",
        "steps",
    }
    assert [s["step"] for s in loaded["steps"]] == ["fetch", "filter"]
    assert loaded["data_source_versions"] == {"api": "v4"}
    with pytest.raises(MissingFile):
        consist.ProvenanceRecorder.load_sidecar(tmp_path / "none.parquet")


def test_provenance_saves_to_a_store(store: Any) -> None:
    recorder = consist.ProvenanceRecorder(pipeline_version="2.0")
    recorder.record_step("s")
    recorder.save_to(store)
    row = store.load("provenance").to_dicts()[0]
    assert row["pipeline_version"] == "2.0"
    assert json.loads(row["steps"])[0]["step"] == "s"


def test_tracker_sidecars_match_the_run(tmp_path: Path) -> None:
    tracker = consist.Tracker(
        tmp_path / "runs", catalog="memory://", sidecars=True, code_identity="v1"
    )
    with tracker.start_run("r1", model="m") as run:
        art = consist.log_dataframe(pd.DataFrame({"x": [1]}), key="table")
    meta = json.loads(sidecar_path(tracker.resolve_path(art)).read_text())
    stored = tracker.get_run(run.id)
    assert meta["run_id"] == "r1"
    assert meta["signature"] == stored.signature_digest
    assert meta["content_hash"] == art.content_hash
    tracker.close()


def test_killed_pipeline_restarts_and_skips_the_saved_step(tmp_path: Path) -> None:
    """Killed between two steps: the rerun loads step one's checkpoint instead of redoing it."""
    calls = tmp_path / "calls.txt"
    script = textwrap.dedent(f"""
        import os, signal, sys, polars as pl, consist
        calls = open({str(calls)!r}, "a")
        with consist.CheckpointStore({str(tmp_path / "p.duckdb")!r}) as store:
            if not store.has("fetched"):
                calls.write("fetch\\n"); calls.flush()
                store.save(pl.DataFrame({{"x": [1, 2, 3]}}), "fetched")
            if sys.argv[1] == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            calls.write("transform\\n"); calls.flush()
            store.save(store.load("fetched").with_columns(y=pl.col("x") * 2), "transformed")
    """)
    first = subprocess.run([sys.executable, "-c", script, "die"], capture_output=True, text=True)
    assert first.returncode == -signal.SIGKILL, first.stderr
    second = subprocess.run([sys.executable, "-c", script, "live"], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert calls.read_text().split() == ["fetch", "transform"]


def test_docs_example_runs_twice_and_skips_the_fetch(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "checkpoint_pipeline.py"
    outputs = [
        subprocess.run(
            [sys.executable, str(example), str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(2)
    ]
    assert "fetching scores" in outputs[0] and "fetching scores" not in outputs[1]
    assert (tmp_path / "out" / "scores.parquet.provenance.json").exists()
