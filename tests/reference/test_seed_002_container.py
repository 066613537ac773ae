"""Seed 002 (usage guide), Container Integration: ``run_container(...)`` against a real engine.

The example runs as written: image ``travel-model:v2.1``, ``python run.py --year
2030``, host volumes ``/data/inputs`` and ``/data/outputs``. The context it
assumes is built here: a ``travel-model`` image (the test busybox with a
``python`` that runs its script with ``sh``, and a ``run.py`` that writes
``/outputs/results.parquet``), the host folders, an ``input_artifact`` under
``/data/inputs`` and the engine as ``DOCKER_HOST``. The guide's promises are
checked: the output is an artifact of the run, identical inputs and image are
a cache hit (no container), a new image version is a miss.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from tests.support.docker_engine import busybox_rootfs

pytestmark = pytest.mark.docker

HOST_FOLDERS = (Path("/data/inputs"), Path("/data/outputs"))
PYTHON_SHIM = b'#!/bin/sh\nexec /bin/sh "$@"\n'
RUN_PY = b"""\
year="$2"
test -s /inputs/land_use.csv || exit 3
cp "/opt/model/results-$year.parquet" /outputs/results.parquet
"""


def results_for(year: int, version: str) -> pd.DataFrame:
    return pd.DataFrame({"zone": [1, 2], "trips": [120, 80], "year": year, "model": version})


def travel_model_rootfs(busybox: str, version: str) -> bytes:
    """The busybox rootfs plus an executable ``/bin/python`` shim, ``/run.py`` and the
    results the model "computes" (pre-built Parquet: the image has no Python)."""
    buffer = io.BytesIO()
    results = io.BytesIO()
    results_for(2030, version).to_parquet(results, index=False)
    buffer.write(busybox_rootfs(busybox, {"/opt/model/results-2030.parquet": results.getvalue()}))
    buffer.seek(0)
    with tarfile.open(fileobj=buffer, mode="a") as tar:
        for name, data in (("bin/python", PYTHON_SHIM), ("run.py", RUN_PY)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def travel_model(docker_engine: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Images travel-model:v2.1 and :v2.2 on the test engine, which is DOCKER_HOST."""
    client = docker_engine.client()
    tags = []
    try:
        for version in ("v2.1", "v2.2"):
            client.api.import_image_from_data(
                travel_model_rootfs(docker_engine.busybox, version),
                repository="travel-model",
                tag=version,
            )
            tags.append(f"travel-model:{version}")
        monkeypatch.setenv("DOCKER_HOST", docker_engine.base_url)
        yield client
    finally:
        for tag in tags:
            with contextlib.suppress(Exception):
                client.images.remove(tag, force=True)
        client.close()


def containers_created(client: Any, since: float) -> int:
    """Containers the engine itself reports created since ``since`` (its event log)."""
    until = time.time() + 1
    time.sleep(1.1)  # the engine's event timestamps have a one-second resolution
    events = client.events(
        since=int(since), until=int(until) + 1, decode=True,
        filters={"type": "container", "event": "create"},
    )  # fmt: skip
    return sum(1 for _ in events)


@pytest.fixture
def host_folders() -> Iterator[None]:
    """/data/inputs and /data/outputs, as the example names them; only what we made is removed."""
    lock_path = Path("/tmp/consist-reference-data.lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one test process at a time uses /data
        made = [p for p in (Path("/data"), *HOST_FOLDERS) if not p.exists()]
        try:
            for folder in HOST_FOLDERS:
                folder.mkdir(parents=True, exist_ok=True)
            yield
        finally:
            for path in (Path("/data/inputs/land_use.csv"), Path("/data/outputs/results.parquet")):
                path.unlink(missing_ok=True)
            for folder in reversed(made):
                shutil.rmtree(folder, ignore_errors=True)


def test_container_example_runs_the_image_and_reuses_identical_runs(
    workdir: Path, travel_model: Any, host_folders: None
) -> None:
    """run_container(...): result.artifacts["results"]; same image and inputs hit the cache."""
    started = time.time() - 1
    tracker = consist.Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    Path("/data/inputs/land_use.csv").write_text("zone,jobs\n1,100\n2,250\n")
    with tracker.start_run("prepare_inputs", model="prepare"):
        input_artifact = tracker.log_artifact(
            "/data/inputs/land_use.csv", key="land_use", direction="input"
        )

    from consist.integrations.containers import run_container

    result = run_container(
        tracker=tracker,
        run_id="model_2030",
        image="travel-model:v2.1",
        command=["python", "run.py", "--year", "2030"],
        volumes={"/data/inputs": "/inputs", "/data/outputs": "/outputs"},
        inputs=[input_artifact],
        outputs={"results": Path("/data/outputs/results.parquet")},
    )

    output_artifact = result.artifacts["results"]

    assert result.cache_hit is False
    assert result.run.id == "model_2030"
    assert output_artifact.key == "results"
    assert output_artifact.producer_run_id == "model_2030"
    loaded = consist.load(output_artifact, tracker=tracker)
    pd.testing.assert_frame_equal(loaded, results_for(2030, "v2.1"))
    recorded = tracker.get_artifacts_for_run("model_2030")
    assert recorded.inputs["land_use"].content_hash == input_artifact.content_hash

    same = run_container(
        tracker=tracker,
        run_id="model_2030",
        image="travel-model:v2.1",
        command=["python", "run.py", "--year", "2030"],
        volumes={"/data/inputs": "/inputs", "/data/outputs": "/outputs"},
        inputs=[input_artifact],
        outputs={"results": Path("/data/outputs/results.parquet")},
    )
    assert same.cache_hit is True, "identical inputs with the same image return cached results"
    assert same.artifacts["results"].content_hash == output_artifact.content_hash
    assert containers_created(travel_model, since=started) == 1, "the hit started no container"

    newer = run_container(
        tracker=tracker,
        run_id="model_2030_v2.2",
        image="travel-model:v2.2",
        command=["python", "run.py", "--year", "2030"],
        volumes={"/data/inputs": "/inputs", "/data/outputs": "/outputs"},
        inputs=[input_artifact],
        outputs={"results": Path("/data/outputs/results.parquet")},
    )
    assert newer.cache_hit is False, "changing the image version invalidates the cache"
    assert containers_created(travel_model, since=started) == 2
    assert consist.load(newer.artifacts["results"], tracker=tracker)["model"].tolist() == [
        "v2.2",
        "v2.2",
    ]
    tracker.close()
