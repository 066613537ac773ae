"""Module-level functions that act on the active tracker and run.

``consist.log_artifact(...)`` inside ``with tracker.start_run(...)`` (or a step
run by ``tracker.run``) logs to that run; ``consist.find_runs(...)`` inside
``with consist.use_tracker(tracker)`` queries that tracker. With nothing active
they raise ``NoActiveTracker`` saying what to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import attrs

from consist.domain import Artifact, Run, RunQuery
from consist.domain.errors import AmbiguousMatch, InvalidInput, NoActiveTracker, NotFound
from consist.domain.remote import check_remote_url, is_remote, object_name
from consist.services.current import current_tracker, tracker_for, use_tracker
from consist.services.runs import context
from consist.services.runs.active_run import ActiveRun
from consist.services.steps import loaders
from consist.services.steps.engine import RunResult
from consist.services.steps.request import define_step as _define_step
from consist.services.tracker import Tracker

if TYPE_CHECKING:
    from consist.services.steps.options import RunOptions, StepOptions

__all__ = [
    "current_run",
    "current_tracker",
    "define_step",
    "find_run",
    "find_runs",
    "load",
    "log_artifact",
    "log_artifacts",
    "log_dataframe",
    "log_input",
    "log_output",
    "run",
    "run_query",
    "use_tracker",
]


def current_run() -> ActiveRun:
    """The innermost active run. Raises ``NoActiveTracker`` outside a run."""
    return context.current_run("consist.current_run()")


def log_artifact(
    path: str | os.PathLike[str] | Artifact,
    key: str | None = None,
    direction: str = "output",
    **options: Any,
) -> Artifact:
    """Log a file to the active run (see ``Tracker.log_artifact``)."""
    run = context.current_run("consist.log_artifact")
    return run.tracker.artifacts.log_artifact(path, key, direction, run=run, **options)


def log_input(
    path: str | os.PathLike[str] | Artifact, key: str | None = None, **options: Any
) -> Artifact:
    return log_artifact(path, key, "input", **options)


def log_output(path: str | os.PathLike[str], key: str | None = None, **options: Any) -> Artifact:
    return log_artifact(path, key, "output", **options)


def log_artifacts(paths: Mapping[str, Any], **options: Any) -> dict[str, Artifact]:
    run = context.current_run("consist.log_artifacts")
    return run.tracker.artifacts.log_artifacts(paths, run=run, **options)


def log_dataframe(df: Any, key: str, **options: Any) -> Artifact:
    """Write a DataFrame as Parquet in the active run's directory and log it."""
    run = context.current_run("consist.log_dataframe")
    return run.tracker.artifacts.log_dataframe(df, key, run=run, **options)


def _query(
    parent_id: str | None,
    model: str | None,
    year: int | None,
    iteration: int | None,
    status: str | None,
    tags: Sequence[str] | str | None,
    limit: int | None,
) -> RunQuery:
    return RunQuery(
        parent_run_id=parent_id,
        model=model,
        year=year,
        iteration=iteration,
        status=status,
        tags=tags or (),
        limit=limit,
    )


def find_runs(
    *,
    tracker: Tracker | None = None,
    parent_id: str | None = None,
    model: str | None = None,
    year: int | None = None,
    iteration: int | None = None,
    status: str | None = None,
    tags: Sequence[str] | str | None = None,
    limit: int | None = None,
    index_by: str | None = None,
    as_: str = "list",
) -> Any:
    """Runs matching every filter given, newest first.

    With ``index_by="year"`` (any Run field) returns ``{value: run}`` instead,
    keeping the newest run for each value. With ``as_="pandas"`` or ``"polars"``
    returns a DataFrame of the runs and their facets (see ``Tracker.find_runs``).
    """
    chosen = current_tracker(tracker, "consist.find_runs")
    if index_by is not None and index_by not in attrs.fields_dict(Run):
        raise InvalidInput(f"index_by={index_by!r} is not a field of Run")
    query = _query(parent_id, model, year, iteration, status, tags, limit)
    if as_ != "list":
        if index_by is not None:
            raise InvalidInput("find_runs takes index_by= or as_=, not both")
        return chosen.find_runs(query, as_=as_)
    found = chosen.find_runs(query)
    if index_by is None:
        return found
    indexed: dict[Any, Run] = {}
    for run in found:
        indexed.setdefault(getattr(run, index_by), run)
    return indexed


def find_run(
    *,
    tracker: Tracker | None = None,
    parent_id: str | None = None,
    model: str | None = None,
    year: int | None = None,
    iteration: int | None = None,
    status: str | None = None,
    tags: Sequence[str] | str | None = None,
) -> Run:
    """The one run matching the filters.

    Raises
    ------
    NotFound
        If none matches.
    AmbiguousMatch
        If several do (the message lists them; add filters to narrow it down).
    """
    found = current_tracker(tracker, "consist.find_run").find_runs(
        _query(parent_id, model, year, iteration, status, tags, None)
    )
    filters = {
        k: v
        for k, v in dict(
            parent_id=parent_id,
            model=model,
            year=year,
            iteration=iteration,
            status=status,
            tags=tags,
        ).items()
        if v is not None
    }
    if not found:
        raise NotFound(f"no run matches {filters}")
    if len(found) > 1:
        ids = ", ".join(r.id for r in found[:10])
        raise AmbiguousMatch(f"{len(found)} runs match {filters} ({ids}); add filters")
    return found[0]


def run(
    fn: Callable[..., Any] | None = None,
    *,
    tracker: Tracker | None = None,
    executor: str | None = None,
    container: Mapping[str, Any] | None = None,
    **options: Unpack[RunOptions],
) -> RunResult:
    """Run ``fn`` as a cached step on the active tracker (see ``Tracker.run``)."""
    owner = current_tracker(tracker, "consist.run")
    return owner.run(fn, executor=executor, container=container, **options)


def define_step(
    **defaults: Unpack[StepOptions],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator storing ``tracker.run`` defaults on a function (no tracker needed).

    The defaults are checked at once: an unknown option or a bad cache mode
    raises here, as ``tracker.define_step`` does.
    """
    return _define_step(defaults)


def run_query(
    statement: Any,
    *,
    tracker: Tracker | None = None,
    params: Sequence[Any] | None = None,
    as_: str = "pandas",
    allow_write: bool = False,
) -> Any:
    """SQL text or a SQLAlchemy/SQLModel statement against the catalog and views.

    Returns a pandas DataFrame (``as_="arrow"`` or ``"polars"`` on request).
    Only reads run: a statement that would change the database raises
    ``WriteNotAllowed`` unless ``allow_write=True``.
    """
    owner = current_tracker(tracker, "consist.run_query")
    return owner.run_query(statement, params, as_, allow_write=allow_write)


def load(
    artifact: Artifact | str | os.PathLike[str],
    *,
    tracker: Tracker | None = None,
    as_: Any = None,
    **options: Any,
) -> Any:
    """Read an artifact by its driver: Parquet/CSV/JSON/Feather to a DataFrame,
    Zarr/NetCDF to an xarray Dataset.

    ``artifact`` may also be a path, or an object-store URL (``s3://bucket/x.parquet``)
    read with the tracker's storage options through its local cache.

    A table comes back as the kind it was written from (a pandas frame with its
    index, a polars frame, an Arrow table), or as ``as_``: ``"pandas"``,
    ``"polars"``, ``"arrow"`` or one of their classes. Files Consist did not
    write are read as pandas unless ``as_`` says otherwise.

    Raises
    ------
    MissingFile
        If the file is gone; the message says which run wrote it and how to recover.
    InvalidInput
        For an unknown ``as_``, or ``as_`` on a file that is not a table.
    """
    if is_remote(artifact):
        url = str(artifact)  # read through the tracker's storage options and local cache
        owner = current_tracker(tracker, "consist.load")
        path = owner.remote.local_copy(check_remote_url(url))
        return loaders.read(path, loaders.infer_driver(Path(object_name(url))), as_=as_, **options)
    if not isinstance(artifact, Artifact):
        path = Path(artifact)
        return loaders.read(path, loaders.infer_driver(path), as_=as_, **options)
    try:
        owner = tracker_for(artifact, tracker, "consist.load")
    except NoActiveTracker:
        # Without a tracker only the path recorded on this machine can be tried.
        if artifact.abs_path is None or not Path(artifact.abs_path).exists():
            raise
        return loaders.read(Path(artifact.abs_path), artifact.driver, as_=as_, **options)
    return loaders.read(owner.artifact_path(artifact), artifact.driver, as_=as_, **options)
