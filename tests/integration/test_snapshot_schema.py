"""Every snapshot Consist writes fits the shipped JSON Schema, so honest publications pull."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

import consist
from consist.services.sharing.pull_checks import check_published, snapshot_schema


def test_the_shipped_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(snapshot_schema())


def test_snapshots_of_every_kind_of_run_fit_the_schema(tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text("v\n1\n2\n")
    with consist.Tracker(tmp_path / "runs", catalog="memory://", code_identity="function") as t:

        def double(raw: Path) -> pd.DataFrame:
            return pd.read_csv(raw) * 2

        with consist.scenario("baseline", tracker=t, config={"fuel": 1.5}, facet={"fuel": 1.5}):
            first = t.run(double, inputs={"raw": raw}, outputs=["doubled"], year=2030,
                          tags=["a"], config={"k": [1, {"x": None}]}, facet={"k": 1},
                          parent_run_id="baseline", load_inputs=False)  # fmt: skip
        hit = t.run(double, inputs={"raw": raw}, outputs=["doubled"], year=2030,
                    config={"k": [1, {"x": None}]}, load_inputs=False)  # fmt: skip
        assert hit.cache_hit
        with pytest.raises(RuntimeError), t.start_run("broken", "fails", note="x"):
            raise RuntimeError("boom")
        with t.start_run("folder", "dir") as run:
            (run.workspace / "out").mkdir()
            (run.workspace / "out" / "a.txt").write_text("a")
            run.log_output(run.workspace / "out", "out", meta={"units": "m"})
        run_ids = [first.run_id, hit.run_id, "baseline", "broken", "folder"]
        paths = {run_id: t.snapshots.path_of(run_id) for run_id in run_ids}
    validator = jsonschema.Draft202012Validator(snapshot_schema())
    for run_id, path in paths.items():
        document = json.loads(path.read_text())
        assert list(validator.iter_errors(document)) == [], run_id
        assert check_published(path.read_bytes(), run_id).run.id == run_id
