"""The Tracker's collaborators are assembled without a Tracker, and the step engine's
run store (StepRuns) works from the lifecycle, run store, queries and artifacts alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from consist.domain.errors import InvalidInput
from consist.memory import InMemoryCatalog, InProcessExecutor
from consist.services.assembly import TrackerParts, assemble
from consist.services.runs.artifacts import ArtifactLogging
from consist.services.steps.engine import build_request, run_step


class Owner:
    """What owns the runs: only ``.artifacts`` is asked for (the RunOwner Protocol)."""

    artifacts: ArtifactLogging

    def __init__(self) -> None:
        self.closed = False

    def check_open(self) -> None:
        if self.closed:
            raise InvalidInput("closed")


def parts_for(tmp_path: Path, owner: Owner) -> TrackerParts:
    parts = assemble(
        tmp_path / "runs",
        owner=owner,
        check_open=owner.check_open,
        catalog=InMemoryCatalog(),
        blobs=None,
        tables=None,
        mounts={"data": tmp_path / "data"},
        schemas=None,
        hashing_strategy="full",
        code_identity="v1",
        project_dir=tmp_path,
        background_writes=False,
        progress=False,
        sidecars=False,
        archive="outputs",
        secret_keys=None,
        remote_files=None,
        events=None,
        executor=InProcessExecutor(),
        recent_records=InMemoryCatalog(),
    )
    owner.artifacts = parts.artifacts
    return parts


def test_assembled_parts_run_a_step_and_serve_it_again_from_the_cache(tmp_path: Path) -> None:
    owner = Owner()
    parts = parts_for(tmp_path, owner)
    assert parts.run_dir == (tmp_path / "runs").resolve()

    calls: list[int] = []

    def step(n: int) -> None:
        calls.append(n)

    options = {"config": {"n": 3}, "runtime_kwargs": {"n": 3}, "model": "double"}
    first = run_step(parts.engine, build_request(step, options))
    assert not first.cache_hit and calls == [3]
    assert parts.queries.get_run(first.run.id).status == "completed"
    assert parts.store.snapshots.workspace(first.run.id).is_dir()

    again = run_step(parts.engine, build_request(step, options))
    assert again.cache_hit and again.cached_from == first.run.id and calls == [3]
    parts.store.close()
    parts.hasher.memo.close()


def test_step_runs_ask_the_owner_whether_it_is_open(tmp_path: Path) -> None:
    owner = Owner()
    parts = parts_for(tmp_path, owner)
    owner.closed = True
    with pytest.raises(InvalidInput, match="closed"):
        run_step(parts.engine, build_request(lambda: None, {"model": "one"}))
    assert parts.queries.find_runs() == []
    parts.store.close()
    parts.hasher.memo.close()


def test_the_runs_mount_points_at_run_dir(tmp_path: Path) -> None:
    owner = Owner()
    parts = parts_for(tmp_path, owner)
    assert parts.mounts.to_path("runs://x") == parts.run_dir / "x"
    parts.store.close()
    parts.hasher.memo.close()
