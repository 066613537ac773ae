"""A step whose code changed is never a cache hit: outside git, in an untracked
file, and after an edit and a reload in one long-lived process."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import consist
from consist.services.identity.code_identity import CodeIdentityWarning

DRIVER = """
import json, sys
import consist
from steps import double

with consist.Tracker(sys.argv[1], db_path=sys.argv[2]) as tracker:
    result = tracker.run(double, config={"value": 3})
    print(json.dumps({"hit": result.cache_hit, "code": result.run.signature.code_hash}))
"""
STEPS = """from helpers import scale


def compute(config):
    return scale(config["value"])


def double(config):
    compute(config)
"""
HELPERS = "def scale(x):\n    return x * 2\n"
GIT = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t"]


def _write_project(project: Path) -> None:
    project.mkdir()
    (project / "steps.py").write_text(STEPS)
    (project / "helpers.py").write_text(HELPERS)
    (project / "notes.py").write_text("# not imported by any step\n")
    (project / "drive.py").write_text(DRIVER)


def _isolated_env(tmp_path: Path) -> dict[str, str]:
    """No repository above tmp_path is ever found, whatever the machine has."""
    return {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path)}


def _run_in_fresh_process(project: Path, env: dict[str, str]) -> dict[str, Any]:
    home = project.parent
    done = subprocess.run(
        [sys.executable, "drive.py", str(home / "runs"), str(home / "p.duckdb")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    # A different size as well as a different text: Python's own bytecode
    # cache only compares size and whole-second mtimes.
    path.write_text(text.replace(old, new) + "\n")


def _git(repo: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run([*GIT, *args], cwd=repo, env=env, check=True, capture_output=True)


def test_outside_git_an_edited_step_or_helper_is_a_miss(tmp_path: Path) -> None:
    """No git: the identity is the step's module and the project modules it imports."""
    project = tmp_path / "project"
    _write_project(project)
    env = _isolated_env(tmp_path)
    probe = subprocess.run(["git", "rev-parse"], cwd=project, env=env, capture_output=True)
    assert probe.returncode != 0, "the project must not be inside a git repository"

    first = _run_in_fresh_process(project, env)
    assert first["hit"] is False
    assert first["code"] != "unknown_code_version#double"
    assert _run_in_fresh_process(project, env)["hit"] is True

    _edit(project / "notes.py", "not imported", "still not imported")
    assert _run_in_fresh_process(project, env)["hit"] is True, "an unrelated file counted"

    _edit(project / "steps.py", "scale(config", "1 + scale(config")
    assert _run_in_fresh_process(project, env)["hit"] is False
    assert _run_in_fresh_process(project, env)["hit"] is True

    _edit(project / "helpers.py", "x * 2", "x * 3")
    assert _run_in_fresh_process(project, env)["hit"] is False


def test_untracked_step_module_in_a_git_repository_is_a_miss_when_edited(tmp_path: Path) -> None:
    """Git: a step in a file git does not track still has its edits seen."""
    project = tmp_path / "project"
    _write_project(project)
    env = _isolated_env(tmp_path)
    _git(project, "init", "-q", env=env)
    _git(project, "add", "drive.py", "notes.py", env=env)
    _git(project, "commit", "-qm", "driver only", env=env)

    first = _run_in_fresh_process(project, env)
    assert first["hit"] is False
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, env=env, capture_output=True, text=True
    ).stdout.strip()
    assert first["code"].startswith(f"{head}-untracked-")
    assert _run_in_fresh_process(project, env)["hit"] is True

    _edit(project / "steps.py", "scale(config", "1 + scale(config")
    assert _run_in_fresh_process(project, env)["hit"] is False
    assert _run_in_fresh_process(project, env)["hit"] is True

    _edit(project / "helpers.py", "x * 2", "x * 3")
    assert _run_in_fresh_process(project, env)["hit"] is False


@pytest.fixture
def stale_code_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project directory on sys.path, with its modules unloaded again afterwards."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.syspath_prepend(str(project))
    before = set(sys.modules)
    yield project
    for name in set(sys.modules) - before:
        if str(project) in (getattr(sys.modules[name], "__file__", None) or ""):
            del sys.modules[name]


@pytest.mark.parametrize("in_git", [False, True], ids=["no-git", "git"])
def test_edit_and_reload_in_one_process_is_a_miss(
    stale_code_module: Path, tmp_path: Path, in_git: bool
) -> None:
    """A notebook or autoreload session: each run re-checks the identity."""
    project = stale_code_module
    suffix = uuid.uuid4().hex[:8]
    steps_name, helpers_name = f"stale_steps_{suffix}", f"stale_helpers_{suffix}"
    (project / f"{helpers_name}.py").write_text(HELPERS)
    steps_file = project / f"{steps_name}.py"
    steps_file.write_text(STEPS.replace("from helpers", f"from {helpers_name}"))
    if in_git:
        env = {**os.environ}
        _git(project, "init", "-q", env=env)
        _git(project, "add", ".", env=env)
        _git(project, "commit", "-qm", "steps", env=env)
    steps = importlib.import_module(steps_name)
    helpers = sys.modules[helpers_name]

    with consist.Tracker(tmp_path / "runs", db_path=tmp_path / "p.duckdb") as tracker:

        def run() -> bool:
            return bool(tracker.run(steps.double, config={"value": 3}).cache_hit)

        assert run() is False
        assert run() is True
        steps = importlib.reload(steps)
        assert run() is True, "a reload without an edit is still a hit"

        _edit(steps_file, "scale(config", "1 + scale(config")
        steps = importlib.reload(steps)
        assert steps.compute({"value": 3}) == 7
        assert run() is False
        assert run() is True

        _edit(project / f"{helpers_name}.py", "x * 2", "x * 3")
        importlib.reload(helpers)
        assert run() is False


def test_an_edit_not_yet_reloaded_never_vouches_for_the_new_code(
    stale_code_module: Path, tmp_path: Path
) -> None:
    """Saved but not reloaded: the run is recorded under the code that ran, not the file."""
    project = stale_code_module
    suffix = uuid.uuid4().hex[:8]
    (project / "helpers.py").write_text(HELPERS)
    (project / "steps.py").write_text(STEPS)
    (project / "drive.py").write_text(DRIVER)
    sys.modules.pop("steps", None)
    sys.modules.pop("helpers", None)
    steps = importlib.import_module("steps")
    run_dir, db = tmp_path / "runs", tmp_path / "p.duckdb"
    with consist.Tracker(run_dir, db_path=db) as tracker:
        assert tracker.run(steps.double, config={"value": 3}).cache_hit is False
        _edit(project / "steps.py", "scale(config", "1 + scale(config")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stale = tracker.run(steps.double, config={"value": 3})
        assert stale.cache_hit is False
        assert any(issubclass(w.category, CodeIdentityWarning) for w in caught)
        assert tracker.run(steps.double, config={"value": 3}).cache_hit is True
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path), "STALE_SUFFIX": suffix}
    done = subprocess.run(
        [sys.executable, "drive.py", str(run_dir), str(db)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    assert fresh["hit"] is False, "the edited code was served a result of the old code"


@pytest.mark.parametrize(
    "make",
    [
        lambda body, filename: _exec_def(f"def step():\n    value = {body}\n", filename),
        lambda body, filename: eval(compile(f"lambda: [{body}] and None", filename, "eval")),
    ],
    ids=["exec-def", "lambda"],
)
def test_step_without_source_warns_once_and_is_identified_by_bytecode(
    tmp_path: Path, make: Any
) -> None:
    """No source file at all: one warning, then the function's bytecode is its identity."""
    filename = f"<consist-test-{uuid.uuid4().hex}>"
    step = make("1", filename)
    with consist.Tracker(tmp_path / "runs", db_path=tmp_path / "p.duckdb") as tracker:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert tracker.run(step, name="calc").cache_hit is False
            assert tracker.run(step, name="calc").cache_hit is True
            assert tracker.run(make("1", filename), name="calc").cache_hit is True
            assert tracker.run(make("2", filename), name="calc").cache_hit is False
        ours = [w for w in caught if issubclass(w.category, CodeIdentityWarning)]
        assert len(ours) == 1
        assert "no source file" in str(ours[0].message)


def _exec_def(source: str, filename: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["step"]
