"""ApptainerExecutor: its command line, its image digests, and its run loop (via a stand-in CLI)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import attrs
import pytest

from consist import plugins
from consist.domain.errors import ContainerFailed, ExecutionError, ImageNotFound
from consist.ports.execute import ContainerTask, Executor
from consist_containers import ApptainerExecutor, DockerExecutor, apptainer_command

PINNED = "docker://busybox@sha256:" + "ab" * 32


def _task(**kwargs: object) -> ContainerTask:
    base: dict[str, object] = {"image": "/images/model.sif", "command": ("run", "--years", "2")}
    base.update(kwargs)
    return ContainerTask(**base)  # type: ignore[arg-type]


def test_the_command_line_has_containment_binds_env_and_workdir_in_order() -> None:
    """The full argv for a task with everything set, binds sorted by container path."""
    task = _task(
        volumes={"/host/out": "/outputs", "/host/in": "/inputs"},
        env={"YEAR": "2030", "MODE": "fast"},
        workdir="/work",
    )
    call = apptainer_command(task)
    assert call.argv == (
        "apptainer", "exec", "--containall", "--no-home",
        "--net", "--network", "none",
        "--bind", "/host/in:/inputs,/host/out:/outputs",
        "--env", "MODE=fast", "--env", "YEAR=2030",
        "--pwd", "/work",
        "/images/model.sif", "run", "--years", "2",
    )  # fmt: skip
    assert call.env == {}


def test_a_bare_task_gets_only_containment_and_no_network() -> None:
    """No volumes, env or workdir: no empty --bind or --pwd flags."""
    call = apptainer_command(_task(command=("true",)))
    assert call.argv == (
        "apptainer", "exec", "--containall", "--no-home", "--net", "--network", "none",
        "/images/model.sif", "true",
    )  # fmt: skip


def test_host_network_adds_no_network_flags_and_a_named_one_is_passed() -> None:
    """ "host" is Apptainer's default; any other name asks for that network."""
    assert "--net" not in apptainer_command(_task(network="host")).argv
    argv = apptainer_command(_task(network="bridge")).argv
    assert argv[4:7] == ("--net", "--network", "bridge")


def test_secrets_travel_in_the_environment_never_on_the_command_line() -> None:
    """A secret (or a value with a comma) becomes APPTAINERENV_<NAME>, out of `ps` output."""
    task = _task(
        env={"TOKEN": "hunter2", "LIST": "a,b", "PLAIN": "x"},
        secret_env=frozenset({"TOKEN"}),
    )
    call = apptainer_command(task)
    assert "hunter2" not in " ".join(call.argv)
    assert "a,b" not in " ".join(call.argv)
    assert call.argv[7:9] == ("--env", "PLAIN=x")
    assert call.env == {"APPTAINERENV_TOKEN": "hunter2", "APPTAINERENV_LIST": "a,b"}
    singularity = apptainer_command(task, binary="/opt/bin/singularity")
    assert singularity.argv[0] == "/opt/bin/singularity"
    assert set(singularity.env) == {"SINGULARITYENV_TOKEN", "SINGULARITYENV_LIST"}


def test_the_image_and_binds_can_be_resolved_by_the_caller() -> None:
    """execute passes an absolute image path and absolute host paths in place of the task's."""
    task = _task(image="model.sif", volumes={"data": "/data"})
    argv = apptainer_command(task, image="/abs/model.sif", binds={"/abs/data": "/data"}).argv
    assert "/abs/data:/data" in argv
    assert "/abs/model.sif" in argv and "model.sif" not in argv


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (_task(user="1000"), "cannot switch to user"),
        (_task(volumes={"/host/a,b": "/in"}), "contains ',' or ':'"),
        (_task(volumes={"/host/in": "/in:ro"}), "contains ',' or ':'"),
        (_task(env={"BAD-NAME": "1"}), "not a valid variable name"),
    ],
)
def test_what_apptainer_cannot_express_is_refused(task: ContainerTask, message: str) -> None:
    """A user switch, a separator in a bind path, or a bad env name is an error, not a surprise."""
    with pytest.raises(ExecutionError, match=message):
        apptainer_command(task)


def test_a_sif_is_identified_by_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    """The digest is the file's SHA-256; different bytes give a different digest."""
    sif = tmp_path / "model.sif"
    sif.write_bytes(b"SIF image one")
    executor = ApptainerExecutor()
    expected = "sha256:" + hashlib.sha256(b"SIF image one").hexdigest()
    assert executor.sif_digest(str(sif)) == expected

    sif.write_bytes(b"SIF image two, longer")
    assert executor.sif_digest(str(sif)) == (
        "sha256:" + hashlib.sha256(b"SIF image two, longer").hexdigest()
    )


def test_an_unchanged_sif_is_not_read_again(tmp_path: Path) -> None:
    """Same size, mtime and inode: the remembered digest is used (the hash memo's contract)."""
    sif = tmp_path / "model.sif"
    sif.write_bytes(b"AAAA")
    executor = ApptainerExecutor()
    first = executor.sif_digest(str(sif))
    before = sif.stat()
    with sif.open("r+b") as f:  # same inode, same size
        f.write(b"BBBB")
    os.utime(sif, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert executor.sif_digest(str(sif)) == first
    assert ApptainerExecutor().sif_digest(str(sif)) != first  # a fresh executor reads it


def test_image_references_must_be_pinned_or_local_files(tmp_path: Path) -> None:
    """Pinned refs give their digest; unpinned refs, missing files and directories are refused."""
    executor = ApptainerExecutor()
    assert executor.identity(_task(image=PINNED))["image_digest"] == "sha256:" + "ab" * 32
    library = "library://lab/models/sim:sha256." + "cd" * 32
    assert executor.identity(_task(image=library))["image_digest"] == "sha256:" + "cd" * 32

    with pytest.raises(ExecutionError, match=r"not pinned to a digest.*@sha256"):
        executor.identity(_task(image="docker://busybox:1.36"))
    with pytest.raises(ImageNotFound, match=r"missing\.sif") as caught:
        executor.identity(_task(image=str(tmp_path / "missing.sif")))
    assert isinstance(caught.value, LookupError)
    with pytest.raises(ExecutionError, match="sandbox directory"):
        executor.identity(_task(image=str(tmp_path)))


def test_apptainer_identity_ignores_host_paths_and_secret_values(tmp_path: Path) -> None:
    """Same shape as Docker's: container mount points only, secrets masked."""
    executor: Executor[ContainerTask] = ApptainerExecutor()
    a = _task(image=PINNED, volumes={"/one/in": "/in"}, env={"K": "s1"}, secret_env={"K"})
    b = attrs.evolve(a, volumes={"/two/in": "/in"}, env={"K": "s2"})
    assert executor.identity(a) == executor.identity(b)
    identity = executor.identity(a)
    assert identity["backend"] == "apptainer"
    assert identity["mounts"] == ["/in"]
    assert "s1" not in repr(identity) and "/one/in" not in repr(identity)
    assert executor.identity(attrs.evolve(a, command=("other",))) != identity


def test_the_entry_points_build_the_executors() -> None:
    """docker://, apptainer:// and singularity:// resolve to this package's classes."""
    assert plugins.load(plugins.EXECUTOR, "docker") is DockerExecutor
    singularity = plugins.load(plugins.EXECUTOR, "singularity")("singularity://")
    assert isinstance(singularity, ApptainerExecutor)
    assert singularity.binary == "singularity"
    assert ApptainerExecutor().binary == "apptainer"


# -- execute, through a stand-in for the apptainer CLI ------------------------

FAKE_CLI = """#!/bin/sh
# Stands in for apptainer: prints what it was asked, then exits with $FAKE_EXIT.
echo "argv: $*"
echo "secret: $APPTAINERENV_TOKEN"
echo "leaked: $APPTAINERENV_FROM_HOST"
i=1; while [ $i -le 25 ]; do echo "row $i"; i=$((i+1)); done
exit "${FAKE_EXIT:-0}"
"""


@pytest.fixture
def fake_cli(tmp_path: Path) -> str:
    cli = tmp_path / "bin" / "apptainer"
    cli.parent.mkdir()
    cli.write_text(FAKE_CLI)
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    return str(cli)


def test_execute_runs_the_built_command_and_logs_its_output(
    fake_cli: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI gets the argv, secrets via its environment; host APPTAINERENV_ vars are dropped."""
    monkeypatch.setenv("APPTAINERENV_FROM_HOST", "should-not-pass")
    sif = tmp_path / "model.sif"
    sif.write_bytes(b"image")
    (tmp_path / "in").mkdir()
    task = ContainerTask(
        image=str(sif),
        command=("wc", "-l"),
        volumes={str(tmp_path / "in"): "/in"},
        env={"TOKEN": "hunter2"},
        secret_env=frozenset({"TOKEN"}),
        log_path=str(tmp_path / "logs" / "a.log"),
    )
    outcome = ApptainerExecutor(binary=fake_cli).execute(task)

    log = Path(task.log_path or "").read_text().splitlines()
    assert log[0] == "argv: exec --containall --no-home --net --network none --bind " + (
        f"{tmp_path / 'in'}:/in {sif} wc -l"
    )
    assert log[1] == "secret: hunter2"
    assert log[2] == "leaked: "
    assert outcome.exit_code == 0
    assert outcome.meta["image_digest"] == "sha256:" + hashlib.sha256(b"image").hexdigest()
    assert "hunter2" not in " ".join(outcome.meta["argv"])


def test_execute_raises_with_exit_code_and_tail(
    fake_cli: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-zero exit is ContainerFailed with the code and the last 20 lines."""
    monkeypatch.setenv("FAKE_EXIT", "7")
    with pytest.raises(ContainerFailed, match="exited with code 7") as caught:
        ApptainerExecutor(binary=fake_cli).execute(_task(image=PINNED))
    assert caught.value.exit_code == 7
    assert caught.value.log_tail == [f"row {i}" for i in range(6, 26)]


def test_a_missing_cli_is_a_clear_error(tmp_path: Path) -> None:
    """No apptainer binary: the error says to install it or pass binary=."""
    executor = ApptainerExecutor(binary=str(tmp_path / "nowhere" / "apptainer"))
    with pytest.raises(ExecutionError, match="install Apptainer or pass binary="):
        executor.execute(_task(image=PINNED))


# -- the real thing, where it is installed -----------------------------------


@pytest.mark.apptainer
@pytest.mark.skipif(
    shutil.which("apptainer") is None,
    reason="apptainer is not on PATH (it cannot be installed on the CI machines); "
    "command construction and digests are covered by the tests above",
)
def test_apptainer_counts_lines_in_a_real_container(tmp_path: Path) -> None:
    """Build a busybox .sif from a sandbox directory and count an input file's lines in it."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed (apt-get install busybox-static)")
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(busybox, rootfs / "bin" / "busybox")
    for applet in ("sh", "wc"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    sif = tmp_path / "busybox.sif"
    subprocess.run(["apptainer", "build", str(sif), str(rootfs)], check=True, capture_output=True)
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    (inputs / "x.txt").write_text("a\nb\nc\nd\n")
    task = ContainerTask(
        image=str(sif),
        command=("sh", "-c", "wc -l < /inputs/x.txt > /outputs/n.txt"),
        volumes={str(inputs): "/inputs", str(outputs): "/outputs"},
        log_path=str(tmp_path / "run.log"),
    )
    outcome = ApptainerExecutor().execute(task)
    assert outcome.exit_code == 0
    assert (outputs / "n.txt").read_text().strip() == "4"
