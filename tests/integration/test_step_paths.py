"""Relative paths a step hands back or names are relative to the working directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    with consist.Tracker(run_dir="./runs", db_path="./provenance.duckdb") as made:
        yield made


def test_a_returned_relative_path_is_read_from_the_working_directory(
    tracker: Any, tmp_path: Path
) -> None:
    """``return Path("./cleaned.parquet")`` logs the file the step wrote in the cwd."""

    def clean() -> Path:
        pd.DataFrame({"x": [1, 2]}).to_parquet("cleaned.parquet")
        return Path("./cleaned.parquet")

    result = tracker.run(clean)
    artifact = result.outputs["cleaned"]
    assert Path(artifact.path) == tmp_path / "cleaned.parquet"
    assert consist.load(artifact)["x"].tolist() == [1, 2]


def test_returned_relative_paths_in_a_dict_are_read_from_the_working_directory(
    tracker: Any, tmp_path: Path
) -> None:
    def split() -> dict[str, Path]:
        Path("a.csv").write_text("v\n1\n")
        Path("parts").mkdir()
        Path("parts/b.csv").write_text("v\n2\n")
        return {"a": Path("a.csv"), "b": Path("parts/b.csv")}

    result = tracker.run(split, outputs=["a", "b"])
    assert Path(result.outputs["a"].path) == tmp_path / "a.csv"
    assert Path(result.outputs["b"].path) == tmp_path / "parts" / "b.csv"


def test_a_relative_capture_dir_is_the_folder_in_the_working_directory(
    tracker: Any, tmp_path: Path
) -> None:
    """``capture_dir="outputs"`` captures ``./outputs``, where a tool given that name writes."""

    def tool() -> None:
        Path("outputs").mkdir(exist_ok=True)
        Path("outputs/results.csv").write_text("v\n1\n")
        Path("outputs/log.txt").write_text("not captured")

    result = tracker.run(tool, capture_dir=Path("outputs"), capture_pattern="*.csv")
    assert list(result.outputs) == ["results"]
    assert Path(result.outputs["results"].path) == tmp_path / "outputs" / "results.csv"


def test_capture_outputs_with_a_relative_folder_uses_the_working_directory(
    tracker: Any, tmp_path: Path
) -> None:
    def tool(_consist_ctx: Any) -> None:
        with _consist_ctx.capture_outputs("out", pattern="*.csv"):
            Path("out").mkdir()
            Path("out/summary.csv").write_text("v\n1\n")

    result = tracker.run(tool, inject_context=True)
    assert Path(result.outputs["summary"].path) == tmp_path / "out" / "summary.csv"
