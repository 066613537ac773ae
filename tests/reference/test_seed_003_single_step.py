"""Seed 003 (usage guide), Pattern 1: single-step runs with ``consist.run``.

Each test is one example of ``../shared/reference/seed-003-usage-guide-patterns.md``
run as written; only the context it assumes (``raw.csv``, the ``legacy_model``
module, the config files it hashes) is added around it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist import Tracker, use_tracker

RAW = pd.DataFrame(
    {
        "value": [0.1, 0.4, 0.5, 0.6, 0.8, 0.9, 1.2, 2.0, 3.0, 50.0],
        "category": ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"],
    }
)

LEGACY_MODEL = '''
"""A stand-in for a black-box tool: writes CSV files into a folder it is given."""
from pathlib import Path

calls = []


def run(upstream, output_dir):
    calls.append(output_dir)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    upstream.assign(value=upstream["value"] * 2).to_csv(out / "results.csv", index=False)
    upstream.describe().to_csv(out / "summary.csv")
    (out / "notes.txt").write_text("not a csv, not captured")
'''


@pytest.fixture
def raw_csv(workdir: Path) -> Path:
    """The ``raw.csv`` the examples read: a ``value`` and a ``category`` column."""
    RAW.to_csv(workdir / "raw.csv", index=False)
    return workdir / "raw.csv"


@pytest.fixture
def legacy_model(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real ``legacy_model`` module on sys.path, plus the files the examples hash."""
    (workdir / "legacy_model.py").write_text(LEGACY_MODEL)
    monkeypatch.syspath_prepend(str(workdir))
    monkeypatch.delitem(sys.modules, "legacy_model", raising=False)
    RAW.to_csv(workdir / "input.csv", index=False)
    (workdir / "config.yaml").write_text("scale: 2\n")
    (workdir / "parameters.json").write_text('{"alpha": 1}\n')
    import legacy_model as module

    return module


def test_simple_example_data_cleaning(raw_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Quick start: the step runs, its output loads after the block, a second run is a hit."""
    calls = []

    # -- the example, as written --------------------------------------------------
    import consist
    from consist import Tracker, use_tracker
    from pathlib import Path
    import pandas as pd

    # 1. Create tracker
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    # 2. Define your function
    def clean_data(raw: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
        calls.append(threshold)  # (context: counts executions)
        df = raw[raw["value"] > threshold]  # Filter
        return df

    # 3. Run it with tracker context
    with use_tracker(tracker):
        result = consist.run(
            fn=clean_data,
            inputs={"raw": Path("raw.csv")},
            config={"threshold": 0.5},  # Part of cache key
            outputs=["cleaned"],
        )

    # 4. Access results
    cleaned_artifact = result.outputs["cleaned"]
    cleaned_df = consist.load(cleaned_artifact)
    print(f"Output: {cleaned_artifact.path}")
    # -----------------------------------------------------------------------------

    assert calls == [0.5]
    assert not result.cache_hit
    expected = RAW[RAW["value"] > 0.5]
    pd.testing.assert_frame_equal(cleaned_df, expected)
    assert Path(cleaned_artifact.path).is_file()
    assert Path(cleaned_artifact.path).is_relative_to(raw_csv.parent / "runs")
    assert capsys.readouterr().out == f"Output: {cleaned_artifact.path}\n"

    # "Run it again with the same inputs and config -> instant cache hit, no re-execution."
    with use_tracker(tracker):
        again = consist.run(
            fn=clean_data,
            inputs={"raw": Path("raw.csv")},
            config={"threshold": 0.5},
            outputs=["cleaned"],
        )
    assert again.cache_hit
    assert calls == [0.5]
    pd.testing.assert_frame_equal(consist.load(again.outputs["cleaned"]), expected)
    tracker.close()


def test_alternative_keep_raw_file_paths(raw_csv: Path) -> None:
    """``load_inputs=False``: the function gets a Path and logs its own output."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    received = []

    # -- the example, as written --------------------------------------------------
    def clean_data(raw_file: Path, _consist_ctx) -> None:
        received.append(raw_file)  # (context: what the function was given)
        df = pd.read_csv(raw_file)
        out_path = _consist_ctx.run_dir / "cleaned.parquet"
        df.to_parquet(out_path)
        _consist_ctx.log_output(out_path, key="cleaned")

    with use_tracker(tracker):
        result = consist.run(
            fn=clean_data,
            inputs={"raw_file": Path("raw.csv")},  # hashed input
            load_inputs=False,
            runtime_kwargs={"raw_file": Path("raw.csv")},
            inject_context=True,
        )
    # -----------------------------------------------------------------------------

    assert received == [Path("raw.csv")]
    cleaned = result.outputs["cleaned"]
    assert Path(cleaned.path) == tracker.run_dir / result.run.id / "cleaned.parquet"
    pd.testing.assert_frame_equal(consist.load(cleaned), RAW)
    links = tracker.get_artifacts_for_run(result.run.id)
    assert list(links.inputs) == ["raw_file"]
    assert links.inputs["raw_file"].content_hash == tracker.hasher.identity(raw_csv)

    # The hashed input is the cache key: the same file again is a hit, an edit is not.
    with use_tracker(tracker):
        hit = consist.run(
            fn=clean_data,
            inputs={"raw_file": Path("raw.csv")},
            load_inputs=False,
            runtime_kwargs={"raw_file": Path("raw.csv")},
            inject_context=True,
        )
    assert hit.cache_hit and len(received) == 1
    RAW.head(3).to_csv(raw_csv, index=False)
    with use_tracker(tracker):
        miss = consist.run(
            fn=clean_data,
            inputs={"raw_file": Path("raw.csv")},
            load_inputs=False,
            runtime_kwargs={"raw_file": Path("raw.csv")},
            inject_context=True,
        )
    assert not miss.cache_hit and len(received) == 2
    tracker.close()


def test_example_with_config(raw_csv: Path) -> None:
    """A pydantic config reaches the function and is the cache key: each threshold its own run."""
    calls = []

    # -- the example, as written --------------------------------------------------
    import consist
    from consist import Tracker, use_tracker
    from pydantic import BaseModel
    from pathlib import Path
    import pandas as pd

    class CleaningConfig(BaseModel):
        threshold: float = 0.5
        remove_outliers: bool = True

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    def clean_data(raw: pd.DataFrame, config: CleaningConfig) -> pd.DataFrame:
        calls.append(config)  # (context: counts executions)
        df = raw
        df = df[df["value"] >= config.threshold]
        if config.remove_outliers:
            df = df[df["value"] < df["value"].quantile(0.95)]
        return df

    with use_tracker(tracker):
        result = consist.run(
            fn=clean_data,
            inputs={"raw": Path("raw.csv")},
            config=CleaningConfig(threshold=0.5, remove_outliers=True),
            outputs=["cleaned"],
        )
    # -----------------------------------------------------------------------------

    assert calls == [CleaningConfig(threshold=0.5, remove_outliers=True)]
    kept = RAW[RAW["value"] >= 0.5]
    kept = kept[kept["value"] < kept["value"].quantile(0.95)]
    pd.testing.assert_frame_equal(consist.load(result.outputs["cleaned"]), kept)
    assert result.run.config == {"threshold": 0.5, "remove_outliers": True}

    # "Each distinct config -> separate cache entries. Change the threshold? Only that run
    # re-executes."
    def again(threshold: float) -> Any:
        with use_tracker(tracker):
            return consist.run(
                fn=clean_data,
                inputs={"raw": Path("raw.csv")},
                config=CleaningConfig(threshold=threshold, remove_outliers=True),
                outputs=["cleaned"],
            )

    assert again(0.5).cache_hit and len(calls) == 1
    changed = again(0.8)
    assert not changed.cache_hit and len(calls) == 2
    assert changed.run.signature.config_hash != result.run.signature.config_hash
    assert again(0.8).cache_hit and again(0.5).cache_hit and len(calls) == 2
    tracker.close()


def test_wrapping_legacy_tools_with_capture_outputs(legacy_model: Any) -> None:
    """Files the tool writes in the block are outputs keyed by stem; depends_on is hashed."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    # -- the example, as written --------------------------------------------------
    from pathlib import Path

    def run_legacy_model(upstream, _consist_ctx) -> None:
        import legacy_model

        output_dir = _consist_ctx.run_dir / "legacy_outputs"
        output_dir.mkdir(parents=True, exist_ok=True)
        with _consist_ctx.capture_outputs(output_dir, pattern="*.csv"):
            legacy_model.run(upstream, output_dir=output_dir)

    with use_tracker(tracker):
        result = consist.run(
            fn=run_legacy_model,
            inputs={"upstream": Path("input.csv")},
            depends_on=[Path("config.yaml"), Path("parameters.json")],  # Hash these files too
            inject_context=True,
        )
    # -----------------------------------------------------------------------------

    out_dir = tracker.run_dir / result.run.id / "legacy_outputs"
    assert legacy_model.calls == [out_dir]
    # "Captured outputs are keyed by filename stem (results.csv -> results)"; *.csv only.
    assert sorted(result.outputs) == ["results", "summary"]
    assert Path(result.outputs["results"].path) == out_dir / "results.csv"
    pd.testing.assert_frame_equal(
        consist.load(result.outputs["results"]), RAW.assign(value=RAW["value"] * 2)
    )

    def again() -> Any:
        with use_tracker(tracker):
            return consist.run(
                fn=run_legacy_model,
                inputs={"upstream": Path("input.csv")},
                depends_on=[Path("config.yaml"), Path("parameters.json")],
                inject_context=True,
            )

    assert again().cache_hit and len(legacy_model.calls) == 1
    # "changing config.yaml invalidates the cache"
    Path("config.yaml").write_text("scale: 3\n")
    assert not again().cache_hit and len(legacy_model.calls) == 2
    Path("parameters.json").write_text('{"alpha": 2}\n')
    assert not again().cache_hit and len(legacy_model.calls) == 3
    tracker.close()


def test_alternative_capture_a_fixed_output_directory(legacy_model: Any, workdir: Path) -> None:
    """``capture_dir=Path("outputs")`` is the folder the tool wrote, relative to the cwd."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    # -- the example, as written --------------------------------------------------
    with use_tracker(tracker):

        def run_legacy_model(upstream) -> None:
            import legacy_model

            legacy_model.run(upstream, output_dir="outputs")

        result = consist.run(
            fn=run_legacy_model,
            inputs={"upstream": Path("input.csv")},  # auto-loaded into the upstream arg
            depends_on=[Path("config.yaml")],
            capture_dir=Path("outputs"),
            capture_pattern="*.csv",
        )
    # -----------------------------------------------------------------------------

    assert legacy_model.calls == ["outputs"]
    assert sorted(result.outputs) == ["results", "summary"]
    assert Path(result.outputs["results"].path) == workdir / "outputs" / "results.csv"
    pd.testing.assert_frame_equal(
        consist.load(result.outputs["results"]), RAW.assign(value=RAW["value"] * 2)
    )
    with use_tracker(tracker):
        hit = consist.run(
            fn=run_legacy_model,
            inputs={"upstream": Path("input.csv")},
            depends_on=[Path("config.yaml")],
            capture_dir=Path("outputs"),
            capture_pattern="*.csv",
        )
    assert hit.cache_hit and len(legacy_model.calls) == 1
    assert sorted(hit.outputs) == ["results", "summary"]
    tracker.close()
