"""tracker.map on a Dask LocalCluster (2 worker processes) with its input and its
outputs on S3 (moto on loopback): identity from the object, outputs at their URLs,
a rerun that sends nothing to the scheduler, a changed input that sends everything."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.support.dask_cluster import task_counts
from tests.support.url_steps import scale_zones

import consist

pytestmark = pytest.mark.s3


def _zones(scale: int) -> bytes:
    return (
        pd.DataFrame({"zone": [1, 2], "pop": [10 * scale, 20 * scale]}).to_csv(index=False).encode()
    )


def test_a_sweep_reads_and_writes_s3_urls_on_dask_workers(
    tmp_path: Path,
    dask_client: Any,
    s3_prefix: str,
    s3_storage_options: dict[str, Any],
    s3_client: Any,
) -> None:
    bucket, _, prefix = s3_prefix.partition("/")
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/zones.csv", Body=_zones(1))
    options: dict[str, Any] = {
        "inputs": {"zones": f"s3://{s3_prefix}/zones.csv"},
        "config": lambda f: {"factor": f},
        "outputs": lambda f: {"out": f"s3://{s3_prefix}/out/{f}.parquet"},
        "executor": dask_client,
    }
    with consist.Tracker(
        tmp_path / "runs",
        db_path=tmp_path / "p.duckdb",
        code_identity="function",
        hashing_strategy="fast",
        storage_options=s3_storage_options,
    ) as tracker:
        first = tracker.map(scale_zones, range(1, 7), **options)
        assert [r.status for r in first] == ["completed"] * 6 and first.submitted == 6
        for factor, result in zip(range(1, 7), first, strict=True):
            out = result.outputs["out"]
            assert out.uri == f"s3://{s3_prefix}/out/{factor}.parquet"
            body = s3_client.get_object(Bucket=bucket, Key=f"{prefix}/out/{factor}.parquet")
            frame = pd.read_parquet(io.BytesIO(body["Body"].read()))
            assert list(frame["pop"]) == [10 * factor, 20 * factor]
            assert os.getpid() not in set(frame["pid"])  # written on a worker
            zones = tracker.get_artifacts_for_run(result.run_id).inputs["zones"]
            assert zones.content_hash.startswith("object:ETag=")

        counted = task_counts(dask_client)
        again = tracker.map(scale_zones, range(1, 7), **options)
        assert [r.status for r in again] == ["cached"] * 6
        assert again.submitted == 0 and task_counts(dask_client) == counted

        s3_client.put_object(Bucket=bucket, Key=f"{prefix}/zones.csv", Body=_zones(2))
        changed = tracker.map(scale_zones, range(1, 7), **options)
        assert [r.status for r in changed] == ["completed"] * 6 and changed.submitted == 6
        total = consist.load(changed[5].outputs["out"], tracker=tracker)
        assert list(total["pop"]) == [120, 240]


def test_workers_leave_url_outputs_out_of_the_blob_store(
    tmp_path: Path,
    dask_client: Any,
    s3_prefix: str,
    s3_storage_options: dict[str, Any],
    s3_client: Any,
) -> None:
    """With a blob store too, an output bound for a URL is stored once, at its URL."""
    bucket, _, prefix = s3_prefix.partition("/")
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/in/zones.csv", Body=_zones(1))
    with consist.Tracker(
        tmp_path / "runs",
        db_path=tmp_path / "p.duckdb",
        code_identity="function",
        blobs=f"s3://{s3_prefix}/blobs",
        storage_options=s3_storage_options,
    ) as tracker:
        results = tracker.map(
            scale_zones,
            [1, 2],
            inputs={"zones": f"s3://{s3_prefix}/in/zones.csv"},
            config=lambda f: {"factor": f},
            outputs=lambda f: {"out": f"s3://{s3_prefix}/out/{f}.parquet"},
            executor=dask_client,
        )
        assert [r.status for r in results] == ["completed"] * 2
        assert [tracker.get_run(r.run_id).meta["executed_on"]["uploaded"] for r in results] == [
            0,
            0,
        ]
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/blobs/")
    assert listing.get("KeyCount", 0) == 0
    for factor in (1, 2):
        s3_client.head_object(Bucket=bucket, Key=f"{prefix}/out/{factor}.parquet")
