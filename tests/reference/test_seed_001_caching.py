"""seed-001-architecture.md, "How Caching Works": the tables "What Changes Break Cache
Hits?", "Cache Modes" and "Configuration Management", one parametrized test each.

The cache-break rows run the step in a real git repository, each run in a fresh
Python process, so the code identity (commit, ``-dirty-`` diff) is computed anew
as it would be for a researcher re-running a script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import consist
from consist import Tracker

STEP = """\
from pathlib import Path


def summarize(trips, output_paths, config, verbose=False):
    # Count the trips and scale them.
    rows = len(Path(trips).read_text().splitlines()) - 1
    Path(output_paths["summary"]).write_text(f"trips\\n{rows * config['scale']}\\n")
    with open("calls.log", "a") as log:
        log.write("called\\n")
"""

DRIVER = """\
import json
import sys
from pathlib import Path

import consist
from step import summarize

args = json.loads(Path(sys.argv[1]).read_text())
with consist.Tracker(run_dir="runs", db_path="provenance.duckdb") as tracker:
    result = tracker.run(
        summarize,
        inputs={"trips": Path("trips.csv")},
        load_inputs=False,
        config=args["config"],
        runtime_kwargs=args["runtime_kwargs"],
        output_paths={"summary": args["output_name"]},
    )
print(json.dumps({"cache_hit": result.cache_hit, "code_hash": result.run.signature.code_hash}))
"""


class Project:
    """A git repository holding the step, and a working folder where it runs."""

    def __init__(self, root: Path) -> None:
        self.repo = root / "repo"
        self.work = root / "work"
        self.repo.mkdir()
        self.work.mkdir()
        (self.repo / "step.py").write_text(STEP)
        (self.repo / "driver.py").write_text(DRIVER)
        self.git("init", "-q")
        self.commit("the step")
        (self.work / "trips.csv").write_text("trip\n1\n2\n3\n")
        self.args: dict[str, Any] = {
            "config": {"scale": 2},
            "runtime_kwargs": {"verbose": False},
            "output_name": "summary.csv",
        }

    def git(self, *args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
            cwd=self.repo,
            check=True,
            capture_output=True,
        )

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def edit_step(self, old: str, new: str) -> None:
        source = (self.repo / "step.py").read_text()
        assert old in source
        (self.repo / "step.py").write_text(source.replace(old, new))

    def run(self) -> dict[str, Any]:
        """Run the step in a fresh process; its cache_hit and code hash."""
        (self.work / "args.json").write_text(json.dumps(self.args))
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        done = subprocess.run(
            [sys.executable, str(self.repo / "driver.py"), "args.json"],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def calls(self) -> int:
        log = self.work / "calls.log"
        return len(log.read_text().splitlines()) if log.exists() else 0


def change_input(p: Project) -> None:
    (p.work / "trips.csv").write_text("trip\n1\n2\n3\n4\n")


def change_config(p: Project) -> None:
    p.args["config"] = {"scale": 3}


def change_code(p: Project) -> None:
    p.edit_step("rows * config['scale']", "config['scale'] * rows + 0")
    p.commit("scale first")


def change_runtime_kwargs(p: Project) -> None:
    p.args["runtime_kwargs"] = {"verbose": True}


def change_output_name(p: Project) -> None:
    p.args["output_name"] = "totals.csv"


def commit_comment(p: Project) -> None:
    p.edit_step("# Count the trips and scale them.", "# Count every trip, then scale.")
    p.commit("a better comment")


def uncommitted_change(p: Project) -> None:
    p.edit_step("# Count the trips and scale them.", "# Count every trip, then scale.")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "hit"),
    [
        pytest.param(change_input, False, id="input file content"),
        pytest.param(change_config, False, id="config value"),
        pytest.param(change_code, False, id="function code"),
        pytest.param(change_runtime_kwargs, True, id="runtime_kwargs"),
        pytest.param(change_output_name, True, id="output file names"),
        pytest.param(commit_comment, False, id="comments in code: committed"),
        pytest.param(uncommitted_change, False, id="comments in code: uncommitted (dirty)"),
    ],
)
def test_what_breaks_a_cache_hit(
    tmp_path: Path, change: Callable[[Project], None], hit: bool
) -> None:
    """Table "What Changes Break Cache Hits?": each change, then the same step again."""
    project = Project(tmp_path)
    first = project.run()
    assert first["cache_hit"] is False and project.calls() == 1
    assert project.run()["cache_hit"] is True  # unchanged: a hit
    change(project)
    second = project.run()
    assert second["cache_hit"] is hit
    assert project.calls() == (1 if hit else 2)
    if change is uncommitted_change:
        assert "-dirty-" in second["code_hash"]
    if change in (change_code, commit_comment):
        assert second["code_hash"] != first["code_hash"]


# --------------------------------------------------------------------------- cache modes
def _counting_step(calls: list[int]) -> Callable[..., Path]:
    def scale(config: dict[str, int]) -> Path:
        calls.append(1)
        path = Path(f"scaled-{len(calls)}.txt")
        path.write_text(str(config["factor"] * 10))
        return path

    return scale


def reuse(tracker: Any, step: Callable[..., Path], calls: list[int]) -> None:
    result = tracker.run(step, config={"factor": 1}, cache_mode="reuse")
    assert result.cache_hit and len(calls) == 1  # the cached result is returned
    assert len(tracker.find_runs(model="scale")) == 2  # the hit is recorded


def overwrite(tracker: Any, step: Callable[..., Path], calls: list[int]) -> None:
    result = tracker.run(step, config={"factor": 1}, cache_mode="overwrite")
    assert not result.cache_hit and len(calls) == 2  # always executes
    later = tracker.run(step, config={"factor": 1})
    assert later.cache_hit and later.run.cached_from == result.run_id  # the cache is updated
    assert len(calls) == 2


def readonly(tracker: Any, step: Callable[..., Path], calls: list[int]) -> None:
    runs_before = {r.id for r in tracker.find_runs()}
    hit = tracker.run(step, config={"factor": 1}, cache_mode="readonly")
    assert hit.cache_hit and len(calls) == 1  # uses the cache
    miss = tracker.run(step, config={"factor": 2}, cache_mode="readonly")
    assert not miss.cache_hit and len(calls) == 2  # a miss executes (sandbox)
    tracker.flush()
    assert {r.id for r in tracker.find_runs()} == runs_before  # nothing new persisted
    assert not (tracker.run_dir / miss.run_id / "consist.json").exists()
    assert not tracker.run(step, config={"factor": 2}).cache_hit  # the miss left no cache


@pytest.mark.parametrize("mode", [reuse, overwrite, readonly], ids=lambda f: f.__name__)
def test_cache_modes(workdir: Path, mode: Callable[..., None]) -> None:
    """Table "Cache Modes": after one run of the step, the same step under each mode."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    calls: list[int] = []
    step = _counting_step(calls)
    step.__name__ = "scale"
    first = tracker.run(step, config={"factor": 1})
    assert not first.cache_hit and len(calls) == 1
    mode(tracker, step, calls)
    tracker.close()


# ------------------------------------------------------------- configuration strategies
def _step(config: dict[str, Any] | None = None) -> Path:
    path = Path("out.txt")
    path.write_text("done")
    return path


def identity_config(tracker: Any) -> None:
    first = tracker.run(_step, config={"speed": 2, "mode": "car"})
    snapshot = json.loads((tracker.run_dir / first.run_id / "consist.json").read_text())
    assert snapshot["run"]["config"] == {"speed": 2, "mode": "car"}  # in the JSON snapshot
    assert tracker.run(_step, config={"speed": 2, "mode": "car"}).cache_hit
    assert not tracker.run(_step, config={"speed": 3, "mode": "car"}).cache_hit  # affects cache


def facet(tracker: Any) -> None:
    first = tracker.run(_step, facet={"speed": 2, "mode": "car"})
    second = tracker.run(_step, facet={"speed": 3, "mode": "bus"})
    assert not first.cache_hit and second.cache_hit  # does not affect the cache
    tracker.flush()
    rows = consist.run_query(
        "SELECT run_id FROM run_config_kv WHERE key = 'speed' AND value_int = 3",
        tracker=tracker,
    )
    assert rows["run_id"].tolist() == [second.run_id]  # queryable in the catalog
    stored = consist.run_query("SELECT facet FROM config_facet", tracker=tracker)
    assert len(stored) == 2


def hash_inputs(tracker: Any) -> None:
    settings = Path("settings.yaml")
    settings.write_text("scale: 1\n" + "x" * 10_000)
    first = tracker.run(_step, hash_inputs=[settings])
    assert tracker.run(_step, hash_inputs=[settings]).cache_hit
    settings.write_text("scale: 2\n" + "x" * 10_000)
    changed = tracker.run(_step, hash_inputs=[settings])
    assert not changed.cache_hit  # the file's hash affects the cache
    assert first.run.signature.input_hash != changed.run.signature.input_hash
    record = tracker.get_record(changed.run_id)
    assert all("settings" not in a.uri for a in record.artifacts)  # only its hash is kept


@pytest.mark.parametrize(
    "strategy", [identity_config, facet, hash_inputs], ids=lambda f: f.__name__
)
def test_configuration_strategies(workdir: Path, strategy: Callable[[Any], None]) -> None:
    """Table "Configuration Management": config=, facet= and hash_inputs=."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    strategy(tracker)
    tracker.close()
