"""``run_container(backend="apptainer")`` without Apptainer: a stand-in CLI records the call.

Apptainer cannot be installed on our CI machines, so the Tracker-level path is
tested here through the command line it builds; the last test runs a real
``apptainer`` where one is on PATH and is skipped elsewhere.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import consist
from consist.domain.errors import ExecutionError, ImageNotFound
from consist.integrations.containers import default_name, run_container

COUNT = ["sh", "-c", "wc -l < /inputs/x.txt > /outputs/n.txt"]

# Stands in for apptainer: appends the names of the APPTAINERENV_ variables it got
# (as ENV:<name>) and its argv, one argument per line, then a marker, to $FAKE_CALLS,
# and writes what the real command would to the host output $FAKE_OUT.
FAKE_CLI = """#!/bin/sh
env | grep '^APPTAINERENV_' | cut -d= -f1 | sed 's/^/ENV:/' >> "$FAKE_CALLS"
for arg in "$@"; do printf '%s\\n' "$arg" >> "$FAKE_CALLS"; done
echo '--end--' >> "$FAKE_CALLS"
echo 3 > "$FAKE_OUT"
echo 'fake apptainer ran'
"""


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Any]:
    with consist.Tracker(tmp_path / "runs", catalog="memory://") as made:
        yield made


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cli = tmp_path / "bin" / "apptainer"
    cli.parent.mkdir()
    cli.write_text(FAKE_CLI)
    cli.chmod(0o755)
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.txt"))
    monkeypatch.setenv("FAKE_OUT", str(tmp_path / "out" / "n.txt"))
    return cli


def _calls(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "calls.txt"
    if not path.exists():
        return []
    text = path.read_text()
    return [chunk.strip("\n").split("\n") for chunk in text.split("--end--\n") if chunk.strip()]


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    (inputs / "x.txt").write_text("a\nb\nc\n")
    sif = tmp_path / "images" / "busybox.sif"
    sif.parent.mkdir()
    sif.write_bytes(b"not really a SIF, but bytes with a digest")
    return inputs, outputs, sif


def test_run_container_builds_the_apptainer_call_and_caches_it(
    tracker: Any, fake_cli: Path, tmp_path: Path
) -> None:
    inputs, outputs, sif = _setup(tmp_path)
    options: dict[str, Any] = {
        "tracker": tracker,
        "backend": "apptainer",
        "executor_options": {"binary": str(fake_cli)},
        "image": str(sif),
        "command": COUNT,
        "volumes": {str(outputs): "/outputs", str(inputs): "/inputs"},
        "inputs": [inputs / "x.txt"],
        "outputs": {"count": outputs / "n.txt"},
        "env": {"SCENARIO": "baseline", "API_TOKEN": "tok-never-on-argv"},
        "secret_env": ["API_TOKEN"],
        "workdir": "/inputs",
    }
    first = run_container(**options)
    assert not first.cache_hit
    (call,) = _calls(tmp_path)
    env_names = [line[4:] for line in call if line.startswith("ENV:")]
    argv = [line for line in call if not line.startswith("ENV:")]
    assert argv[:4] == ["exec", "--containall", "--no-home", "--net"]
    assert argv[argv.index("--bind") + 1] == f"{inputs}:/inputs,{outputs}:/outputs"
    assert argv[argv.index("--env") + 1] == "SCENARIO=baseline"
    assert argv[argv.index("--pwd") + 1] == "/inputs"
    image_at = argv.index(str(sif))
    assert argv[image_at + 1 :] == COUNT
    assert not any("tok-never-on-argv" in arg for arg in call)
    assert env_names == ["APPTAINERENV_API_TOKEN"]

    record = tracker.get_run(first.run_id).meta["container"]
    assert record["backend"] == "apptainer"
    expected = hashlib.sha256(sif.read_bytes()).hexdigest()
    assert record["image_digest"] == f"sha256:{expected}"
    assert "fake apptainer ran" in Path(record["log_path"]).read_text()
    assert first.run.model == "busybox"

    second = run_container(**options)
    assert second.cache_hit and second.cached_from == first.run_id
    assert len(_calls(tmp_path)) == 1  # the CLI was not called again

    sif.write_bytes(b"another image")
    third = run_container(**options)
    assert not third.cache_hit
    assert len(_calls(tmp_path)) == 2


def test_apptainer_images_must_have_a_digest(tracker: Any, tmp_path: Path) -> None:
    """An unpinned reference has no stable identity; a missing .sif is not found."""
    inputs, outputs, _ = _setup(tmp_path)
    common: dict[str, Any] = {
        "tracker": tracker,
        "backend": "apptainer",
        "command": COUNT,
        "volumes": {str(inputs): "/inputs", str(outputs): "/outputs"},
        "run_id": "unpinned",
    }
    with pytest.raises(ExecutionError, match=r"'docker://busybox:1\.36' is not pinned"):
        run_container(image="docker://busybox:1.36", **common)
    with pytest.raises(ImageNotFound, match=r"missing\.sif"):
        run_container(image=str(tmp_path / "missing.sif"), **common)
    assert not tracker.run_exists("unpinned")


def test_options_a_container_step_sets_itself_are_refused(tracker: Any, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="code_identity"):
        run_container(tracker=tracker, image="x.sif", command=["true"], code_identity="v1")
    with pytest.raises(consist.ConsistError, match="list of arguments"):
        run_container(tracker=tracker, image="x.sif", command="wc -l x")  # type: ignore[arg-type]
    with pytest.raises(consist.ConsistError, match="backend must be one of"):
        run_container(tracker=tracker, image="x", command=["true"], backend="podman")


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("travel-model:v2.1", "travel-model"),
        ("registry.example.org:5000/org/travel-model:v2.1", "travel-model"),
        ("docker://busybox@sha256:" + "0" * 64, "busybox"),
        ("/images/beam.sif", "beam"),
    ],
)
def test_the_default_step_name_is_the_image_name(image: str, name: str) -> None:
    assert default_name(image) == name


@pytest.mark.apptainer
@pytest.mark.skipif(
    shutil.which("apptainer") is None,
    reason="apptainer is not on PATH (it cannot be installed on the CI machines); "
    "the Tracker-level path is covered above through a stand-in CLI",
)
def test_a_real_apptainer_step_executes_then_hits(tracker: Any, tmp_path: Path) -> None:
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
    inputs, outputs, _ = _setup(tmp_path)
    options: dict[str, Any] = {
        "tracker": tracker,
        "backend": "apptainer",
        "image": str(sif),
        "command": COUNT,
        "volumes": {str(inputs): "/inputs", str(outputs): "/outputs"},
        "inputs": [inputs / "x.txt"],
        "outputs": {"count": outputs / "n.txt"},
    }
    first = run_container(**options)
    assert (outputs / "n.txt").read_text().strip() == "3"
    second = run_container(**options)
    assert second.cache_hit and second.cached_from == first.run_id
