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

import fcntl
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from tests.reference.travel_model import containers_created, results_for, travel_model_images

pytestmark = pytest.mark.docker

HOST_FOLDERS = (Path("/data/inputs"), Path("/data/outputs"))


@pytest.fixture
def travel_model(docker_engine: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Images travel-model:v2.1 and :v2.2 on the test engine, which is DOCKER_HOST."""
    with travel_model_images(docker_engine, input_name="land_use.csv") as client:
        monkeypatch.setenv("DOCKER_HOST", docker_engine.base_url)
        yield client


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
