"""seed-001-architecture.md, "Path Virtualization": mount URIs in and out, escapes refused,
and portable snapshots (the physical run directory recorded once, in run metadata)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from consist import Tracker
from consist.domain.errors import ConsistError, InvalidURI, PathEscapesMount


@pytest.fixture
def data_root(workdir: Path) -> Path:
    """``/mnt/data`` of the text: a folder holding ``land_use.csv``."""
    root = workdir / "mnt" / "data"
    root.mkdir(parents=True)
    (root / "land_use.csv").write_text("zone,households\n1,100\n2,250\n")
    return root


def test_a_path_under_a_mount_is_stored_as_its_uri(data_root: Path) -> None:
    """``/mnt/data/land_use.csv`` with ``mounts={"inputs": "/mnt/data"}`` -> ``inputs://land_use.csv``."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb", mounts={"inputs": data_root})
    with tracker.start_run("absolute", model="m"):
        artifact = tracker.log_artifact(
            data_root / "land_use.csv", key="land_use", direction="input"
        )
    assert artifact.uri == "inputs://land_use.csv"
    tracker.close()


def test_logging_by_mount_uri_resolves_through_the_mounts(data_root: Path) -> None:
    """``tracker.log_artifact("inputs://land_use.csv", ...)`` logs the file under the mount."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb", mounts={"inputs": data_root})
    with tracker.start_run("by_uri", model="m"):
        artifact = tracker.log_artifact("inputs://land_use.csv", key="land_use", direction="input")
    assert artifact.uri == "inputs://land_use.csv"
    assert artifact.hash == hashlib.sha256((data_root / "land_use.csv").read_bytes()).hexdigest()
    assert tracker.resolve_path(artifact) == data_root / "land_use.csv"
    assert tracker.get_artifacts_for_run("by_uri").inputs["land_use"].id == artifact.id
    tracker.close()


def _plain_dotdot(data_root: Path) -> str:
    (data_root.parent / "secret.csv").write_text("password\nhunter2\n")
    return "inputs://../secret.csv"


def _encoded_dotdot(data_root: Path) -> str:
    (data_root.parent / "secret.csv").write_text("password\nhunter2\n")
    return "inputs://%2e%2e/secret.csv"


def _encoded_deeper(data_root: Path) -> str:
    (data_root / "sub").mkdir()
    (data_root.parent / "secret.csv").write_text("password\nhunter2\n")
    return "inputs://sub/%2E%2E/%2e%2E/secret.csv"


def _symlink_out(data_root: Path) -> str:
    outside = data_root.parent / "secret.csv"
    outside.write_text("password\nhunter2\n")
    (data_root / "innocent.csv").symlink_to(outside)
    return "inputs://innocent.csv"


@pytest.mark.parametrize(
    "make_uri", [_plain_dotdot, _encoded_dotdot, _encoded_deeper, _symlink_out]
)
def test_a_uri_escaping_its_mount_is_refused_and_logs_nothing(
    data_root: Path, make_uri: object
) -> None:
    """``..`` (plain or percent-encoded) or a symlink out of the mount: an error, no artifact."""
    uri = make_uri(data_root)  # type: ignore[operator]
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb", mounts={"inputs": data_root})
    with tracker.start_run("escape", model="m") as run:
        with pytest.raises(PathEscapesMount, match="inputs") as caught:
            tracker.log_artifact(uri, key="secret", direction="input")
        assert run.inputs == {}
    assert isinstance(caught.value, ConsistError) and isinstance(caught.value, ValueError)
    assert tracker.get_record("escape").artifacts == ()
    tracker.close()


def test_a_uri_of_an_unknown_mount_names_the_configured_ones(data_root: Path) -> None:
    """``outputs://x.csv`` without an ``outputs`` mount: InvalidURI naming the mounts there are."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb", mounts={"inputs": data_root})
    with (
        tracker.start_run("unknown", model="m"),
        pytest.raises(InvalidURI, match=r"'outputs'.*inputs"),
    ):
        tracker.log_artifact("outputs://x.csv", key="x", direction="input")
    tracker.close()


def test_snapshots_are_portable_the_run_dir_is_recorded_once(data_root: Path) -> None:
    """Outputs in the run's folder appear in consist.json only as ``workspace://``; the
    physical folder is written once, as ``Run.meta["_physical_run_dir"]``."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb", mounts={"inputs": data_root})
    with tracker.start_run("portable", model="m") as run:
        tracker.log_artifact("inputs://land_use.csv", key="land_use", direction="input")
        (run.workspace / "nested").mkdir()
        (run.workspace / "nested" / "trips.csv").write_text("trip\n1\n")
        written = tracker.log_artifact(run.workspace / "nested" / "trips.csv", key="trips")
        frame = tracker.log_dataframe(pd.DataFrame({"x": [1]}), key="frame")

    def summarise() -> Path:
        path = tracker.run_dir / "step" / "summary.txt"  # inside the step's own folder
        path.write_text("ok")
        return path

    tracker.run(summarise, run_id="step", outputs=["summary"])

    for run_id, uris in (
        ("portable", {"workspace://nested/trips.csv", "workspace://frame.parquet"}),
        ("step", {"workspace://summary.txt"}),
    ):
        physical = str(tracker.run_dir / run_id)
        snapshot = tracker.run_dir / run_id / "consist.json"
        text = snapshot.read_text()
        assert text.count(physical) == 1, f"{run_id}: the run folder appears more than once"
        document = json.loads(text)
        assert document["run"]["meta"]["_physical_run_dir"] == physical
        produced = {a["uri"] for a in document["artifacts"] if a["producer_run_id"] == run_id}
        assert produced == uris
    assert (
        written.uri == "workspace://nested/trips.csv" and frame.uri == "workspace://frame.parquet"
    )

    # Read back in a fresh process's shape: the workspace URIs still resolve to files.
    tracker.close()
    again = Tracker(run_dir="./runs", db_path="./fresh.duckdb", mounts={"inputs": data_root})
    again.rebuild()
    outputs = again.get_artifacts_for_run("portable").outputs
    assert Path(outputs["trips"].path or "").read_text() == "trip\n1\n"
    assert again.resolve_path(outputs["frame"]).is_file()
    again.close()


def test_a_step_input_given_as_a_mount_uri_resolves_the_same_way(data_root: Path) -> None:
    """``tracker.run(..., inputs={"land_use": "inputs://land_use.csv"})`` reads the mounted
    file; a URI escaping the mount is refused before the step runs."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb", mounts={"inputs": data_root})
    seen: list[str] = []

    def count(land_use: Path) -> None:
        seen.append(Path(land_use).read_text())

    result = tracker.run(count, inputs={"land_use": "inputs://land_use.csv"}, load_inputs=False)
    assert seen == [(data_root / "land_use.csv").read_text()]
    assert tracker.get_artifacts_for_run(result.run_id).inputs["land_use"].uri == (
        "inputs://land_use.csv"
    )
    (data_root.parent / "secret.csv").write_text("password\n")
    with pytest.raises(PathEscapesMount):
        tracker.run(count, inputs={"land_use": "inputs://%2e%2e/secret.csv"}, load_inputs=False)
    assert len(seen) == 1
    tracker.close()
