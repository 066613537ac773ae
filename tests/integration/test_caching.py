"""The caching engine: never re-run unchanged work, never serve a wrong hit."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import BaseModel

import consist
from consist.domain.errors import (
    ConfigNotSerializable,
    InvalidCacheMode,
    InvalidInput,
    MissingFile,
    MissingOutputFile,
)


class Counter:
    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def counter() -> Counter:
    return Counter()


def make_clean(counter: Counter) -> Any:
    def clean(raw: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
        counter.calls += 1
        return raw[raw["value"] >= config["threshold"]]

    return clean


def run_clean(tracker: Any, fn: Any, data_dir: Path, threshold: float = 0.5, **kw: Any) -> Any:
    return tracker.run(
        fn,
        name="clean",
        inputs={"raw": data_dir / "raw.csv"},
        config={"threshold": threshold},
        outputs=["cleaned"],
        **kw,
    )


def test_second_identical_run_is_a_hit_and_skips_the_function(
    tracker: Any, data_dir: Path, counter: Counter
) -> None:
    clean = make_clean(counter)
    first = run_clean(tracker, clean, data_dir)
    second = run_clean(tracker, clean, data_dir)
    assert (first.cache_hit, second.cache_hit, counter.calls) == (False, True, 1)
    assert second.cached_from == first.run.id
    assert second.outputs["cleaned"].id == first.outputs["cleaned"].id
    assert second.run.cache_hit and second.run.id != first.run.id
    assert consist.load(second.outputs["cleaned"], tracker=tracker)["value"].tolist() == [0.6, 0.9]


def test_changing_one_input_byte_is_a_miss(tracker: Any, data_dir: Path, counter: Counter) -> None:
    clean = make_clean(counter)
    run_clean(tracker, clean, data_dir)
    raw = data_dir / "raw.csv"
    raw.write_text(raw.read_text().replace("0.9", "0.8"))
    assert not run_clean(tracker, clean, data_dir).cache_hit
    assert counter.calls == 2


def test_changing_one_config_value_is_a_miss_and_explain_names_it(
    tracker: Any, data_dir: Path, counter: Counter
) -> None:
    clean = make_clean(counter)
    run_clean(tracker, clean, data_dir, threshold=0.5)
    changed = run_clean(tracker, clean, data_dir, threshold=0.7)
    assert not changed.cache_hit
    explanation = tracker.explain(changed.run)
    assert explanation.changed_parts == ("config",)
    assert explanation.changed_config_keys == ["threshold"]
    assert "threshold: 0.5 -> 0.7" in str(explanation)


def _function_from_source(source: str) -> Any:
    namespace: dict[str, Any] = {}
    path = Path(__file__).parent / "_generated_steps.py"
    code = compile(textwrap.dedent(source), str(path), "exec")
    exec(code, namespace)
    return namespace["step"]


def test_function_identity_ignores_comments_but_not_body(
    make_tracker: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """code_identity='function': a comment or docstring is a hit, a changed body a miss."""
    import inspect

    sources = {
        "v1": 'def step(raw):\n    return raw["value"].sum()\n',
        "comment": (
            'def step(raw):\n    """Doc."""\n    # a comment\n    return raw["value"].sum()\n'
        ),
        "body": 'def step(raw):\n    return raw["value"].max()\n',
    }
    tracker = make_tracker(code_identity="function")
    results = {}
    for label, source in sources.items():
        fn = _function_from_source(source)
        monkeypatch.setattr(inspect, "getsource", lambda obj, s=source: s)
        results[label] = tracker.run(
            fn, name="step", inputs={"raw": data_dir / "raw.csv"}, outputs=["total"]
        ).cache_hit
    assert results == {"v1": False, "comment": True, "body": False}


def test_runtime_kwargs_and_output_names_do_not_count(
    tracker: Any, data_dir: Path, counter: Counter
) -> None:
    def write(raw: Path, label: str, output_paths: dict[str, Path]) -> None:
        counter.calls += 1
        for path in output_paths.values():
            path.write_text(label)

    common = dict(name="write", inputs={"raw": data_dir / "raw.csv"}, load_inputs=False)
    first = tracker.run(
        write, runtime_kwargs={"label": "a"}, output_paths={"out": "one.txt"}, **common
    )
    second = tracker.run(
        write, runtime_kwargs={"label": "b"}, output_paths={"out": "two.txt"}, **common
    )
    assert (first.cache_hit, second.cache_hit, counter.calls) == (False, True, 1)


def test_merkle_upstream_change_invalidates_downstream(
    tracker: Any, data_dir: Path, counter: Counter
) -> None:
    """Downstream identity is the upstream run's signature, not the bytes alone."""
    clean = make_clean(counter)

    def summarize(cleaned: pd.DataFrame) -> pd.DataFrame:
        counter.calls += 10
        return cleaned.describe()

    def pipeline(threshold: float) -> tuple[bool, bool]:
        up = run_clean(tracker, clean, data_dir, threshold=threshold)
        down = tracker.run(
            summarize, inputs={"cleaned": up.outputs["cleaned"]}, outputs=["summary"]
        )
        return up.cache_hit, down.cache_hit

    assert pipeline(0.5) == (False, False)
    assert pipeline(0.5) == (True, True)
    assert pipeline(0.7) == (False, False)
    assert counter.calls == 22


def test_failed_run_never_serves_a_hit(tracker: Any, data_dir: Path) -> None:
    attempts = []

    def flaky(raw: pd.DataFrame) -> pd.DataFrame:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("transient")
        return raw

    with pytest.raises(RuntimeError):
        tracker.run(flaky, inputs={"raw": data_dir / "raw.csv"}, outputs=["out"])
    result = tracker.run(flaky, inputs={"raw": data_dir / "raw.csv"}, outputs=["out"])
    assert not result.cache_hit and len(attempts) == 2


def test_overwrite_always_executes(tracker: Any, data_dir: Path, counter: Counter) -> None:
    clean = make_clean(counter)
    run_clean(tracker, clean, data_dir)
    again = run_clean(tracker, clean, data_dir, cache_mode="overwrite")
    assert not again.cache_hit and counter.calls == 2
    assert run_clean(tracker, clean, data_dir).cached_from == again.run.id


def test_readonly_uses_hits_and_persists_nothing(
    tracker: Any, data_dir: Path, counter: Counter
) -> None:
    clean = make_clean(counter)
    before = set(p.name for p in tracker.run_dir.iterdir())
    miss = run_clean(tracker, clean, data_dir, cache_mode="readonly")
    assert not miss.cache_hit and counter.calls == 1
    assert set(p.name for p in tracker.run_dir.iterdir()) == before
    assert tracker.find_runs() == []
    run_clean(tracker, clean, data_dir)
    runs_before = len(tracker.find_runs())
    hit = run_clean(tracker, clean, data_dir, cache_mode="readonly")
    assert hit.cache_hit and counter.calls == 2
    assert len(tracker.find_runs()) == runs_before


@pytest.mark.parametrize("mode", ["sometimes", "", "REUSE"])
def test_invalid_cache_mode_is_a_clear_error(tracker: Any, data_dir: Path, mode: str) -> None:
    with pytest.raises(InvalidCacheMode, match="reuse"):
        run_clean(tracker, make_clean(Counter()), data_dir, cache_mode=mode)


def test_unserialisable_config_is_a_clear_error(tracker: Any, data_dir: Path) -> None:
    with pytest.raises(ConfigNotSerializable, match=r"config\.solver"):
        tracker.run(
            make_clean(Counter()),
            inputs={"raw": data_dir / "raw.csv"},
            config={"threshold": 1, "solver": object()},
        )


def test_outputs_requested_hydration_copies_named_outputs(
    tracker: Any, data_dir: Path, tmp_path: Path
) -> None:
    clean = make_clean(Counter())
    run_clean(tracker, clean, data_dir)
    target = tmp_path / "here" / "cleaned.parquet"
    hit = run_clean(
        tracker,
        clean,
        data_dir,
        cache_hydration="outputs-requested",
        hydration_paths={"cleaned": target},
    )
    assert hit.cache_hit and hit.hydrated == {"cleaned": target}
    assert pd.read_parquet(target)["value"].tolist() == [0.6, 0.9]


def test_outputs_all_hydration_copies_everything(
    tracker: Any, data_dir: Path, tmp_path: Path
) -> None:
    def two(raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
        return {"low": raw.head(1), "high": raw.tail(1)}

    tracker.run(two, inputs={"raw": data_dir / "raw.csv"})
    hit = tracker.run(
        two,
        inputs={"raw": data_dir / "raw.csv"},
        cache_hydration="outputs-all",
        hydration_dir=tmp_path / "all",
    )
    assert hit.cache_hit
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["high.parquet", "low.parquet"]


def test_inputs_missing_backfills_inputs_before_executing(
    make_tracker: Any, data_dir: Path, tmp_path: Path
) -> None:
    """Upstream outputs deleted from the run dir are restored from another copy."""
    tracker = make_tracker()
    up = run_clean(tracker, make_clean(Counter()), data_dir)
    art = up.outputs["cleaned"]
    path = tracker.resolve_path(art)
    spare = tmp_path / "spare.parquet"
    spare.write_bytes(path.read_bytes())
    with tracker.start_run("copy", model="archive"):
        consist.log_artifact(spare, key="spare", direction="output")
    path.unlink()

    def count(cleaned: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"n": [len(cleaned)]})

    with pytest.raises(MissingFile):
        tracker.run(count, inputs={"cleaned": art}, outputs=["n"])
    result = tracker.run(
        count, inputs={"cleaned": art}, outputs=["n"], cache_hydration="inputs-missing"
    )
    assert path.exists()
    assert consist.load(result.outputs["n"], tracker=tracker)["n"].tolist() == [2]


def test_strict_validation_reexecutes_when_outputs_were_deleted(
    tracker: Any, data_dir: Path, counter: Counter
) -> None:
    """Ghost mode: lazy returns the dangling hit, strict regenerates the file."""
    clean = make_clean(counter)
    first = run_clean(tracker, clean, data_dir)
    tracker.resolve_path(first.outputs["cleaned"]).unlink()
    lazy = run_clean(tracker, clean, data_dir)
    assert lazy.cache_hit and counter.calls == 1
    with pytest.raises(MissingFile, match="strict"):
        consist.load(lazy.outputs["cleaned"], tracker=tracker)
    strict = run_clean(tracker, clean, data_dir, validate_cached_outputs="strict")
    assert not strict.cache_hit and counter.calls == 2
    assert consist.load(strict.outputs["cleaned"], tracker=tracker)["value"].tolist() == [0.6, 0.9]


def test_define_step_defaults_and_pydantic_config(tracker: Any, data_dir: Path) -> None:
    class Cfg(BaseModel):
        threshold: float = 0.5

    @tracker.define_step(outputs=["cleaned"])
    def clean_step(raw: pd.DataFrame, config: Cfg) -> pd.DataFrame:
        return raw[raw["value"] >= config.threshold]

    first = tracker.run(clean_step, inputs={"raw": data_dir / "raw.csv"}, config=Cfg())
    assert set(first.outputs) == {"cleaned"}
    assert first.run.model == "clean_step"
    assert tracker.run(
        clean_step, inputs={"raw": data_dir / "raw.csv"}, config={"threshold": 0.5}
    ).cache_hit


def test_injected_context_and_capture(tracker: Any, data_dir: Path) -> None:
    def legacy(raw_file: Path, _consist_ctx: Any) -> None:
        assert isinstance(raw_file, Path)
        out = _consist_ctx.run_dir / "legacy"
        out.mkdir()
        with _consist_ctx.capture_outputs(out, pattern="*.csv"):
            (out / "results.csv").write_text("a\n1\n")
            (out / "notes.txt").write_text("ignored")
        _consist_ctx.log_output(out / "notes.txt", key="notes")

    result = tracker.run(
        legacy, inputs={"raw_file": data_dir / "raw.csv"}, load_inputs=False, inject_context=True
    )
    assert set(result.outputs) == {"results", "notes"}


def test_capture_dir_collects_files_a_tool_writes(tracker: Any, tmp_path: Path) -> None:
    outdir = tmp_path / "tool-out"
    outdir.mkdir()
    (outdir / "old.csv").write_text("stale")

    def tool() -> None:
        (outdir / "a.csv").write_text("1")
        (outdir / "b.csv").write_text("2")

    result = tracker.run(tool, capture_dir=outdir, capture_pattern="*.csv")
    assert set(result.outputs) == {"a", "b"}


def test_depends_on_and_hash_inputs_count(tracker: Any, data_dir: Path, tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("a: 1\n")

    def step() -> None:
        return None

    assert not tracker.run(step, depends_on=[settings]).cache_hit
    assert tracker.run(step, depends_on=[settings]).cache_hit
    settings.write_text("a: 2\n")
    assert not tracker.run(step, depends_on=[settings]).cache_hit
    assert not tracker.run(step, hash_inputs=[settings]).cache_hit


def test_declared_output_not_produced_is_an_error(tracker: Any) -> None:
    def nothing() -> None:
        return None

    with pytest.raises(MissingOutputFile, match="summary"):
        tracker.run(nothing, outputs=["summary"])


def test_unknown_input_parameter_is_named(tracker: Any, data_dir: Path) -> None:
    """A misspelt input is identity-only; the parameter it left empty is named, and the key."""

    def step(raw: pd.DataFrame) -> None:
        return None

    with pytest.raises(InvalidInput, match=r"\['raw'\].*\['typo'\]"):
        tracker.run(step, inputs={"typo": data_dir / "raw.csv"})


def test_consist_run_uses_the_active_tracker(tracker: Any, data_dir: Path) -> None:
    clean = make_clean(Counter())
    with consist.use_tracker(tracker):
        result = consist.run(
            clean,
            inputs={"raw": data_dir / "raw.csv"},
            config={"threshold": 0.5},
            outputs=["cleaned"],
        )
    assert tracker.get_run(result.run.id).model == "clean"


def test_explicit_run_id_rerun_returns_the_same_run(tracker: Any, data_dir: Path) -> None:
    clean = make_clean(Counter())
    first = run_clean(tracker, clean, data_dir, run_id="clean_2030")
    again = run_clean(tracker, clean, data_dir, run_id="clean_2030")
    assert again.cache_hit and again.run.id == first.run.id == "clean_2030"
