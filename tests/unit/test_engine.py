"""The run engine alone, on fakes of its collaborators: no Tracker is built here.

The run store keeps records in the in-memory catalog; the executor counts its
calls; the hydrator remembers what it was asked. The signer is the real one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from consist.domain import (
    Artifact,
    Direction,
    MountTable,
    Run,
    RunStatus,
    Signature,
    new_id,
)
from consist.memory import InMemoryCatalog
from consist.services.identity.hashing import FileHasher, HashMemo
from consist.services.identity.signer import Signer
from consist.services.runs.active_run import ActiveRun
from consist.services.steps.engine import (
    Engine,
    RunSpec,
    StepRequest,
    build_request,
    run_step,
)


class FakeRuns:
    """A run store over the in-memory catalog; files are linked where they lie."""

    def __init__(self, root: Path, catalog: InMemoryCatalog) -> None:
        self.root = root
        self.catalog = catalog
        self.mounts = MountTable.of({"data": root})
        self.begun: list[RunSpec] = []

    def begin(self, spec: RunSpec) -> ActiveRun:
        self.begun.append(spec)
        run = spec.labels.new_run(spec.run_id)
        workspace = self.workspace(spec.run_id)
        workspace.mkdir(parents=True, exist_ok=True)
        # ActiveRun names its owner only to hand artifacts back later: this store.
        active = ActiveRun(cast(Any, self), run, workspace, self.mounts.with_workspace(workspace))
        active.persist = spec.persist
        return active

    def end(
        self,
        active: ActiveRun,
        *,
        error: BaseException | None = None,
        signature: Signature | None = None,
    ) -> Run:
        run = active.run
        if signature is not None:
            run = Run(**{**_fields(run), "signature": signature})
        run = run.completed() if error is None else run.failed(type(error).__name__, str(error))
        active.run = run
        if active.persist:
            self.catalog.record(active.record())
        return run

    def exists(self, run_id: str) -> bool:
        return self.catalog.has_run(run_id)

    def find_by_signature(self, digest: str) -> Run | None:
        return self.catalog.find_by_signature(digest)

    def outputs_of(self, run_id: str) -> Mapping[str, Artifact]:
        return self.catalog.get_record(run_id).artifacts_by_direction(Direction.OUTPUT)

    def workspace(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def completed_signatures(self, digests: Sequence[str]) -> set[str]:
        return {d for d in digests if self.catalog.find_by_signature(d) is not None}

    @contextlib.contextmanager
    def one_sync(self) -> Iterator[None]:
        yield  # the in-memory catalog has nothing to make durable

    def log_artifact(
        self,
        path: str | os.PathLike[str] | Artifact,
        key: str | None = None,
        direction: str = "output",
        *,
        content_hash: str | None = None,
        run: ActiveRun | None = None,
    ) -> Artifact:
        assert run is not None and not isinstance(path, Artifact)
        target = Path(path)
        artifact = Artifact(
            id=new_id(),
            key=key or target.stem,
            uri=run.mounts.to_uri(target),
            content_hash=content_hash or hashlib.sha256(target.read_bytes()).hexdigest(),
            abs_path=str(target),
            producer_run_id=run.id if direction == "output" else None,
        )
        run.link(artifact, Direction(direction), artifact.key)
        return artifact

    def artifact_path(self, artifact: Artifact) -> Path:
        assert artifact.abs_path is not None
        return Path(artifact.abs_path)

    def find_produced_artifact(self, content_hash: str, path: Path | str) -> Artifact | None:
        found = self.catalog.find_artifacts(content_hash=content_hash)
        return next((a for a in found if a.producer_run_id is not None), None)

    def remote_input(self, key: str, url: str) -> Artifact:
        raise NotImplementedError("these tests use local files only")

    def upload_output(self, active: ActiveRun, key: str, staged: Path, url: str) -> Artifact:
        raise NotImplementedError("these tests use local files only")


def _fields(run: Run) -> dict[str, Any]:
    import attrs

    return {f.name: getattr(run, f.name) for f in attrs.fields(Run)}


class FakeHydrator:
    """Remembers what it is asked; ``lost`` outputs cannot be restored."""

    def __init__(self) -> None:
        self.hydrations: list[tuple[str | None, dict[str, Any]]] = []
        self.backfilled: list[list[str]] = []
        self.lost: list[str] = []

    def hydrate_outputs(
        self,
        mode: str | None,
        outputs: Mapping[str, Artifact],
        paths: Mapping[str, str | os.PathLike[str]] | None,
        directory: str | os.PathLike[str] | None,
    ) -> dict[str, Path]:
        self.hydrations.append((mode, dict(paths or {})))
        return {key: Path(p) for key, p in (paths or {}).items()}

    def unrestorable_outputs(
        self, outputs: Mapping[str, Artifact], requested: Mapping[str, str | os.PathLike[str]]
    ) -> list[str]:
        return [key for key in outputs if key in self.lost]

    def backfill_inputs(self, inputs: Mapping[str, Artifact]) -> dict[str, Path]:
        self.backfilled.append(sorted(inputs))
        return {}


class CountingExecutor:
    """Calls the step function in this process and counts the calls."""

    def __init__(self, identity: Mapping[str, Any] | None = None) -> None:
        self.calls = 0
        self._identity = identity

    def identity(self) -> Mapping[str, Any] | None:
        return self._identity

    def run(self, request: StepRequest, active: ActiveRun, kwargs: Mapping[str, Any]) -> Any:
        self.calls += 1
        if request.fn is None:
            return None
        return request.fn(**kwargs)


class Setup:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog = InMemoryCatalog()
        self.runs = FakeRuns(root, self.catalog)
        self.hydrator = FakeHydrator()
        self.executor = CountingExecutor()
        signer = Signer(
            hasher=FileHasher(HashMemo(None)),
            mounts=self.runs.mounts,
            runs=self.catalog,
            code_identity="v1",
        )
        self.engine = Engine(self.runs, signer, self.hydrator, self.executor)

    def run(self, fn: Callable[..., Any] | None, **options: Any) -> Any:
        return run_step(self.engine, build_request(fn, options))


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    (tmp_path / "zones.csv").write_text("zone,pop\n1,10\n")
    return Setup(tmp_path)


def write_trips(zones: Path, output_paths: dict[str, Path]) -> None:
    output_paths["trips"].write_text(zones.read_text().upper())


def _trips_options(setup: Setup, **extra: Any) -> dict[str, Any]:
    return {
        "inputs": {"zones": setup.root / "zones.csv"},
        "output_paths": {"trips": "trips.csv"},
        "config": {"rate": 1},
        **extra,
    }


def test_miss_calls_the_executor_once_and_records_the_run(setup: Setup) -> None:
    """A first run executes once and records a completed run with its outputs."""
    result = setup.run(write_trips, **_trips_options(setup))
    assert setup.executor.calls == 1
    assert not result.cache_hit
    stored = setup.catalog.get_run(result.run.id)
    assert stored.status is RunStatus.COMPLETED
    assert stored.signature == result.run.signature is not None
    assert set(setup.runs.outputs_of(result.run.id)) == {"trips"}
    assert Path(result.outputs["trips"].abs_path or "").read_text().startswith("ZONE")


def test_hit_is_served_without_calling_the_executor(setup: Setup) -> None:
    """The same step again is a hit: a new run links the first run's outputs."""
    first = setup.run(write_trips, **_trips_options(setup))
    again = setup.run(write_trips, **_trips_options(setup))
    assert setup.executor.calls == 1
    assert again.cache_hit and again.cached_from == first.run.id
    assert again.run.id != first.run.id
    assert again.outputs["trips"].id == first.outputs["trips"].id
    assert setup.catalog.get_run(again.run.id).cache_hit


def test_another_config_or_input_is_a_miss(setup: Setup) -> None:
    """A changed config, or changed input bytes, executes again."""
    setup.run(write_trips, **_trips_options(setup))
    setup.run(write_trips, **_trips_options(setup, config={"rate": 2}))
    (setup.root / "zones.csv").write_text("zone,pop\n1,11\n")
    setup.run(write_trips, **_trips_options(setup))
    assert setup.executor.calls == 3


def test_failure_is_recorded_failed_and_never_served(setup: Setup) -> None:
    """A step that raises leaves a failed run; the next identical call executes again."""

    def broken(zones: Path) -> None:
        raise RuntimeError("model diverged")

    options = {"inputs": {"zones": setup.root / "zones.csv"}, "name": "model"}
    with pytest.raises(RuntimeError, match="diverged"):
        setup.run(broken, **options)
    (failed_spec,) = setup.runs.begun
    run = setup.catalog.get_run(failed_spec.run_id)
    assert run.status is RunStatus.FAILED and run.error_type == "RuntimeError"
    with pytest.raises(RuntimeError):
        setup.run(broken, **options)
    assert len(setup.runs.begun) == 2  # executed again: a failed run is no hit


def test_overwrite_executes_even_when_a_hit_exists(setup: Setup) -> None:
    """cache_mode='overwrite' always calls the step and records a new run."""
    first = setup.run(write_trips, **_trips_options(setup))
    again = setup.run(write_trips, **_trips_options(setup, cache_mode="overwrite"))
    assert setup.executor.calls == 2
    assert not again.cache_hit and again.run.id != first.run.id


def test_readonly_miss_executes_and_records_nothing(setup: Setup) -> None:
    """cache_mode='readonly' on a miss runs in a scratch folder and persists no run."""
    result = setup.run(write_trips, **_trips_options(setup, cache_mode="readonly"))
    assert setup.executor.calls == 1
    assert not setup.runs.exists(result.run.id)
    assert setup.catalog.run_ids() == set()
    assert not str(result.outputs["trips"].abs_path).startswith(str(setup.root))


def test_readonly_hit_is_served_and_records_nothing(setup: Setup) -> None:
    """cache_mode='readonly' uses an existing hit without adding a run."""
    first = setup.run(write_trips, **_trips_options(setup))
    hit = setup.run(write_trips, **_trips_options(setup, cache_mode="readonly"))
    assert hit.cache_hit and hit.cached_from == first.run.id
    assert setup.executor.calls == 1
    assert setup.catalog.run_ids() == {first.run.id}


def test_hydration_is_asked_for_on_a_hit(setup: Setup) -> None:
    """cache_hydration on a hit asks the hydrator for the requested paths; a miss does not."""
    wanted = {"trips": str(setup.root / "copy.csv")}
    options = _trips_options(setup, cache_hydration="outputs-requested", hydration_paths=wanted)
    setup.run(write_trips, **options)
    assert setup.hydrator.hydrations == []
    hit = setup.run(write_trips, **options)
    assert setup.hydrator.hydrations == [("outputs-requested", wanted)]
    assert hit.hydrated == {"trips": Path(wanted["trips"])}


def test_inputs_missing_hydration_backfills_recorded_inputs(setup: Setup) -> None:
    """cache_hydration='inputs-missing' asks for the inputs other runs produced."""
    first = setup.run(write_trips, **_trips_options(setup))

    def count(trips: Path) -> None:
        assert trips.read_text()

    setup.run(count, inputs={"trips": first.outputs["trips"]}, cache_hydration="inputs-missing")
    assert setup.hydrator.backfilled == [["trips"]]


def test_strict_validation_executes_when_outputs_are_lost(setup: Setup) -> None:
    """validate_cached_outputs='strict': a hit whose outputs cannot be restored runs again."""
    setup.run(write_trips, **_trips_options(setup))
    setup.hydrator.lost = ["trips"]
    again = setup.run(write_trips, **_trips_options(setup, validate_cached_outputs="strict"))
    assert not again.cache_hit and setup.executor.calls == 2


def test_a_step_executor_identity_is_part_of_the_signature(setup: Setup) -> None:
    """A step with its own executor (a container) is signed by that executor's identity."""
    one = CountingExecutor({"image_digest": "sha256:1"})
    two = CountingExecutor({"image_digest": "sha256:2"})
    first = run_step(setup.engine, build_request(None, {"name": "model"}, executor=one))
    same = run_step(setup.engine, build_request(None, {"name": "model"}, executor=one))
    other = run_step(setup.engine, build_request(None, {"name": "model"}, executor=two))
    assert (one.calls, two.calls, setup.executor.calls) == (1, 1, 0)
    assert same.cache_hit and not other.cache_hit
    assert first.run.signature is not None and other.run.signature is not None
    assert first.run.signature.config_hash != other.run.signature.config_hash
    assert first.run.signature.code_hash == "user:container#model"


def test_module_define_step_checks_its_defaults_like_the_trackers() -> None:
    """consist.define_step refuses what tracker.run would refuse, when decorating."""
    import consist
    from consist.domain.errors import InvalidCacheMode

    with pytest.raises(InvalidCacheMode, match="sometimes"):
        consist.define_step(cache_mode="sometimes")
    with pytest.raises(TypeError, match="outputz"):
        consist.define_step(outputz=["x"])  # type: ignore[call-arg]

    @consist.define_step(outputs=["report"], name="daily")
    def report() -> None: ...

    request = build_request(report, {"config": {"a": 1}})
    assert (request.name, list(request.outputs), request.config) == ("daily", ["report"], {"a": 1})
