"""DockerExecutor against a real engine (a private dockerd, see tests/support/docker_engine.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from consist.domain.errors import ContainerFailed, ExecutionError, ImageNotFound
from consist.ports.execute import ContainerTask, Executor
from consist_containers import DockerExecutor

pytestmark = pytest.mark.docker

COUNT_LINES = ("sh", "-c", "wc -l < /inputs/x.txt > /outputs/n.txt")


@pytest.fixture
def executor(docker_engine: Any) -> Iterator[DockerExecutor]:
    with DockerExecutor(base_url=docker_engine.base_url) as executor:
        yield executor


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    (inputs / "x.txt").write_text("alpha\nbeta\ngamma\n")
    return inputs, outputs


def _task(image: str, command: tuple[str, ...], **kwargs: Any) -> ContainerTask:
    return ContainerTask(image=image, command=command, **kwargs)


def test_a_step_counts_the_lines_of_its_input_and_writes_the_output(
    executor: DockerExecutor, docker_engine: Any, dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    """The mounted input is read, the mounted output written, the container removed."""
    inputs, outputs = dirs
    task = _task(
        docker_engine.image,
        COUNT_LINES,
        volumes={str(inputs): "/inputs", str(outputs): "/outputs"},
        log_path=str(tmp_path / "logs" / "step.log"),
    )
    port: Executor[ContainerTask] = executor  # type-checks the adapter against the port
    outcome = port.execute(task)

    assert (outputs / "n.txt").read_text().strip() == "3"
    assert outcome.exit_code == 0
    assert outcome.log_path == task.log_path
    assert Path(task.log_path or "").exists()
    assert outcome.meta["image_digest"] == executor.identity(task)["image_digest"]
    client = docker_engine.client()
    try:
        remaining = [c.id for c in client.containers.list(all=True)]
    finally:
        client.close()
    assert outcome.meta["container_id"] not in remaining


def test_the_log_file_receives_stdout_and_stderr_while_the_container_runs(
    executor: DockerExecutor, docker_engine: Any, tmp_path: Path
) -> None:
    """Output shows up in the log before the container ends, both streams included."""
    log = tmp_path / "run.log"
    task = _task(
        docker_engine.image,
        ("sh", "-c", "echo first; echo oops >&2; sleep 2; echo second"),
        log_path=str(log),
    )
    seen_midway: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = log.read_text() if log.exists() else ""
            if "first" in text:
                seen_midway.append(text)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    executor.execute(task)
    watcher.join()

    assert seen_midway and "second" not in seen_midway[0]
    # stdout and stderr are separate streams, so only the set of lines is fixed.
    assert sorted(log.read_text().split()) == ["first", "oops", "second"]


def test_identity_is_stable_and_names_what_determines_the_result(
    executor: DockerExecutor, docker_engine: Any, dirs: tuple[Path, Path]
) -> None:
    """Two calls, or two executors, give the same identity, with the image's content digest."""
    inputs, outputs = dirs
    task = _task(
        docker_engine.image,
        COUNT_LINES,
        volumes={str(outputs): "/outputs", str(inputs): "/inputs"},
        env={"MODE": "fast"},
        workdir="/tmp",
        user="1000:1000",
    )
    first = executor.identity(task)
    assert executor.identity(task) == first
    with DockerExecutor(base_url=docker_engine.base_url) as other:
        assert other.identity(task) == first
    client = docker_engine.client()
    try:
        image_id = client.images.get(docker_engine.image).id
    finally:
        client.close()
    assert first == {
        "backend": "docker",
        "image_digest": image_id,
        "command": list(COUNT_LINES),
        "env_hash": first["env_hash"],
        "mounts": ["/inputs", "/outputs"],
        "workdir": "/tmp",
        "user": "1000:1000",
    }
    assert image_id.startswith("sha256:") and len(first["env_hash"]) == 64


def test_identity_changes_when_the_image_changes_under_the_same_tag(
    executor: DockerExecutor, docker_engine: Any
) -> None:
    """Re-importing different content under one tag gives a different image digest."""
    old_id = docker_engine.import_busybox("swap", {"/etc/flavour": b"vanilla\n"})
    task = _task("consist-test/busybox:swap", ("cat", "/etc/flavour"))
    before = executor.identity(task)

    new_id = docker_engine.import_busybox("swap", {"/etc/flavour": b"chocolate\n"})
    after = executor.identity(task)

    assert old_id != new_id
    assert before["image_digest"] == old_id
    assert after["image_digest"] == new_id
    assert {k: v for k, v in before.items() if k != "image_digest"} == {
        k: v for k, v in after.items() if k != "image_digest"
    }


def test_identity_ignores_host_paths_but_not_container_paths(
    executor: DockerExecutor, docker_engine: Any, tmp_path: Path
) -> None:
    """Moving the data on the host keeps the identity; mounting it elsewhere changes it."""
    here, there = tmp_path / "here", tmp_path / "elsewhere" / "there"
    a = _task(docker_engine.image, COUNT_LINES, volumes={str(here): "/inputs"})
    b = _task(docker_engine.image, COUNT_LINES, volumes={str(there): "/inputs"})
    c = _task(docker_engine.image, COUNT_LINES, volumes={str(here): "/data"})
    assert executor.identity(a) == executor.identity(b)
    assert executor.identity(a) != executor.identity(c)
    assert str(here) not in repr(executor.identity(a))


def test_secrets_reach_the_container_but_never_the_identity(
    executor: DockerExecutor, docker_engine: Any, tmp_path: Path
) -> None:
    """A secret value is passed in, absent from the identity, and changing it keeps the key."""
    secret = "tok-8f2c1d9e-do-not-leak"
    task = _task(
        docker_engine.image,
        ("sh", "-c", 'echo "$API_TOKEN $MODE" > /outputs/seen.txt'),
        volumes={str(tmp_path): "/outputs"},
        env={"API_TOKEN": secret, "MODE": "fast"},
        secret_env=frozenset({"API_TOKEN"}),
    )
    identity = executor.identity(task)
    assert secret not in repr(identity)
    executor.execute(task)
    assert (tmp_path / "seen.txt").read_text() == f"{secret} fast\n"

    rotated = attrs.evolve(task, env={"API_TOKEN": "another-token", "MODE": "fast"})
    assert executor.identity(rotated) == identity
    changed = attrs.evolve(task, env={"API_TOKEN": secret, "MODE": "slow"})
    assert executor.identity(changed)["env_hash"] != identity["env_hash"]


def test_the_network_is_none_unless_asked(
    executor: DockerExecutor, docker_engine: Any, tmp_path: Path
) -> None:
    """By default the container is created with network mode "none": only loopback, no route."""
    log = tmp_path / "net.log"
    task = _task(
        docker_engine.image,
        (
            "sh",
            "-c",
            "ls /sys/class/net; nc -w 2 1.1.1.1 53 </dev/null 2>/dev/null && echo CONNECTED"
            " || echo NO-ROUTE; sleep 1",
        ),
        log_path=str(log),
    )
    # The test engine has no bridge, so "only lo" alone would also hold for a
    # forgotten network_mode: look at how the engine was asked to run it too.
    modes: list[str] = []

    def watch() -> None:
        client = docker_engine.client()
        try:
            deadline = time.monotonic() + 10
            while not modes and time.monotonic() < deadline:
                for container in client.containers.list():
                    if container.attrs["Config"]["Cmd"] == list(task.command):
                        modes.append(container.attrs["HostConfig"]["NetworkMode"])
                time.sleep(0.05)
        finally:
            client.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    executor.execute(task)
    watcher.join()

    assert modes == ["none"]
    assert log.read_text().split() == ["lo", "NO-ROUTE"]


def test_a_failing_command_raises_with_its_exit_code_and_log_tail(
    executor: DockerExecutor, docker_engine: Any, tmp_path: Path
) -> None:
    """Exit code 3 is reported with the last 20 lines of output; the full log stays on disk."""
    log = tmp_path / "fail.log"
    task = _task(
        docker_engine.image,
        ("sh", "-c", "for i in $(seq 1 30); do echo line$i; done; exit 3"),
        log_path=str(log),
    )
    with pytest.raises(ContainerFailed) as caught:
        executor.execute(task)

    error = caught.value
    assert isinstance(error, ExecutionError)
    assert error.exit_code == 3
    assert "exited with code 3" in str(error)
    assert error.log_tail == [f"line{i}" for i in range(11, 31)]
    assert "line30" in str(error) and "line10\n" not in str(error)
    assert log.read_text().splitlines()[0] == "line1"


def test_workdir_and_user_are_applied(
    executor: DockerExecutor, docker_engine: Any, tmp_path: Path
) -> None:
    """The command runs in the working directory and as the user the task names."""
    log = tmp_path / "who.log"
    executor.execute(
        _task(
            docker_engine.image,
            ("sh", "-c", "pwd; id -u"),
            workdir="/tmp",
            user="4321",
            log_path=str(log),
        )
    )
    assert log.read_text().split() == ["/tmp", "4321"]


def test_an_unknown_image_is_a_clear_error_naming_it(executor: DockerExecutor) -> None:
    """Both identity and execute say which image is missing and how to get it."""
    task = _task("consist-test/no-such-image:7", ("true",))
    for call in (executor.identity, executor.execute):
        with pytest.raises(ImageNotFound, match=r"consist-test/no-such-image:7.*docker pull"):
            call(task)


def test_engine_errors_come_back_as_consist_errors(
    executor: DockerExecutor, docker_engine: Any, tmp_path: Path
) -> None:
    """A malformed reference or a missing mount source never leaks a docker.errors exception."""
    with pytest.raises(ExecutionError, match="Bad Ref") as caught:
        executor.identity(_task("Bad Ref!!", ("true",)))
    assert type(caught.value).__module__.startswith("consist")

    missing = tmp_path / "not-created"
    with pytest.raises(ExecutionError, match="does not exist"):
        executor.execute(_task(docker_engine.image, ("true",), volumes={str(missing): "/x"}))
    assert not missing.exists()


def test_an_unreachable_engine_is_an_execution_error(tmp_path: Path) -> None:
    """No engine at the address: a consist error that says how to point at one."""
    executor = DockerExecutor(base_url=f"unix://{tmp_path}/absent.sock")
    with pytest.raises(ExecutionError, match="DOCKER_HOST or base_url"):
        executor.identity(_task("consist-test/busybox:1", ("true",)))
