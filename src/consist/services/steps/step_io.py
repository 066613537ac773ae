"""A step's inputs going in and outputs coming out: resolution, loading, capture."""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path, PurePath
from types import UnionType
from typing import TYPE_CHECKING, Any, Union

import attrs

from consist.domain import Artifact, Direction, MountTable
from consist.domain.errors import InvalidInput, MissingInputFile, MissingOutputFile
from consist.domain.mount import URI_PATTERN
from consist.domain.remote import check_remote_url, is_remote, object_name
from consist.services.runs.capture import (
    OutputCapture,
    file_clock_ns,
    stem,
)
from consist.services.steps import loaders

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.steps.collaborators import StepFiles

InputResolver = Callable[[str], Artifact | None]


@attrs.frozen
class StepInput:
    """One input of a step: the parameter (or key) it feeds, and what it is."""

    key: str
    artifact: Artifact | None = None
    path: Path | None = None
    as_kwarg: bool = True
    # An object-store URL (``s3://bucket/x.parquet``), read where it lies.
    url: str | None = None


def resolve_inputs(
    mounts: MountTable,
    inputs: Mapping[str, Any] | Sequence[Any] | None,
    resolver: InputResolver | None = None,
) -> list[StepInput]:
    """Normalise ``inputs`` (mapping param -> path/Artifact/key, or a list) to StepInputs.

    A string is first offered to ``resolver`` (a scenario's coupler); if that does
    not know it, it is a path.
    """
    if inputs is None:
        return []
    if isinstance(inputs, Mapping):
        return [_resolve_one(mounts, str(k), v, resolver, True) for k, v in inputs.items()]
    if isinstance(inputs, (str, os.PathLike, Artifact)):
        inputs = [inputs]
    resolved = []
    for item in inputs:
        step_input = _resolve_one(mounts, None, item, resolver, False)
        resolved.append(step_input)
    keys = [i.key for i in resolved]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise InvalidInput(f"several inputs share the key(s) {duplicates}; pass a mapping instead")
    return resolved


def _resolve_one(
    mounts: MountTable, key: str | None, value: Any, resolver: InputResolver | None, as_kwarg: bool
) -> StepInput:
    if isinstance(value, Artifact):
        return StepInput(key or value.key, artifact=value, as_kwarg=as_kwarg)
    if isinstance(value, str) and resolver is not None:
        artifact = resolver(value)
        if artifact is not None:
            return StepInput(key or value, artifact=artifact, as_kwarg=as_kwarg)
    if is_remote(value, mounts):
        url = check_remote_url(value)
        return StepInput(key or _default_url_key(url), url=url, as_kwarg=as_kwarg)
    if isinstance(value, str) and URI_PATTERN.match(value):
        path = mounts.to_path(value)  # refuses a URI that escapes its mount
    elif isinstance(value, os.PathLike | str):
        path = Path(os.path.abspath(os.fspath(value)))
    else:
        raise InvalidInput(
            f"input {key!r}: expected a path, an Artifact or a coupler key, "
            f"not {type(value).__name__}"
        )
    if not path.exists():
        hint = " (nor a coupler key)" if resolver is not None and isinstance(value, str) else ""
        raise MissingInputFile(f"input {key or value!r}: {path} does not exist{hint}")
    return StepInput(key or stem(path), path=path, as_kwarg=as_kwarg)


def _default_url_key(url: str) -> str:
    return stem(Path(object_name(url)))


def accepted_parameters(fn: Callable[..., Any]) -> tuple[set[str], bool]:
    """Names ``fn`` accepts as keywords, and whether it takes ``**kwargs``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return set(), True
    names = {
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    var_kw = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    return names, var_kw


def unfilled_parameters(fn: Callable[..., Any], given: Collection[str]) -> list[str]:
    """Parameters ``fn`` requires (no default) that are not in ``given``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.default is p.empty
        and p.name not in given
    ]


_PATH_TYPES = (os.PathLike, PurePath, str)
_PATH_NAMES = frozenset({"Path", "PurePath", "PathLike", "str"})


def path_parameters(fn: Callable[..., Any]) -> set[str]:
    """Parameters of ``fn`` annotated as a path (``Path``, ``os.PathLike``, ``str``).

    Such a parameter receives the input's file even with ``load_inputs=True``:
    a step declaring ``raw_file: Path`` reads the file itself.
    """
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable string annotations: read their names instead
        hints = dict(getattr(fn, "__annotations__", None) or {})
    return {name for name, hint in hints.items() if name != "return" and _is_path_hint(hint)}


def _is_path_hint(hint: Any) -> bool:
    if isinstance(hint, str):
        return hint.rsplit(".", 1)[-1].split("[", 1)[0] in _PATH_NAMES
    choices = typing.get_args(hint) if typing.get_origin(hint) in (Union, UnionType) else (hint,)
    choices = tuple(typing.get_origin(c) or c for c in choices if c is not type(None))
    return bool(choices) and all(
        isinstance(c, type) and issubclass(c, _PATH_TYPES) for c in choices
    )


def input_value(
    files: StepFiles, step_input: StepInput, artifact: Artifact, load: bool, as_: str | None = None
) -> Any:
    """What the step function receives for an input: loaded data or a Path.

    ``as_`` is the table kind the parameter's type hint asks for (see
    ``frames.hinted_kinds``); it applies only to tables.
    """
    path = files.artifact_path(artifact) if step_input.path is None else step_input.path
    if load and artifact.driver in loaders.READERS:
        wanted = as_ if artifact.driver in loaders.TABLE_DRIVERS else None
        return loaders.read(path, artifact.driver, as_=wanted)
    return path


class StepContext:
    """Injected into a step function (``inject_context=True`` -> ``_consist_ctx``).

    Gives the run directory and ways to log or capture outputs from inside.
    """

    def __init__(self, active: ActiveRun, output_paths: Mapping[str, Path]) -> None:
        self._active = active
        self._started_ns = file_clock_ns()
        self.output_paths = dict(output_paths)

    @property
    def run_dir(self) -> Path:
        return self._active.workspace

    @property
    def run_id(self) -> str:
        return self._active.id

    @property
    def inputs(self) -> dict[str, Artifact]:
        """The step's input artifacts by key, those not passed as arguments too
        (``ctx.inputs["settings"].path`` is that file)."""
        return self._active.inputs

    def output_path(self, key: str) -> Path:
        """Where the output declared as ``key`` in ``output_paths`` must be written."""
        try:
            return self.output_paths[key]
        except KeyError:
            raise InvalidInput(
                f"no output path for {key!r}; declared: {sorted(self.output_paths)}"
            ) from None

    def log_output(self, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self._active.log_output(path, key, **options)

    def log_input(self, path: Any, key: str | None = None, **options: Any) -> Artifact:
        return self._active.log_input(path, key, **options)

    def log_dataframe(self, df: Any, key: str, **options: Any) -> Artifact:
        return self._active.log_dataframe(df, key, **options)

    def capture_outputs(
        self, directory: str | os.PathLike[str], pattern: str = "*"
    ) -> OutputCapture:
        """Log files under ``directory`` (relative to the working directory) as outputs.

        Called plainly, after a tool has written its files, it logs every file
        matching ``pattern`` created or changed since the step began. Used as
        ``with ctx.capture_outputs(...) as captured:`` it also logs those
        changed inside the block. Each output is keyed by its file's stem.
        """
        root = Path(os.path.abspath(os.fspath(directory)))
        return OutputCapture(self._active, root, pattern, self._started_ns)


def record_return_value(
    files: StepFiles, active: ActiveRun, value: Any, declared: Sequence[str], step: str
) -> None:
    """Turn what a step function returned into output artifacts of the run."""
    if value is None:
        return
    if isinstance(value, Mapping) and not _stored_whole(value):
        for key, item in value.items():
            record_output(files, active, str(key), item)
        return
    if len(declared) > 1:
        raise InvalidInput(
            f"step {step!r} returned one value but declares outputs {list(declared)}; "
            "return a dict keyed by output name"
        )
    key = (
        declared[0]
        if declared
        else (stem(Path(value)) if isinstance(value, (str, os.PathLike)) else step)
    )
    record_output(files, active, key, value)


def _stored_whole(value: Any) -> bool:
    """A data object that happens to be a Mapping (an xarray Dataset is one, keyed by
    variable): one output, not one per item."""
    return type(value).__module__.split(".")[0] in ("xarray", "pandas", "polars", "pyarrow")


def record_output(files: StepFiles, active: ActiveRun, key: str, value: Any) -> Artifact:
    from consist.services.runs.artifacts import safe_file_stem, write_parquet

    if isinstance(value, Artifact):
        active.link(value, Direction.OUTPUT, key)
        return value
    if isinstance(value, (str, os.PathLike)):
        path = Path(os.path.abspath(os.fspath(value)))  # relative: to the working directory
        if not path.exists():
            raise MissingOutputFile(f"output {key!r}: the returned path {path} does not exist")
        return files.log_artifact(path, key, "output", run=active)
    module = type(value).__module__.split(".")[0]
    stem = active.workspace / safe_file_stem(key)
    if module in ("pandas", "polars", "pyarrow") and hasattr(value, "columns"):
        path = stem.with_suffix(".parquet")
        write_parquet(value, path)
    elif module == "xarray":
        path = stem.with_suffix(".zarr")
        value.to_zarr(path, mode="w")
    elif module == "numpy":
        import numpy as np

        path = stem.with_suffix(".npy")
        np.save(path, value)
    else:
        raise InvalidInput(
            f"output {key!r}: cannot store a {type(value).__name__}; return a DataFrame, "
            "an xarray Dataset, a numpy array, a Path, or log files with the step context"
        )
    return files.log_artifact(path, key, "output", run=active)


def check_declared_outputs(active: ActiveRun, declared: Sequence[str], step: str) -> None:
    missing = [key for key in declared if key not in active.outputs]
    if missing:
        raise MissingOutputFile(
            f"step {step!r} declared outputs {missing} but did not produce them "
            f"(produced: {sorted(active.outputs) or 'nothing'})"
        )
