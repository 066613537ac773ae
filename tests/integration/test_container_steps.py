"""Container steps on the Tracker against a real Docker engine (tests/support/docker_engine.py).

Whether a container was started is asked of the engine itself: its event stream
is read up to a sentinel container created after the step, so "no container"
means the engine saw none, not that our code says it started none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import consist
from consist.domain import RunStatus
from consist.domain.errors import (
    ContainerFailed,
    ImageNotFound,
    IntegrityError,
    InvalidInput,
    MissingInputFile,
    MissingOutputFile,
)
from consist.integrations.containers import LOG_NAME, run_container

pytestmark = pytest.mark.docker

COUNT = ["sh", "-c", "wc -l < /inputs/x.txt > /outputs/n.txt"]
STEP = "count-lines"


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Any]:
    """SQLite catalog: it stores text as written, so grepping it for a secret means something."""
    with consist.Tracker(tmp_path / "runs", catalog=f"sqlite:///{tmp_path}/catalog.db") as made:
        yield made


@pytest.fixture
def engine(docker_engine: Any) -> Any:
    return docker_engine


def _dirs(root: Path, text: str = "alpha\nbeta\ngamma\n") -> tuple[Path, Path]:
    inputs, outputs = root / "in", root / "out"
    inputs.mkdir(parents=True)
    outputs.mkdir(parents=True)
    (inputs / "x.txt").write_text(text)
    return inputs, outputs


def _count(tracker: Any, engine: Any, root: Path, **options: Any) -> Any:
    inputs, outputs = root / "in", root / "out"
    spec: dict[str, Any] = {
        "tracker": tracker,
        "image": engine.image,
        "command": COUNT,
        "volumes": {str(inputs): "/inputs", str(outputs): "/outputs"},
        "inputs": [inputs / "x.txt"],
        "outputs": {"count": outputs / "n.txt"},
        "name": STEP,
        "executor_options": {"base_url": engine.base_url},
    }
    spec.update(options)
    return run_container(**spec)


@contextlib.contextmanager
def containers_created(engine: Any) -> Iterator[list[str]]:
    """Ids of containers the engine created inside the block (filled in when it ends)."""
    import docker

    client = docker.DockerClient(base_url=engine.base_url, timeout=30)
    stream = client.events(decode=True, filters={"type": "container", "event": "create"})
    created: list[str] = []
    try:
        yield created
        sentinel = client.containers.create(engine.image, ["true"])
        try:
            for event in stream:
                if event.get("id") == sentinel.id:
                    break
                created.append(event["id"])
        finally:
            sentinel.remove(force=True)
    finally:
        stream.close()
        client.close()


# -- execute, hit, re-execute -------------------------------------------------------


def test_first_run_executes_and_the_second_is_a_hit_without_a_container(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    """The hit starts no container; its output is the first run's, at the requested path."""
    _dirs(tmp_path)
    with containers_created(engine) as first_created:
        first = _count(tracker, engine, tmp_path, run_id="count-1")
    assert len(first_created) == 1
    assert not first.cache_hit
    assert (tmp_path / "out" / "n.txt").read_text().strip() == "3"
    artifact = first.artifacts["count"]
    assert artifact.content_hash == hashlib.sha256(b"3\n").hexdigest()
    record = tracker.get_run("count-1").meta["container"]
    assert record["image_digest"] == engine.client().images.get(engine.image).id
    assert record["image"] == engine.image
    assert Path(record["log_path"]).name == LOG_NAME
    assert Path(record["log_path"]).is_file()
    assert record["exit_code"] == 0

    with containers_created(engine) as second_created:
        second = _count(tracker, engine, tmp_path)
    assert second_created == []
    assert second.cache_hit
    assert second.cached_from == "count-1"
    assert second.artifacts["count"].id == artifact.id
    assert second.run.signature_digest == first.run.signature_digest
    assert "log_path" not in tracker.get_run(second.run_id).meta["container"]


def test_a_changed_input_runs_the_container_again(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    _dirs(tmp_path)
    first = _count(tracker, engine, tmp_path)
    (tmp_path / "in" / "x.txt").write_text("one\ntwo\nthree\nfour\n")
    with containers_created(engine) as created:
        second = _count(tracker, engine, tmp_path)
    assert len(created) == 1
    assert not second.cache_hit
    assert second.run.signature_digest != first.run.signature_digest
    assert (tmp_path / "out" / "n.txt").read_text().strip() == "4"


def test_new_content_under_the_same_tag_runs_again(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    """The image digest, not its tag, is in the signature."""
    _dirs(tmp_path)
    image = "consist-test/busybox:steps"
    old_id = engine.import_busybox(tag="steps", extra_files={"/etc/release": b"one\n"})
    first = _count(tracker, engine, tmp_path, image=image)
    assert _count(tracker, engine, tmp_path, image=image).cache_hit

    new_id = engine.import_busybox(tag="steps", extra_files={"/etc/release": b"two\n"})
    assert new_id != old_id
    with containers_created(engine) as created:
        second = _count(tracker, engine, tmp_path, image=image)
    assert len(created) == 1
    assert not second.cache_hit
    assert tracker.get_run(first.run_id).meta["container"]["image_digest"] == old_id
    assert tracker.get_run(second.run_id).meta["container"]["image_digest"] == new_id


def test_the_same_step_from_other_host_directories_is_a_hit(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    """Host paths are not identity: another checkout (or machine) reuses the result."""
    _dirs(tmp_path / "machine-a")
    _dirs(tmp_path / "machine-b")
    first = _count(tracker, engine, tmp_path / "machine-a")
    with containers_created(engine) as created:
        second = _count(tracker, engine, tmp_path / "machine-b")
    assert created == []
    assert second.cache_hit
    assert second.cached_from == first.run_id
    assert (tmp_path / "machine-b" / "out" / "n.txt").read_text().strip() == "3"
    assert second.hydrated["count"] == tmp_path / "machine-b" / "out" / "n.txt"


def test_a_hit_whose_files_are_gone_is_hydrated_from_the_blob_store(
    engine: Any, tmp_path: Path
) -> None:
    """The first machine's directories are deleted; the blob store still has the bytes."""
    import shutil

    with consist.Tracker(tmp_path / "runs", catalog="memory://", blobs="memory://") as tracker:
        _dirs(tmp_path / "machine-a")
        _dirs(tmp_path / "machine-b")
        first = _count(tracker, engine, tmp_path / "machine-a")
        shutil.rmtree(tmp_path / "machine-a")
        with containers_created(engine) as created:
            second = _count(tracker, engine, tmp_path / "machine-b")
    assert created == []
    assert second.cache_hit and second.cached_from == first.run_id
    assert (tmp_path / "machine-b" / "out" / "n.txt").read_text().strip() == "3"


# -- failures ------------------------------------------------------------------------


def test_a_failing_command_is_a_failed_run_with_its_log(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    _dirs(tmp_path)
    command = ["sh", "-c", "echo reading x.txt; echo 'x.txt: bad header' >&2; exit 3"]
    with pytest.raises(ContainerFailed, match="bad header") as caught:
        _count(tracker, engine, tmp_path, run_id="broken", command=command)
    assert caught.value.exit_code == 3

    tracker.flush()
    run = tracker.get_run("broken")
    assert run.status is RunStatus.FAILED
    assert "exited with code 3" in (run.error_message or "")
    assert "x.txt: bad header" in (run.error_message or "")
    snapshot = json.loads((tmp_path / "runs" / "broken" / "consist.json").read_text())
    assert "failed" in json.dumps(snapshot["run"]["status"])
    log = Path(run.meta["container"]["log_path"])
    assert "reading x.txt" in log.read_text()
    assert "x.txt: bad header" in log.read_text()
    # A failed run is never a cache hit: the next call starts the container again.
    with containers_created(engine) as created, pytest.raises(ContainerFailed):
        _count(tracker, engine, tmp_path, command=command)
    assert len(created) == 1


def test_an_unknown_image_is_refused_before_any_run(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    _dirs(tmp_path)
    with pytest.raises(ImageNotFound, match="consist-test/no-such-image:1"):
        _count(tracker, engine, tmp_path, image="consist-test/no-such-image:1", run_id="nope")
    assert not tracker.run_exists("nope")


def test_a_missing_input_is_named(tracker: Any, engine: Any, tmp_path: Path) -> None:
    _dirs(tmp_path)
    missing = tmp_path / "in" / "y.txt"
    with (
        containers_created(engine) as created,
        pytest.raises(MissingInputFile, match=r"y\.txt"),
    ):
        _count(tracker, engine, tmp_path, inputs=[missing])
    assert created == []


def test_an_output_the_container_did_not_write_fails_the_run(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    _dirs(tmp_path)
    outputs = {"count": tmp_path / "out" / "n.txt", "summary": tmp_path / "out" / "s.txt"}
    with pytest.raises(MissingOutputFile, match=r"'summary'.*s\.txt.*/outputs/s\.txt"):
        _count(tracker, engine, tmp_path, run_id="partial", outputs=outputs)
    assert tracker.get_run("partial").status is RunStatus.FAILED


def test_a_file_left_from_before_the_run_is_not_taken_as_its_output(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    _dirs(tmp_path)
    (tmp_path / "out" / "n.txt").write_text("stale\n")
    with pytest.raises(MissingOutputFile, match="still holds the file from before"):
        _count(tracker, engine, tmp_path, command=["true"])


def test_inputs_and_outputs_outside_every_mount_are_refused(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    _dirs(tmp_path)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("x\n")
    with pytest.raises(InvalidInput, match=r"elsewhere\.txt is not under a mounted"):
        _count(tracker, engine, tmp_path, inputs=[elsewhere])
    with pytest.raises(InvalidInput, match=r"output 'count'.*not under a mounted"):
        _count(tracker, engine, tmp_path, outputs={"count": tmp_path / "n.txt"})


def test_a_changed_cached_output_is_reported_not_served(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    _dirs(tmp_path)
    _count(tracker, engine, tmp_path)
    output = tmp_path / "out" / "n.txt"
    output.write_text("999\n")
    with pytest.raises(IntegrityError, match=r"'count'.*changed after that run"):
        _count(tracker, engine, tmp_path)
    output.unlink()  # as the message says: delete it and call again
    with containers_created(engine) as created:
        again = _count(tracker, engine, tmp_path)
    assert len(created) == 1 and not again.cache_hit
    assert output.read_text().strip() == "3"


# -- secrets ---------------------------------------------------------------------------


def test_secret_values_reach_the_container_but_are_never_stored(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    _dirs(tmp_path)
    secret = "tok-5b0e1f2c-do-not-store"
    command = ["sh", "-c", 'printf %s "$API_TOKEN" | wc -c > /outputs/n.txt']
    env = {"API_TOKEN": secret, "SCENARIO": "baseline"}
    first = _count(tracker, engine, tmp_path, command=command, env=env, secret_env=["API_TOKEN"])
    assert (tmp_path / "out" / "n.txt").read_text().strip() == str(len(secret))

    rotated = {**env, "API_TOKEN": "tok-rotated"}
    with containers_created(engine) as created:
        second = _count(
            tracker, engine, tmp_path, command=command, env=rotated, secret_env=["API_TOKEN"]
        )
    assert created == [] and second.cache_hit  # a new token is the same step

    tracker.flush()
    forbidden = [secret.encode(), hashlib.sha256(secret.encode()).hexdigest().encode()]
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and "out" not in p.parts]
    assert any(p.name == "catalog.db" for p in stored)
    assert any(p.name == "consist.json" for p in stored)
    for path in stored:
        data = path.read_bytes()
        for needle in forbidden:
            assert needle not in data, f"{path} holds the secret"
    record = tracker.get_run(first.run_id).meta["container"]
    assert record["secret_env"] == ["API_TOKEN"]
    assert record["env_names"] == ["API_TOKEN", "SCENARIO"]
    # The non-secret value does count: changing it is another step.
    with containers_created(engine) as created:
        _count(
            tracker,
            engine,
            tmp_path,
            command=command,
            env={**env, "SCENARIO": "high"},
            secret_env=["API_TOKEN"],
        )
    assert len(created) == 1


# -- the consist.run form --------------------------------------------------------------


def test_consist_run_with_the_container_executor_is_the_same_step(
    tracker: Any, engine: Any, tmp_path: Path
) -> None:
    inputs, outputs = _dirs(tmp_path)
    with consist.use_tracker(tracker):
        first = consist.run(
            name=STEP,
            executor="container",
            inputs=[inputs / "x.txt"],
            output_paths={"count": outputs / "n.txt"},
            container={
                "image": engine.image,
                "command": COUNT,
                "volumes": {str(inputs): "/inputs", str(outputs): "/outputs"},
                "executor_options": {"base_url": engine.base_url},
            },
        )
    assert not first.cache_hit
    assert (outputs / "n.txt").read_text().strip() == "3"
    assert set(first.artifacts) == {"count"}
    with containers_created(engine) as created:
        second = _count(tracker, engine, tmp_path)
    assert created == [] and second.cached_from == first.run_id
    with pytest.raises(InvalidInput, match="unknown key"):
        tracker.run(executor="container", container={"image": "x", "command": [], "cmd": 1})
    with pytest.raises(InvalidInput, match="no step executor 'slurm'"):
        tracker.run(executor="slurm")
