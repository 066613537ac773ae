"""seed-000-early-readme.md: the usage example, run as written.

The example logs the absolute placeholder ``/path/to/input.csv``; the fixture
puts a CSV exactly there (and removes what it created), so the call is the
document's own. ``outputs.csv`` is never written: its rows reach the database
through ``tracker.ingest(..., data=[...])`` and are that artifact's content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import consist

PLACEHOLDER = Path("/path/to/input.csv")


@pytest.fixture
def path_to_input() -> Iterator[Path]:
    """The example's ``/path/to/input.csv``, created for the test and removed after it."""
    if PLACEHOLDER.exists():
        pytest.fail(f"{PLACEHOLDER} exists already; the test will not overwrite it")
    new_dirs = [d for d in (PLACEHOLDER.parent.parent, PLACEHOLDER.parent) if not d.exists()]
    try:
        PLACEHOLDER.parent.mkdir(parents=True, exist_ok=True)
        PLACEHOLDER.write_text("household_id,size\n1,3\n2,1\n")
    except PermissionError:
        pytest.skip(f"the example's absolute path {PLACEHOLDER} cannot be created here")
    try:
        yield PLACEHOLDER
    finally:
        PLACEHOLDER.unlink(missing_ok=True)
        for directory in reversed(new_dirs):
            directory.rmdir()


def test_usage_example_runs_as_written(workdir: Path, path_to_input: Path) -> None:
    """Dual write, the input's hash, the ingested rows as the output's content, the view."""
    # fmt: off
    from consist.tools.tracker import Tracker
    from pathlib import Path

    # Initialize
    tracker = Tracker(
        run_dir=Path("./runs"),
        db_path="./provenance.duckdb"
    )

    # Start a tracked execution context
    with tracker.start_run("run_id_123", model="asim", year=2010):

        # Log an input file
        tracker.log_artifact("/path/to/input.csv", key="households", direction="input")

        # ... Run simulation logic ...

        # Ingest output data to DB
        tracker.ingest(
            artifact=tracker.log_artifact("outputs.csv", key="persons"),
            data=[{"id": 1, "income": 50000}]
        )

    # Create a unified view (reads from files OR db)
    tracker.create_view("v_persons", "persons")
    # fmt: on

    # Dual write: the JSON snapshot and the DuckDB catalog both hold the run.
    snapshot = json.loads((workdir / "runs" / "run_id_123" / "consist.json").read_text())
    assert snapshot["run"]["status"] == "completed"
    assert (snapshot["run"]["model"], snapshot["run"]["year"]) == ("asim", 2010)
    assert (workdir / "provenance.duckdb").is_file()
    run = tracker.get_run("run_id_123")
    assert run.status == "completed" and run.year == 2010

    links = tracker.get_artifacts_for_run("run_id_123")
    households = links.inputs["households"]
    assert households.uri == "file:///path/to/input.csv"
    assert households.hash == hashlib.sha256(path_to_input.read_bytes()).hexdigest()

    persons = links.outputs["persons"]
    assert not (workdir / "outputs.csv").exists()
    assert persons.hash is not None and persons.hash.startswith("rows:")
    rows = consist.run_query("SELECT id, income, consist_year FROM v_persons", tracker=tracker)
    assert rows.to_dict("records") == [{"id": 1, "income": 50000, "consist_year": 2010}]
    frame = consist.load_df(persons, tracker=tracker)
    assert frame[["id", "income"]].to_dict("records") == [{"id": 1, "income": 50000}]
    tracker.close()


def test_an_output_with_neither_file_nor_rows_fails_its_run(workdir: Path) -> None:
    """The other side of deferring ``outputs.csv``: if nothing ever fills it, the run fails."""
    from consist.tools.tracker import Tracker

    tracker = Tracker(run_dir=Path("./runs"), db_path="./provenance.duckdb")
    with (
        pytest.raises(consist.domain.errors.MissingOutputFile, match=r"'persons'.*outputs\.csv"),
        tracker.start_run("forgotten", model="asim", year=2010),
    ):
        tracker.log_artifact("outputs.csv", key="persons")
    assert tracker.get_run("forgotten").status == "failed"
    tracker.close()


def test_an_output_logged_before_its_file_is_written_gets_the_files_hash(workdir: Path) -> None:
    """Logging first and writing later within the run is fine: the hash is taken at the end."""
    from consist.tools.tracker import Tracker

    tracker = Tracker(run_dir=Path("./runs"), db_path="./provenance.duckdb")
    with tracker.start_run("later", model="asim"):
        tracker.log_artifact("outputs.csv", key="persons")
        Path("outputs.csv").write_text("id,income\n1,50000\n")
    persons = tracker.get_artifacts_for_run("later").outputs["persons"]
    assert persons.hash == hashlib.sha256(b"id,income\n1,50000\n").hexdigest()
    assert persons.size == len(b"id,income\n1,50000\n")
    tracker.close()
