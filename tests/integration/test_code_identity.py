"""Code identity: which files a step's identity covers, and when it is computed again."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import consist
from consist.domain import UNKNOWN_CODE_VERSION
from consist.services.identity import code_files, code_identity, git_state

GIT = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t"]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_closure_follows_project_imports_and_nothing_installed(tmp_path: Path) -> None:
    """Project modules count however imported; stdlib and site-packages never do."""
    project = tmp_path / "project"
    installed = project / ".venv" / "lib" / "python3.11" / "site-packages"
    _write(installed / "fakepkg" / "__init__.py", "")
    _write(project / "app" / "__init__.py", "")
    steps = _write(
        project / "app" / "steps.py",
        "import os\nimport json as j\nfrom . import util\nfrom .sub import deep\n"
        "import app.other\nfrom app import thing\nimport fakepkg\n\n"
        "def step():\n    from app import late\n",
    )
    for name in ("util", "other", "thing", "late", "unused"):
        _write(project / "app" / f"{name}.py", "")
    _write(project / "app" / "sub" / "__init__.py", "")
    _write(project / "app" / "sub" / "deep.py", "")

    project_info = code_files.project_of(os.path.realpath(steps))
    found = code_files.closure(os.path.realpath(steps), project_info)
    assert found is not None
    names = sorted(project_info.relative(f.stamp.path) for f in found)
    assert names == [
        "app/__init__.py",
        "app/late.py",
        "app/other.py",
        "app/steps.py",
        "app/sub/__init__.py",
        "app/sub/deep.py",
        "app/thing.py",
        "app/util.py",
    ]


def test_a_project_module_loaded_from_outside_sys_path_still_counts(
    code_identity_project: Path,
) -> None:
    """An import hook or a later sys.path change: Python's own record of the file is used."""
    project = code_identity_project
    name = f"hooked_{uuid.uuid4().hex[:8]}"
    library = _write(project / "lib" / f"{name}.py", "def helper():\n    return 1\n")
    spec = importlib.util.spec_from_file_location(name, library)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
        module = _import_fresh(project, f"from {name} import helper\n\ndef step():\n    helper()\n")
        before = code_identity.default_identity(module.step)
        library.write_text("def helper():\n    return 2\n\n")
        assert code_identity.default_identity(module.step) != before
    finally:
        del sys.modules[name]


def test_an_edit_within_one_mtime_tick_and_same_size_is_still_seen(tmp_path: Path) -> None:
    """A recently written file is re-hashed, not trusted by its stat alone."""
    path = _write(tmp_path / "m.py", "x = 1\n")
    first = code_files.source_file(str(path))
    stat = path.stat()
    path.write_text("x = 2\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = code_files.source_file(str(path))
    assert first is not None and second is not None
    assert first.stamp == second.stamp
    assert first.digest != second.digest


@pytest.fixture
def code_identity_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.syspath_prepend(str(project))
    return project


def _import_fresh(project: Path, source: str) -> Any:
    name = f"code_identity_case_{uuid.uuid4().hex[:8]}"
    _write(project / f"{name}.py", source)
    return importlib.import_module(name)


def test_an_unchanged_step_is_not_asked_of_git_again(
    code_identity_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-check is a stat per file: git runs only when something moved."""
    project = code_identity_project
    subprocess.run([*GIT, "init", "-q"], cwd=project, check=True)
    module = _import_fresh(project, "def step():\n    return None\n")
    first = code_identity.default_identity(module.step)
    calls: list[tuple[str, ...]] = []
    real = git_state.run_git

    def counting(directory: Any, *args: str, raw: bool = False) -> str | None:
        calls.append(args)
        return real(directory, *args, raw=raw)

    monkeypatch.setattr(git_state, "run_git", counting)
    assert code_identity.default_identity(module.step) == first
    assert calls == []
    Path(module.__file__).write_text("def step():\n    return 1\n")
    module = importlib.reload(module)
    assert code_identity.default_identity(module.step) != first
    assert calls, "an edit must be looked at again"


def test_a_committed_comment_is_a_miss_under_git(code_identity_project: Path) -> None:
    """Seed 001: committed comment changes change the code hash; uncommitted ones mark it dirty."""
    project = code_identity_project
    module = _import_fresh(project, "def step():\n    return None\n")
    subprocess.run([*GIT, "init", "-q"], cwd=project, check=True)
    subprocess.run([*GIT, "add", "."], cwd=project, check=True)
    subprocess.run([*GIT, "commit", "-qm", "one"], cwd=project, check=True)
    committed = code_identity.default_identity(module.step)
    assert "-dirty-" not in committed and "-untracked-" not in committed

    Path(module.__file__).write_text("# a comment\ndef step():\n    return None\n")
    dirty = code_identity.default_identity(module.step)
    assert dirty.startswith(f"{committed}-dirty-")

    subprocess.run([*GIT, "commit", "-qam", "comment"], cwd=project, check=True)
    recommitted = code_identity.default_identity(module.step)
    assert recommitted not in (committed, dirty)
    assert "-dirty-" not in recommitted


def test_a_manual_run_outside_git_is_identified_by_the_code_that_opened_it(
    code_identity_project: Path, tmp_path: Path
) -> None:
    """start_run has no step function: the module holding the block is its code."""
    source = (
        "def log(tracker):\n"
        "    with tracker.start_run('manual-{n}', model='manual'):\n"
        "        pass\n"
    )
    module = _import_fresh(code_identity_project, source.format(n=1))
    with consist.Tracker(tmp_path / "runs", catalog="memory://") as tracker:
        module.log(tracker)
        first = tracker.get_run("manual-1").signature.code_hash
        assert first.startswith("files:")
        Path(module.__file__).write_text(source.format(n=2) + "\n")
        module = importlib.reload(module)
        module.log(tracker)
        assert tracker.get_run("manual-2").signature.code_hash != first


def test_git_identity_label_is_unknown_only_outside_git(code_identity_project: Path) -> None:
    """The checkpoint/provenance label keeps its old form; step identities never do."""
    assert code_identity.git_identity(code_identity_project) == UNKNOWN_CODE_VERSION
    module = _import_fresh(code_identity_project, "def step():\n    return None\n")
    hashed = code_identity.code_hash("git", module.step, code_identity_project)
    assert hashed.startswith("files:")


def test_modules_under_the_tracker_project_dir_count(
    code_identity_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library beside the step's folder, imported through sys.path, counts under project_dir."""
    project = code_identity_project
    name = f"sibling_{uuid.uuid4().hex[:8]}"
    library = _write(project / "lib" / f"{name}.py", "def helper():\n    return 1\n")
    monkeypatch.syspath_prepend(str(project / "lib"))
    steps_dir = project / "scripts"
    monkeypatch.syspath_prepend(str(steps_dir))
    module = _import_fresh(steps_dir, f"from {name} import helper\n\ndef step():\n    helper()\n")
    with consist.Tracker(tmp_path / "runs", catalog="memory://", project_dir=project) as tracker:
        assert tracker.run(module.step).cache_hit is False
        assert tracker.run(module.step).cache_hit is True
        library.write_text("def helper():\n    return 2\n\n")
        assert tracker.run(module.step).cache_hit is False
