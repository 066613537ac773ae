"""Logging artifacts: portable URIs, hashes, Merkle links to earlier runs, DataFrames."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import consist
from consist.domain.errors import HashConflict, MissingFile, MissingInputFile, MissingOutputFile


def test_artifact_has_mount_uri_hash_size_and_driver(make_tracker: Any, data_dir: Path) -> None:
    tracker = make_tracker(mounts={"inputs": data_dir})
    with tracker.start_run("r", model="m"):
        art = consist.log_artifact(data_dir / "raw.csv", key="raw", direction="input")
    raw = (data_dir / "raw.csv").read_bytes()
    assert art.uri == "inputs://raw.csv"
    assert art.content_hash == hashlib.sha256(raw).hexdigest()
    assert (art.size, art.driver, art.key) == (len(raw), "csv", "raw")


def test_outputs_in_the_run_directory_are_workspace_uris(tracker: Any) -> None:
    with tracker.start_run("r", model="m") as run:
        path = run.workspace / "sub" / "out.csv"
        path.parent.mkdir()
        path.write_text("a\n1\n")
        art = consist.log_artifact(path)
    assert art.uri == "workspace://sub/out.csv"
    assert art.key == "out"
    assert art.producer_run_id == "r"
    assert tracker.resolve_path(art) == path


def test_input_produced_by_an_earlier_run_links_the_same_artifact(tracker: Any) -> None:
    """Merkle lineage: the downstream run's input is the upstream run's artifact."""
    with tracker.start_run("up", model="prep"):
        out = consist.log_dataframe(pd.DataFrame({"x": [1, 2]}), key="table")
    with tracker.start_run("down", model="use"):
        by_artifact = consist.log_artifact(out, direction="input")
        by_path = consist.log_artifact(tracker.resolve_path(out), key="again", direction="input")
    assert by_artifact.id == out.id == by_path.id
    assert tracker.get_producer(by_path).id == "up"
    inputs = tracker.get_artifacts_for_run("down").inputs
    assert set(inputs) == {"table", "again"}


def test_missing_file_names_the_path(tracker: Any, tmp_path: Path) -> None:
    """A missing input is refused at once; a missing output fails its run when it ends
    (until then the file may still be written, or its rows ingested)."""
    with pytest.raises(MissingOutputFile, match=r"gone\.parquet"), tracker.start_run("r"):
        with pytest.raises(MissingInputFile, match=r"nope\.csv"):
            consist.log_artifact(tmp_path / "nope.csv", direction="input")
        consist.log_artifact(tmp_path / "gone.parquet")
    assert tracker.get_run("r").status == "failed"


def test_given_content_hash_is_reused_without_hashing(tracker: Any, data_dir: Path) -> None:
    with tracker.start_run("r", model="m"):
        art = consist.log_artifact(data_dir / "raw.csv", direction="input", content_hash="a" * 64)
    assert art.content_hash == "a" * 64


def test_conflicting_content_hash_is_refused_unless_forced(tracker: Any, data_dir: Path) -> None:
    path = data_dir / "raw.csv"
    with tracker.start_run("r", model="m"):
        consist.log_artifact(path, key="first", direction="input")  # now known
        with pytest.raises(HashConflict, match="force_hash_override"):
            consist.log_artifact(path, key="second", direction="input", content_hash="b" * 64)
        forced = consist.log_artifact(
            path, key="third", direction="input", content_hash="b" * 64, force_hash_override=True
        )
        assert forced.content_hash == "b" * 64
        with pytest.raises(HashConflict, match="does not match"):
            consist.log_artifact(
                path,
                key="fourth",
                direction="input",
                content_hash="c" * 64,
                validate_content_hash=True,
            )


def test_profile_file_schema_records_columns(tracker: Any, data_dir: Path) -> None:
    with tracker.start_run("r", model="m"):
        csv = consist.log_artifact(
            data_dir / "raw.csv",
            direction="input",
            profile_file_schema=True,
            file_schema_sample_rows=10,
        )
        pq = consist.log_dataframe(
            pd.DataFrame({"a": [1], "b": ["x"]}), key="t", profile_file_schema=True
        )
    assert [c["name"] for c in csv.meta["file_schema"]] == ["value", "group"]
    assert [c["name"] for c in pq.meta["file_schema"]] == ["a", "b"]
    assert pq.meta["file_schema"][0]["type"] == "int64"
    assert "string" in pq.meta["file_schema"][1]["type"]
    stored = tracker.get_artifact(pq.id)
    assert stored.meta["file_schema"] == pq.meta["file_schema"]


def test_log_artifacts_applies_common_and_per_key_metadata(tracker: Any, tmp_path: Path) -> None:
    files = {}
    for name in ("persons", "households"):
        files[name] = tmp_path / f"{name}.csv"
        files[name].write_text("id\n1\n")
    with tracker.start_run("r", model="m"):
        logged = consist.log_artifacts(
            files, metadata_by_key={"households": {"role": "unit"}}, year=2030
        )
    assert logged["persons"].meta == {"year": 2030}
    assert logged["households"].meta == {"year": 2030, "role": "unit"}


@pytest.mark.parametrize(
    "frame",
    [pd.DataFrame({"x": [1, 2]}), pl.DataFrame({"x": [1, 2]}), pa.table({"x": [1, 2]})],
    ids=["pandas", "polars", "arrow"],
)
def test_log_dataframe_accepts_pandas_polars_and_arrow(tracker: Any, frame: Any) -> None:
    with tracker.start_run("r", model="m"):
        art = consist.log_dataframe(frame, key="weird key/1")
    assert art.driver == "parquet"
    back = consist.load(art, tracker=tracker)
    assert type(back) is type(frame)  # each library gets its own kind of table back
    assert consist.load(art, tracker=tracker, as_="pandas")["x"].tolist() == [1, 2]


def test_load_of_deleted_file_explains_recovery(tracker: Any) -> None:
    with tracker.start_run("r", model="m"):
        art = consist.log_dataframe(pd.DataFrame({"x": [1]}), key="t")
    tracker.resolve_path(art).unlink()
    with pytest.raises(MissingFile, match="validate_cached_outputs='strict'"):
        consist.load(art, tracker=tracker)


def test_directory_artifacts_hash_by_manifest(tracker: Any, tmp_path: Path) -> None:
    folder = tmp_path / "store.zarr"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "0").write_bytes(b"chunk")
    with tracker.start_run("r1", model="m"):
        first = consist.log_artifact(folder, direction="input")
    (folder / "a" / "0").write_bytes(b"other")
    with tracker.start_run("r2", model="m"):
        second = consist.log_artifact(folder, direction="input")
    assert first.driver == "zarr"
    assert first.content_hash != second.content_hash
    assert first.content_hash.startswith("dir:")
