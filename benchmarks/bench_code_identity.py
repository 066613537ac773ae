"""Code identity figures: what a run pays to know its step's code has not changed.

- re-check of an unchanged step (30 project modules imported), in git and
  outside git (target <= 1 ms median; it is a ``stat`` per file);
- the first computation in a process, and after an edit (no target: git
  subprocesses, once per change);
- a cache hit end to end with the default ``code_identity="git"`` against a
  fixed version label, on one tracker (target <= 3 ms median).
"""

from __future__ import annotations

import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import report, time_calls

MODULES = 30
GIT = ["git", "-c", "user.email=b@example.org", "-c", "user.name=b"]


def _project(root: Path, package: str, in_git: bool) -> Any:
    """A package of MODULES helpers, a step importing them all; returns the step."""
    folder = root / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    for i in range(MODULES):
        (folder / f"helper_{i}.py").write_text(f"def helper():\n    return {i}\n")
    imports = "\n".join(f"from {package} import helper_{i}" for i in range(MODULES))
    (folder / "steps.py").write_text(f"{imports}\n\n\ndef step(raw):\n    return None\n")
    if in_git:
        subprocess.run([*GIT, "init", "-q"], cwd=root, check=True)
        subprocess.run([*GIT, "add", "."], cwd=root, check=True)
        subprocess.run([*GIT, "commit", "-qm", "bench"], cwd=root, check=True)
        (folder / "helper_untracked.py").write_text("x = 1\n")
        with open(folder / "steps.py", "a") as handle:
            handle.write(f"from {package} import helper_untracked\n")
    _backdate(folder)
    sys.path.insert(0, str(root))
    return importlib.import_module(f"{package}.steps").step


def _backdate(folder: Path) -> None:
    """Sources last edited an hour ago, as in a real project (a just-written file is re-hashed)."""
    an_hour_ago = time.time() - 3600
    for path in folder.glob("*.py"):
        os.utime(path, (an_hour_ago, an_hour_ago))


def recheck(root: Path, in_git: bool, repeat: int) -> Any:
    from consist.services.identity import code_identity

    label = "git" if in_git else "no_git"
    step = _project(root / label, f"bench_ci_{label}", in_git)
    started = time.perf_counter()
    identity = code_identity.default_identity(step)
    first = time.perf_counter() - started
    samples = time_calls(lambda: code_identity.default_identity(step), repeat)
    report(
        f"code_identity.recheck_unchanged_{label}",
        samples,
        unit="ms",
        scale=1000,
        limit=1.0,
        files=MODULES + (3 if in_git else 2),
        first_compute_ms=round(first * 1000, 2),
        identity=identity.split("-")[0][:16],
    )
    steps_file = Path(step.__code__.co_filename)

    def after_edit() -> None:
        with open(steps_file, "a") as handle:
            handle.write("# edited\n")
        code_identity.default_identity(step)

    report(
        f"code_identity.recompute_after_edit_{label}",
        time_calls(after_edit, 10 if repeat < 500 else 30, warmup=1),
        unit="ms",
        scale=1000,
    )
    _backdate(steps_file.parent)
    return step


def cache_hit(root: Path, step: Any, repeat: int) -> None:
    import consist

    source = root / "input.csv"
    source.write_text("value\n1\n")
    trackers = {
        identity: consist.Tracker(
            root / f"runs-{identity}",
            db_path=root / f"provenance-{identity}.duckdb",
            code_identity=identity,
        )
        for identity in ("git", "bench-v1")
    }
    samples: dict[str, list[float]] = {name: [] for name in trackers}
    try:
        for tracker in trackers.values():
            tracker.run(step, inputs={"raw": source}, load_inputs=False)
        for _ in range(repeat):  # interleaved, so disk and CPU load hit both alike
            for name, tracker in trackers.items():
                samples[name].extend(
                    time_calls(
                        lambda t=tracker: t.run(step, inputs={"raw": source}, load_inputs=False),
                        1,
                        warmup=0,
                    )
                )
    finally:
        for tracker in trackers.values():
            tracker.close()
    report(
        "engine.cache_hit_default_code_identity",
        samples["git"],
        unit="ms",
        scale=1000,
        limit=3.0,
        with_version_label_ms=round(statistics.median(samples["bench-v1"]) * 1000, 3),
    )


def main(quick: bool = False) -> None:
    root = Path(tempfile.mkdtemp(prefix="consist-bench-code-"))
    ceiling = os.environ.get("GIT_CEILING_DIRECTORIES")
    os.environ["GIT_CEILING_DIRECTORIES"] = str(root)
    try:
        repeat = 200 if quick else 2_000
        recheck(root, in_git=False, repeat=repeat)
        step = recheck(root, in_git=True, repeat=repeat)
        cache_hit(root, step, 50 if quick else 300)
    finally:
        if ceiling is None:
            os.environ.pop("GIT_CEILING_DIRECTORIES", None)
        else:
            os.environ["GIT_CEILING_DIRECTORIES"] = ceiling
        shutil.rmtree(root, ignore_errors=True)
