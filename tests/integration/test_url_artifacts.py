"""Artifacts at object-store URLs: inputs, outputs, loads and views on S3 and memory://.

S3 is moto's server on loopback (tests.support.s3), spoken to over HTTP by
s3fs; objects are planted and inspected with boto3 behind Consist's back.
Downloads are counted from s3fs' own debug log of the S3 calls it makes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest

import consist
from consist.domain.errors import (
    AdapterNotFound,
    ConsistError,
    IntegrityError,
    InvalidURI,
    RemoteObjectMissing,
    RemoteStoreError,
)

ROOT = Path(__file__).resolve().parents[2]
# Distinctive credentials (moto accepts any), so a leak is found by grepping for them.
ACCESS_KEY = "AKIACONSISTURLPROBE77"
SECRET = "consist-url-secret-never-recorded"


def _csv(rows: int = 3, scale: int = 1) -> bytes:
    frame = pd.DataFrame({"zone": range(rows), "pop": [scale * (i + 1) for i in range(rows)]})
    return frame.to_csv(index=False).encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _options(endpoint: str) -> dict[str, Any]:
    return {"client_kwargs": {"endpoint_url": endpoint}, "key": ACCESS_KEY, "secret": SECRET}


def _tracker(root: Path, endpoint: str, **options: Any) -> Any:
    return consist.Tracker(
        run_dir=root / "runs",
        db_path=root / "provenance.duckdb",
        storage_options=_options(endpoint),
        **options,
    )


def _s3_gets(caplog: pytest.LogCaptureFixture) -> int:
    """GetObject calls s3fs made (its debug log names every S3 call)."""
    return sum("get_object" in r.getMessage() for r in caplog.records if r.name == "s3fs")


def _cached_files(root: Path) -> list[Path]:
    cache = root / "runs" / ".consist" / "remote-cache"
    return [p for p in cache.rglob("*") if p.is_file() and not p.name.startswith(".")]


def count_zones(zones: pd.DataFrame) -> dict[str, Any]:
    return {"total": pd.DataFrame({"pop": [int(zones["pop"].sum())]})}


# -- identity ----------------------------------------------------------------------


@pytest.mark.s3
def test_s3_input_identity_is_etag_and_size_and_reads_nothing(
    tmp_path: Path, s3_endpoint: str, s3_prefix: str, s3_client: Any, caplog: Any
) -> None:
    """With hashing_strategy='fast' an identity-only input costs one HEAD, no GET."""
    bucket, prefix = s3_prefix.split("/", 1)
    body = _csv()
    put = s3_client.put_object(Bucket=bucket, Key=f"{prefix}/zones.csv", Body=body)
    url = f"s3://{s3_prefix}/zones.csv"
    caplog.set_level(logging.DEBUG, logger="s3fs")

    def step(config: dict[str, Any]) -> None:  # takes no "zones": identity only
        return None

    with _tracker(tmp_path, s3_endpoint, hashing_strategy="fast") as tracker:
        result = tracker.run(step, inputs={"zones": url}, config={"a": 1})
        zones = tracker.get_artifacts_for_run(result.run.id).inputs["zones"]
    assert zones.uri == url and zones.abs_path is None
    assert zones.content_hash == f"object:ETag={put['ETag']}:{len(body)}"
    assert zones.size == len(body) and zones.driver == "csv"
    assert _s3_gets(caplog) == 0
    assert _cached_files(tmp_path) == []


_PROCESS = textwrap.dedent(
    """
    import json, sys
    import consist
    root, endpoint, url, strategy = sys.argv[1:5]
    options = {"client_kwargs": {"endpoint_url": endpoint}, "key": "k1", "secret": "s1"}
    from tests.integration.test_url_artifacts import count_zones  # the very same step

    with consist.Tracker(run_dir=root + "/runs", db_path=root + "/p.duckdb",
                         storage_options=options, hashing_strategy=strategy) as tracker:
        result = tracker.run(count_zones, inputs={"zones": url}, outputs=["total"])
        total = int(consist.load(result.outputs["total"], tracker=tracker)["pop"][0])
    print(json.dumps({"hit": result.cache_hit, "total": total}))
    """
)


def _run_process(root: Path, endpoint: str, url: str, strategy: str) -> dict[str, Any]:
    script = root / "step.py"
    script.write_text(_PROCESS)
    done = subprocess.run(
        [sys.executable, str(script), str(root), endpoint, url, strategy],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _run_here(root: Path, endpoint: str, url: str, strategy: str) -> dict[str, Any]:
    with consist.Tracker(
        run_dir=root / "runs",
        db_path=root / "p.duckdb",
        storage_options={"client_kwargs": {"endpoint_url": endpoint}, "key": "k1", "secret": "s1"},
        hashing_strategy=strategy,
    ) as tracker:
        result = tracker.run(count_zones, inputs={"zones": url}, outputs=["total"])
        total = int(consist.load(result.outputs["total"], tracker=tracker)["pop"][0])
    return {"hit": result.cache_hit, "total": total}


@pytest.mark.s3
@pytest.mark.parametrize("strategy", ["fast", "full"])
def test_an_unchanged_object_hits_in_a_fresh_process_and_a_changed_one_misses(
    tmp_path: Path,
    s3_endpoint: str,
    s3_prefix: str,
    s3_client: Any,
    strategy: str,
) -> None:
    """The cache decision follows the object at the URL, across processes too."""
    bucket, prefix = s3_prefix.split("/", 1)
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/zones.csv", Body=_csv(scale=1))
    url = f"s3://{s3_prefix}/zones.csv"
    assert _run_here(tmp_path, s3_endpoint, url, strategy) == {"hit": False, "total": 6}
    assert _run_process(tmp_path, s3_endpoint, url, strategy) == {"hit": True, "total": 6}
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/zones.csv", Body=_csv(scale=10))
    assert _run_here(tmp_path, s3_endpoint, url, strategy) == {"hit": False, "total": 60}


@pytest.mark.s3
def test_full_hashing_streams_the_object_once_and_the_step_reads_that_copy(
    tmp_path: Path, s3_endpoint: str, s3_prefix: str, s3_client: Any, caplog: Any
) -> None:
    """hashing_strategy='full': one GET hashes the object and feeds the step and load."""
    bucket, prefix = s3_prefix.split("/", 1)
    body = _csv(rows=50)
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/zones.csv", Body=body)
    url = f"s3://{s3_prefix}/zones.csv"
    caplog.set_level(logging.DEBUG, logger="s3fs")
    with _tracker(tmp_path, s3_endpoint, hashing_strategy="full") as tracker:
        result = tracker.run(count_zones, inputs={"zones": url}, outputs=["total"])
        zones = tracker.get_artifacts_for_run(result.run.id).inputs["zones"]
        again = consist.load(zones, tracker=tracker)
    assert zones.content_hash == hashlib.sha256(body).hexdigest()
    assert int(again["pop"].sum()) == 50 * 51 // 2
    assert _s3_gets(caplog) == 1
    # A second tracker on the same run dir (a later session) downloads nothing more.
    caplog.clear()
    with _tracker(tmp_path, s3_endpoint, hashing_strategy="full") as tracker:
        assert tracker.run(count_zones, inputs={"zones": url}, outputs=["total"]).cache_hit
    assert _s3_gets(caplog) == 0


def test_memory_urls_are_inputs_and_outputs_with_merkle_links(tmp_path: Path) -> None:
    """memory:// works as s3:// does: identity, load, upload, and the output's reader
    links to the run that wrote it."""
    fs = fsspec.filesystem("memory")
    base = f"memory://consist-{uuid.uuid4().hex}"
    fs.pipe(f"{base}/zones.csv", _csv())
    calls: list[int] = []

    def scale(zones: pd.DataFrame, output_paths: dict[str, Path]) -> None:
        calls.append(1)
        zones.assign(pop=zones["pop"] * 2).to_parquet(output_paths["scaled"])

    with consist.Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb") as tracker:
        first = tracker.run(
            scale,
            inputs={"zones": f"{base}/zones.csv"},
            outputs={"scaled": f"{base}/out/scaled.parquet"},
        )
        scaled = first.outputs["scaled"]
        assert scaled.uri == f"{base}/out/scaled.parquet" and scaled.abs_path is None
        assert fs.exists(f"{base}/out/scaled.parquet")
        assert list(consist.load(scaled, tracker=tracker)["pop"]) == [2, 4, 6]
        again = tracker.run(
            scale,
            inputs={"zones": f"{base}/zones.csv"},
            outputs={"scaled": f"{base}/out/scaled.parquet"},
        )
        assert again.cache_hit and len(calls) == 1
        downstream = tracker.run(
            count_zones, inputs={"zones": f"{base}/out/scaled.parquet"}, outputs=["total"]
        )
        read = tracker.get_artifacts_for_run(downstream.run.id).inputs["zones"]
        assert read.producer_run_id == first.run.id  # Merkle link, not a raw object
        assert int(consist.load(downstream.outputs["total"], tracker=tracker)["pop"][0]) == 12
        fs.pipe(f"{base}/zones.csv", _csv(scale=5))
        assert not tracker.run(
            scale,
            inputs={"zones": f"{base}/zones.csv"},
            outputs={"scaled": f"{base}/out/scaled.parquet"},
        ).cache_hit


# -- loading and writing --------------------------------------------------------------


@pytest.mark.s3
def test_load_and_load_df_read_a_logged_url(
    tmp_path: Path, s3_endpoint: str, s3_prefix: str, s3_client: Any
) -> None:
    """log_input of a URL records it in place; load and load_df read it."""
    bucket, prefix = s3_prefix.split("/", 1)
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/t.parquet", Body=_parquet(frame))
    url = f"s3://{s3_prefix}/t.parquet"
    with _tracker(tmp_path, s3_endpoint) as tracker:
        with tracker.start_run("reader", model="m"):
            artifact = tracker.log_input(url)
        assert artifact.key == "t" and artifact.uri == url and artifact.driver == "parquet"
        pd.testing.assert_frame_equal(consist.load(artifact, tracker=tracker), frame)
        pd.testing.assert_frame_equal(
            consist.load_df(artifact, tracker=tracker, db_fallback="never"), frame
        )
        # The object changes behind the record: reading it is refused, not silently new.
        s3_client.put_object(Bucket=bucket, Key=f"{prefix}/t.parquet", Body=_parquet(frame.head(1)))
        with pytest.raises(IntegrityError, match="changed since it was recorded"):
            consist.load(artifact, tracker=tracker)


@pytest.mark.s3
def test_a_step_output_bound_for_s3_is_uploaded_and_reads_back_elsewhere(
    tmp_path: Path, s3_endpoint: str, s3_prefix: str, s3_client: Any
) -> None:
    """outputs={key: "s3://..."}: the step writes output_paths[key], Consist uploads it;
    a tracker with another run dir then reads it from S3."""
    bucket, prefix = s3_prefix.split("/", 1)
    url = f"s3://{s3_prefix}/results/trips.parquet"

    def simulate(output_paths: dict[str, Path]) -> None:
        assert not str(output_paths["trips"]).startswith("s3:")
        pd.DataFrame({"trip": [1, 2], "km": [3.5, 7.0]}).to_parquet(output_paths["trips"])

    with _tracker(tmp_path / "a", s3_endpoint) as tracker:
        result = tracker.run(simulate, outputs={"trips": url})
        trips = result.outputs["trips"]
        staged = tracker.snapshots.workspace(result.run.id) / "remote-outputs"
    assert trips.uri == url and trips.producer_run_id == result.run.id
    head = s3_client.head_object(Bucket=bucket, Key=f"{prefix}/results/trips.parquet")
    assert trips.size == head["ContentLength"]
    assert not any(p.is_file() for p in staged.rglob("*"))  # uploaded, not left behind
    with _tracker(tmp_path / "b", s3_endpoint) as other:
        frame = consist.load(trips, tracker=other)
    assert list(frame["km"]) == [3.5, 7.0]


@pytest.mark.s3
def test_a_view_reads_parquet_outputs_on_s3_in_place(
    tmp_path: Path, s3_endpoint: str, s3_prefix: str, s3_client: Any
) -> None:
    """Cold rows of a view come from the objects on S3 through DuckDB's fsspec bridge."""

    def simulate(year: int, output_paths: dict[str, Path]) -> None:
        pd.DataFrame({"trip": [1, 2], "km": [float(year), 1.0]}).to_parquet(output_paths["trips"])

    with _tracker(tmp_path, s3_endpoint) as tracker:
        for year in (2030, 2040):
            tracker.run(
                simulate,
                name="simulate",
                year=year,
                config={"year": year},
                runtime_kwargs={"year": year},
                outputs={"trips": f"s3://{s3_prefix}/{year}/trips.parquet"},
            )
        cache = tmp_path / "runs" / ".consist" / "remote-cache"
        for path in sorted(cache.rglob("*"), reverse=True):  # no local copy at all
            path.unlink() if path.is_file() else path.rmdir()
        tracker.create_view("v_trips", "trips")
        rows = consist.run_query(
            "SELECT consist_year, sum(km) AS km FROM v_trips GROUP BY 1 ORDER BY 1",
            tracker=tracker,
        )
        assert [tuple(r) for r in rows.itertuples(index=False)] == [
            (2030, 2031.0),
            (2040, 2041.0),
        ]
        bucket, prefix = s3_prefix.split("/", 1)
        s3_client.delete_object(Bucket=bucket, Key=f"{prefix}/2040/trips.parquet")
        tracker.create_view("v_trips_left", "trips")  # the gone object is left out
        left = consist.run_query("SELECT DISTINCT consist_year FROM v_trips_left", tracker=tracker)
    assert list(left["consist_year"]) == [2030]
    assert _cached_files(tmp_path) == []


# -- secrets and errors ------------------------------------------------------------------


@pytest.mark.s3
def test_credentials_are_never_recorded(
    tmp_path: Path, s3_endpoint: str, s3_prefix: str, s3_client: Any
) -> None:
    """After inputs, outputs, loads and a view over S3, no file Consist wrote holds the
    access key or the secret (snapshots, catalog, journal, cache, sidecars)."""
    bucket, prefix = s3_prefix.split("/", 1)
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/zones.csv", Body=_csv())

    def scale(zones: pd.DataFrame, output_paths: dict[str, Path]) -> None:
        zones.to_parquet(output_paths["scaled"])

    with _tracker(tmp_path, s3_endpoint, sidecars=True, hashing_strategy="full") as tracker:
        result = tracker.run(
            scale,
            inputs={"zones": f"s3://{s3_prefix}/zones.csv"},
            outputs={"scaled": f"s3://{s3_prefix}/scaled.parquet"},
            config={"note": "x"},
        )
        consist.load(result.outputs["scaled"], tracker=tracker)
        tracker.create_view("v_scaled", "scaled")
        consist.run_query("SELECT count(*) FROM v_scaled", tracker=tracker)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "consist.json" for p in written)
    assert any(p.name == "provenance.duckdb" for p in written)
    for path in written:
        data = path.read_bytes()
        assert ACCESS_KEY.encode() not in data, path
        assert SECRET.encode() not in data, path


@pytest.mark.s3
def test_a_missing_object_or_bucket_is_our_error_naming_the_url(
    tmp_path: Path, s3_endpoint: str, s3_prefix: str
) -> None:
    missing = f"s3://{s3_prefix}/nothing-here.csv"
    no_bucket = f"s3://consist-no-such-bucket-{uuid.uuid4().hex[:8]}/x.csv"
    with _tracker(tmp_path, s3_endpoint) as tracker:
        for url in (missing, no_bucket):
            with pytest.raises(RemoteObjectMissing, match="no object at") as caught:
                tracker.run(count_zones, inputs={"zones": url}, outputs=["total"])
            assert url in str(caught.value) and caught.value.url == url
            assert isinstance(caught.value, FileNotFoundError)
        with (
            pytest.raises(RemoteObjectMissing, match="nothing-here"),
            tracker.start_run("r", model="m"),
        ):
            tracker.log_output(missing, key="x")


def test_bad_urls_are_refused_naming_the_url(tmp_path: Path) -> None:
    with consist.Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb") as tracker:
        for url, why in (
            ("s3://", "names no object"),
            ("memory://bucket/folder/", "ends with"),
            ("s3://user:pw@bucket/x.csv", "credentials"),
        ):
            with pytest.raises(InvalidURI, match=why) as caught:
                tracker.run(count_zones, inputs={"zones": url}, outputs=["total"])
            assert "pw@" not in str(caught.value)


@pytest.mark.s3
def test_refused_credentials_are_our_error_and_not_quoted(
    tmp_path: Path, s3_endpoint: str, s3_prefix: str, s3_client: Any
) -> None:
    """A store that refuses access raises RemoteStoreError (an OSError), secret scrubbed."""
    bucket, prefix = s3_prefix.split("/", 1)
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/zones.csv", Body=_csv())
    options = {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}, "secret": SECRET}
    options["key"] = ACCESS_KEY
    options["config_kwargs"] = {"connect_timeout": 1, "retries": {"max_attempts": 1}}
    with (
        consist.Tracker(
            run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb", storage_options=options
        ) as tracker,
        pytest.raises(RemoteStoreError) as caught,
    ):
        tracker.run(count_zones, inputs={"zones": f"s3://{s3_prefix}/zones.csv"}, outputs=["total"])
    assert isinstance(caught.value, (ConsistError, OSError))
    assert f"s3://{s3_prefix}/zones.csv" in str(caught.value)
    assert SECRET not in str(caught.value) and ACCESS_KEY not in str(caught.value)


def test_strict_validation_and_hydration_follow_the_object_at_the_url(tmp_path: Path) -> None:
    """A hit whose URL output is gone re-runs under validate_cached_outputs='strict';
    outputs-requested hydration copies a URL output to a local path."""
    fs = fsspec.filesystem("memory")
    base = f"memory://consist-{uuid.uuid4().hex}"
    calls: list[int] = []

    def make(output_paths: dict[str, Path]) -> None:
        calls.append(1)
        pd.DataFrame({"v": [len(calls)]}).to_parquet(output_paths["table"])

    def run(tracker: Any, **options: Any) -> Any:
        return tracker.run(make, outputs={"table": f"{base}/t.parquet"}, **options)

    with consist.Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb") as tracker:
        run(tracker)
        copy = tmp_path / "here" / "t.parquet"
        hit = run(
            tracker,
            validate_cached_outputs="strict",
            cache_hydration="outputs-requested",
            hydration_paths={"table": copy},
        )
        assert hit.cache_hit and list(pd.read_parquet(copy)["v"]) == [1]
        fs.rm(f"{base}/t.parquet")
        assert run(tracker).cache_hit  # lazy: the record is trusted
        again = run(tracker, validate_cached_outputs="strict")
        assert not again.cache_hit and len(calls) == 2
        assert list(consist.load(f"{base}/t.parquet", tracker=tracker)["v"]) == [2]


def test_a_returned_table_for_a_url_output_is_uploaded_there(tmp_path: Path) -> None:
    """A step may return the table instead of writing output_paths[key]: it still goes
    to the URL, never only to the run folder."""
    fs = fsspec.filesystem("memory")
    url = f"memory://consist-{uuid.uuid4().hex}/returned.parquet"

    def make() -> pd.DataFrame:
        return pd.DataFrame({"v": [7, 8]})

    with consist.Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb") as tracker:
        result = tracker.run(make, outputs={"table": url})
        assert result.outputs["table"].uri == url and fs.exists(url)
        assert list(consist.load(result.outputs["table"], tracker=tracker)["v"]) == [7, 8]
        assert tracker.run(make, outputs={"table": url}).cache_hit


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed here")
def test_a_scheme_whose_package_is_missing_says_what_to_install(tmp_path: Path) -> None:
    with (
        consist.Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb") as tracker,
        pytest.raises(AdapterNotFound, match=r"consist-fsspec\[gcs\]"),
    ):
        tracker.run(count_zones, inputs={"zones": "gs://bucket/zones.csv"}, outputs=["t"])


def test_a_folder_at_a_url_is_an_input_and_an_output(tmp_path: Path) -> None:
    """A Zarr store returned by a step goes to its URL as a folder; read back, its
    identity is the folder's; a later step taking the URL links to its producer; a
    changed chunk is a miss."""
    xr = pytest.importorskip("xarray")
    fs = fsspec.filesystem("memory")
    url = f"memory://consist-{uuid.uuid4().hex}/grid.zarr"
    calls: list[int] = []

    def make() -> Any:
        return xr.Dataset({"flow": ("zone", [1.0, 2.0, 3.0])})

    def total(grid: Any) -> dict[str, Any]:
        calls.append(1)
        return {"sum": pd.DataFrame({"flow": [float(grid["flow"].sum())]})}

    with consist.Tracker(
        run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb", hashing_strategy="full"
    ) as tracker:
        made = tracker.run(make, outputs={"grid": url})
        grid = made.outputs["grid"]
        assert grid.uri == url and grid.driver == "zarr" and fs.isdir(url)
        assert grid.content_hash is not None and grid.content_hash.startswith("dir:")
        assert float(consist.load(grid, tracker=tracker)["flow"].sum()) == 6.0
        first = tracker.run(total, inputs={"grid": url}, outputs=["sum"])
        read = tracker.get_artifacts_for_run(first.run.id).inputs["grid"]
        assert read.producer_run_id == made.run.id
        assert tracker.run(total, inputs={"grid": url}, outputs=["sum"]).cache_hit
        chunk = next(name for name in fs.find(url) if name.rsplit("/", 1)[-1][0].isdigit())
        fs.pipe(chunk, fs.cat(chunk) + b"")  # rewritten: a new version, same bytes
        assert tracker.run(total, inputs={"grid": url}, outputs=["sum"]).cache_hit
        assert len(calls) == 1
    with consist.Tracker(
        run_dir=tmp_path / "other", db_path=tmp_path / "o.duckdb", hashing_strategy="fast"
    ) as other:
        fresh = consist.load(grid, tracker=other)  # another machine: fetched from the URL
        assert float(fresh["flow"].sum()) == 6.0
        (xr.Dataset({"flow": ("zone", [5.0, 5.0, 5.0])})).to_zarr(fs.get_mapper(url), mode="w")
        assert not other.run(total, inputs={"grid": url}, outputs=["sum"]).cache_hit
