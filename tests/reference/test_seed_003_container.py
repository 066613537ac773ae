"""Seed 003 (usage guide), Pattern 3: container integration against a real Docker engine.

Both examples run as written: ``run_container(...)`` and ``consist.run(...,
executor="container")`` with image ``travel-model:v2.1``, ``python run.py --year
2030`` and the host folders ``data/inputs`` / ``data/outputs`` under the working
directory. The context they assume is built here: the ``travel-model`` images
(the test busybox with a ``python`` that runs its script with ``sh`` and a
``run.py`` that writes ``/outputs/results.parquet``), ``data/inputs/input.csv``
and the engine as ``DOCKER_HOST``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist import Tracker
from tests.reference.travel_model import containers_created, results_for, travel_model_images

pytestmark = pytest.mark.docker


@pytest.fixture
def engine(docker_engine: Any, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """travel-model:v2.1 and :v2.2 on the test engine (DOCKER_HOST), and the input file."""
    with travel_model_images(docker_engine, input_name="input.csv") as client:
        monkeypatch.setenv("DOCKER_HOST", docker_engine.base_url)
        Path("data/inputs").mkdir(parents=True)
        Path("data/outputs").mkdir(parents=True)
        Path("data/inputs/input.csv").write_text("zone,jobs\n1,100\n2,250\n")
        yield client


def test_run_container(engine: Any) -> None:
    """The results file is an artifact; same image + inputs is a hit; a new image misses."""
    started = time.time() - 1
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    def example(image: str, run_id: str) -> tuple[Any, Any]:
        # -- the example, as written ----------------------------------------------
        from consist.integrations.containers import run_container
        from pathlib import Path

        host_inputs = Path("data/inputs").resolve()
        host_outputs = Path("data/outputs").resolve()

        result = run_container(
            tracker=tracker,
            run_id=run_id,  # "model_2030" in the guide
            image=image,  # "travel-model:v2.1": Image digest becomes cache key
            command=["python", "run.py", "--year", "2030"],
            volumes={
                str(host_inputs): "/inputs",
                str(host_outputs): "/outputs",
            },
            inputs=[host_inputs / "input.csv"],
            outputs={"results": host_outputs / "results.parquet"},
        )

        output_artifact = result.artifacts["results"]
        # -------------------------------------------------------------------------
        return result, output_artifact

    result, output_artifact = example("travel-model:v2.1", "model_2030")
    assert not result.cache_hit and result.run.id == "model_2030"
    assert Path(output_artifact.path) == Path("data/outputs/results.parquet").resolve()
    pd.testing.assert_frame_equal(consist.load(output_artifact), results_for(2030, "v2.1"))
    assert list(tracker.get_artifacts_for_run("model_2030").inputs) == ["input"]

    # "Same image + inputs? Returns cached results."
    same, same_artifact = example("travel-model:v2.1", "model_2030_again")
    assert same.cache_hit and same_artifact.content_hash == output_artifact.content_hash
    assert containers_created(engine, since=started) == 1
    # "Change the image version? Cache invalidates."
    newer, newer_artifact = example("travel-model:v2.2", "model_2030_v22")
    assert not newer.cache_hit
    assert containers_created(engine, since=started) == 2
    assert consist.load(newer_artifact)["model"].tolist() == ["v2.2", "v2.2"]
    tracker.close()


def test_consist_run_with_executor_container(engine: Any) -> None:
    """The same container step through ``consist.run``; run again, it is a hit."""
    started = time.time() - 1
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    host_inputs = Path("data/inputs").resolve()
    host_outputs = Path("data/outputs").resolve()

    def example() -> Any:
        # -- the example, as written ----------------------------------------------
        import consist

        with consist.use_tracker(tracker):
            result = consist.run(
                name="model_2030",
                executor="container",
                inputs=[host_inputs / "input.csv"],
                output_paths={"results": host_outputs / "results.parquet"},
                container={
                    "image": "travel-model:v2.1",
                    "command": ["python", "run.py", "--year", "2030"],
                    "volumes": {str(host_inputs): "/inputs", str(host_outputs): "/outputs"},
                },
            )
        # -------------------------------------------------------------------------
        return result

    first = example()
    assert not first.cache_hit and first.run.model == "model_2030"
    results = first.outputs["results"]
    pd.testing.assert_frame_equal(consist.load(results), results_for(2030, "v2.1"))
    second = example()
    assert second.cache_hit and second.outputs["results"].id == results.id
    assert containers_created(engine, since=started) == 1
    tracker.close()
