"""ctx.capture_outputs called plainly or as a block; path-annotated parameters get paths."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pandas as pd
import pytest

import consist


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    with consist.Tracker(run_dir="runs", db_path="provenance.duckdb") as made:
        yield made


def test_plain_capture_logs_files_changed_since_the_step_began(tracker: Any) -> None:
    """A file written before the step is not captured; new and rewritten ones are."""
    out = Path("out")
    out.mkdir()
    (out / "stale.csv").write_text("old\n")
    (out / "rewritten.csv").write_text("old\n")
    past = time.time() - 60
    for name in ("stale.csv", "rewritten.csv"):
        os.utime(out / name, (past, past))

    def tool(ctx: Any) -> None:
        (out / "fresh.csv").write_text("new\n")
        (out / "rewritten.csv").write_text("new\n")
        (out / "fresh.txt").write_text("not matched\n")
        captured = ctx.capture_outputs(out, pattern="*.csv")
        assert sorted(captured) == ["fresh", "rewritten"]

    result = tracker.run(tool, inject_context="ctx")
    assert sorted(result.outputs) == ["fresh", "rewritten"]


def test_capture_block_returns_what_it_logged(tracker: Any) -> None:
    """``with ctx.capture_outputs(dir) as captured`` logs files written in the block."""

    def tool(ctx: Any) -> None:
        Path("out").mkdir()
        with ctx.capture_outputs("out") as captured:
            Path("out/a.csv").write_text("1\n")
        assert list(captured) == ["a"]

    assert list(tracker.run(tool, inject_context="ctx").outputs) == ["a"]


def test_path_annotated_parameters_receive_the_path_under_load_inputs(tracker: Any) -> None:
    """Path, str, Optional[Path] and os.PathLike parameters get the file; others the data."""
    Path("t.csv").write_text("x\n1\n")
    seen: dict[str, Any] = {}

    def step(
        as_path: Path,
        as_str: str,
        maybe: Optional[Path],  # noqa: UP045 - the typing form is what is checked
        like: os.PathLike[str],
        loaded: pd.DataFrame,
        bare,  # type: ignore[no-untyped-def]
    ) -> None:
        seen.update(
            as_path=as_path, as_str=as_str, maybe=maybe, like=like, loaded=loaded, bare=bare
        )

    names = ["as_path", "as_str", "maybe", "like", "loaded", "bare"]
    tracker.run(step, inputs={n: Path("t.csv") for n in names}, load_inputs=True)
    for name in ("as_path", "as_str", "maybe", "like"):
        assert Path(seen[name]).name == "t.csv", name
    assert isinstance(seen["loaded"], pd.DataFrame)
    assert isinstance(seen["bare"], pd.DataFrame)
