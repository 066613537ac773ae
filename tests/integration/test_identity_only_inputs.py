"""Inputs that name no parameter of the step are hashed and recorded, not passed."""

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
    pd.DataFrame({"value": [1, 2, 3]}).to_csv("raw.csv", index=False)
    Path("settings.yaml").write_text("scale: 2\n")
    with consist.Tracker(run_dir="./runs", db_path="./provenance.duckdb") as made:
        yield made


def test_an_input_that_is_no_parameter_is_hashed_recorded_and_reachable(
    tracker: Any, tmp_path: Path
) -> None:
    seen: list[Any] = []

    def scale(raw: pd.DataFrame, _consist_ctx: Any) -> pd.DataFrame:
        settings = _consist_ctx.inputs["settings"]
        seen.append((settings.key, settings.path, sorted(_consist_ctx.inputs)))
        factor = int(Path(settings.path).read_text().split(":")[1])
        return raw * factor

    def run() -> Any:
        return tracker.run(
            scale,
            inputs={"raw": Path("raw.csv"), "settings": Path("settings.yaml")},
            outputs=["scaled"],
            inject_context=True,
        )

    first = run()
    assert seen == [("settings", str(tmp_path / "settings.yaml"), ["raw", "settings"])]
    assert consist.load(first.outputs["scaled"])["value"].tolist() == [2, 4, 6]
    recorded = tracker.get_artifacts_for_run(first.run.id).inputs
    assert recorded["settings"].content_hash == tracker.hasher.identity(tmp_path / "settings.yaml")

    assert run().cache_hit and len(seen) == 1
    Path("settings.yaml").write_text("scale: 3\n")  # identity-only, yet part of the signature
    changed = run()
    assert not changed.cache_hit and len(seen) == 2
    assert consist.load(changed.outputs["scaled"])["value"].tolist() == [3, 6, 9]


def test_an_identity_only_input_may_be_an_earlier_output(tracker: Any) -> None:
    upstream = tracker.run(lambda: pd.DataFrame({"x": [1]}), name="up", outputs=["table"])

    def downstream() -> pd.DataFrame:
        return pd.DataFrame({"y": [2]})

    result = tracker.run(downstream, inputs={"table": upstream.outputs["table"]}, outputs=["y"])
    linked = tracker.get_artifacts_for_run(result.run.id).inputs["table"]
    assert linked.id == upstream.outputs["table"].id
