"""Container steps on the Tracker: ``run_container`` and ``tracker.run(executor="container")``.

This module belongs to the wiring layer. It finds the executor for a backend
by entry point (group ``consist.executor``, installed by ``consist-containers``)
and hands the engine a step executor (:class:`ContainerStep`): its identity of
the task is hashed into the signature in place of the host repository's
commit, and it starts the container on a cache miss. On a hit the container is
not started; the cached outputs are copied to the requested host paths and checked.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from consist import plugins
from consist.domain import Artifact
from consist.domain.errors import (
    ExecutionError,
    IntegrityError,
    InvalidInput,
    MissingOutputFile,
)
from consist.ports.execute import ContainerTask, Executor
from consist.services.current import current_tracker
from consist.services.steps.engine import RunResult, build_request

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.steps.request import StepRequest
    from consist.services.tracker import Tracker

__all__ = [
    "BACKENDS",
    "CONTAINER_KEYS",
    "LOG_NAME",
    "ContainerStep",
    "run_container",
    "run_container_step",
]

BACKENDS = ("docker", "apptainer", "singularity")
LOG_NAME = "container.log"
# What ``container={...}`` may hold in ``tracker.run(executor="container", ...)``.
CONTAINER_KEYS = frozenset(
    {
        "image",
        "command",
        "volumes",
        "env",
        "secret_env",
        "backend",
        "workdir",
        "user",
        "network",
        "executor_options",
    }
)
# tracker.run options a container step sets itself, or that only make sense for a function.
_RESERVED = frozenset(
    {
        "fn",
        "executor",
        "code_identity",
        "runtime_kwargs",
        "inject_context",
        "load_inputs",
        "outputs",
        "output_paths",
    }
)


def run_container(
    *,
    tracker: Tracker | None = None,
    run_id: str | None = None,
    image: str,
    command: Sequence[str],
    volumes: Mapping[str | os.PathLike[str], str] | None = None,
    inputs: Mapping[str, Any] | Sequence[Any] | None = None,
    outputs: Mapping[str, str | os.PathLike[str]] | None = None,
    env: Mapping[str, Any] | None = None,
    secret_env: Sequence[str] = (),
    backend: str = "docker",
    workdir: str | None = None,
    user: str | None = None,
    network: str = "none",
    name: str | None = None,
    config: Any = None,
    cache_mode: str = "reuse",
    executor_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> RunResult:
    """Run ``command`` in a container image as a cached step, or reuse an identical run.

    The signature is the executor's identity of the task (image content digest,
    command, environment hash with secrets masked, container-side mount points,
    working directory, user) plus the inputs' signatures, ``config`` and the
    step ``name``. Host paths are not part of it: the same step run from other
    directories, or on another machine, is a cache hit.

    Parameters
    ----------
    tracker
        The tracker; the active one (``consist.use_tracker``) if not given.
    run_id
        Id of the new run; generated from ``name`` if not given.
    image
        Docker: an image name or id on the engine. Apptainer: a ``.sif`` file or a
        reference pinned by digest.
    command
        The command and its arguments, as a list.
    volumes
        Host path -> container path. Inputs and outputs must lie under one of them.
    inputs
        Paths or Artifacts the step reads (a list, or a mapping key -> input). Their
        content (or, for outputs of earlier runs, their producer's signature) counts.
    outputs
        Output key -> host path the container writes. Logged as the run's outputs;
        on a cache hit the cached bytes are copied there.
    env, secret_env
        Environment of the container; values of the names in ``secret_env`` reach
        the container but are neither hashed in clear nor stored anywhere.
    backend
        ``"docker"``, ``"apptainer"`` or ``"singularity"``.
    workdir, user, network
        Working directory, user (Docker only) and network (``"none"`` by default).
    name
        Step name (also the run's model), part of the signature; by default the
        image's name without registry, tag or digest.
    config
        Parameters recorded with the run and hashed into its signature.
    cache_mode
        ``"reuse"``, ``"overwrite"`` or ``"readonly"``, as for ``tracker.run``.
    executor_options
        Passed to the executor, e.g. ``{"base_url": "unix:///run/docker.sock"}`` for
        Docker or ``{"binary": "/opt/apptainer/bin/apptainer"}`` for Apptainer.
    **run_options
        Other ``tracker.run`` options: ``year``, ``iteration``, ``tags``, ``facet``,
        ``model``, ``parent_run_id``, ``depends_on``, ``hash_inputs``, ``meta``,
        ``cache_hydration``, ``validate_cached_outputs`` (``"strict"`` by default) ...

    Returns
    -------
    RunResult
        ``.artifacts[key]`` for each output; ``.cache_hit`` tells whether it ran.

    Raises
    ------
    ImageNotFound
        The image is not on the engine (or the ``.sif`` file does not exist).
    ExecutionError
        The image has no content digest (an unpinned reference), the task is
        malformed, or the engine cannot be reached.
    ContainerFailed
        The command exited non-zero. The run is recorded as failed, with the exit
        code and the last lines of the log in its error; the whole log is at
        ``run.meta["container"]["log_path"]``.
    MissingInputFile, MissingOutputFile
        An input does not exist, or the container did not write an output.
    InvalidInput
        An input or output lies outside every mounted host directory.
    IntegrityError
        On a cache hit, a file at an output path differs from what was recorded.
    """
    owner = current_tracker(tracker, "run_container")
    reserved = sorted(_RESERVED & set(run_options))
    if reserved:
        raise TypeError(f"run_container sets {reserved} itself; use outputs={{key: host_path}}")
    # The port's converters are the generic tuple/frozenset, which mypy cannot bind.
    task = ContainerTask(
        image=image,
        command=_command(command),  # type: ignore[arg-type]
        volumes={os.fspath(host): target for host, target in (volumes or {}).items()},
        env={str(key): str(value) for key, value in (env or {}).items()},
        secret_env=frozenset(secret_env),  # type: ignore[arg-type]
        workdir=workdir,
        user=user,
        network=network,
    )
    mounts = _host_mounts(task.volumes)
    output_paths = {key: _absolute(path) for key, path in (outputs or {}).items()}
    _check_visible(inputs, output_paths, mounts)
    executor = _executor(backend, executor_options)
    try:
        step = ContainerStep.of(executor, task, output_paths, mounts)
        options: dict[str, Any] = {
            "validate_cached_outputs": "strict",
            **run_options,
            "name": name or default_name(image),
            "run_id": run_id,
            "inputs": inputs,
            "config": config,
            "cache_mode": cache_mode,
            "output_paths": output_paths or None,
            "meta": {
                **(run_options.get("meta") or {}),
                "container": _record(task, step.task_identity),
            },
        }
        if output_paths:
            options.setdefault("cache_hydration", "outputs-requested")
            if options["cache_hydration"] == "outputs-requested":
                options.setdefault("hydration_paths", output_paths)
        result = owner.run_request(build_request(None, options, executor=step))
    finally:
        _close(executor)
    if result.cache_hit:
        _verify_hydrated(owner, result)
    return result


def run_container_step(
    tracker: Tracker, fn: Callable[..., Any] | None, options: dict[str, Any]
) -> RunResult:
    """``tracker.run(executor="container", container={...}, output_paths=...)``.

    Registered by ``consist.Tracker`` as its ``"container"`` step executor.

    Raises
    ------
    InvalidInput
        A function was given too, ``container`` is missing, or it holds unknown keys.
    """
    if fn is not None:
        raise InvalidInput(
            "executor='container' runs container={'image': ..., 'command': [...]}, "
            f"not a function; drop fn={getattr(fn, '__name__', fn)!r}"
        )
    options = dict(options)
    spec = dict(options.pop("container", None) or {})
    if "image" not in spec or "command" not in spec:
        raise InvalidInput(
            "executor='container' needs container={'image': ..., 'command': [...], "
            "'volumes': {host: container}}"
        )
    unknown = sorted(set(spec) - CONTAINER_KEYS)
    if unknown:
        raise InvalidInput(
            f"container={{...}} has unknown key(s) {unknown}; known: {sorted(CONTAINER_KEYS)}"
        )
    outputs = options.pop("output_paths", None)
    if options.pop("outputs", None):
        raise InvalidInput(
            "a container step names its outputs with output_paths={key: host_path}, "
            "not outputs=[...]"
        )
    return run_container(tracker=tracker, outputs=outputs, **spec, **options)


def default_name(image: str) -> str:
    """The image's own name: no scheme, registry, tag, digest or ``.sif`` suffix."""
    reference = image.split("://", 1)[-1].split("@", 1)[0].rstrip("/")
    last = reference.rsplit("/", 1)[-1].split(":", 1)[0]
    return last.removesuffix(".sif") or "container"


@attrs.frozen
class ContainerStep:
    """The engine's executor of one container step: its identity of the task (image
    content digest, command, environment hash, mounts...) counts in the signature;
    on a miss it starts the container and checks that every output was written."""

    executor: Executor[ContainerTask]
    task: ContainerTask
    task_identity: Mapping[str, Any]
    outputs: Mapping[str, Path]
    mounts: Mapping[Path, str]

    @classmethod
    def of(
        cls,
        executor: Executor[ContainerTask],
        task: ContainerTask,
        outputs: Mapping[str, Path],
        mounts: Mapping[Path, str],
    ) -> ContainerStep:
        """Ask the executor for the task's identity once (it inspects the image)."""
        return cls(executor, task, dict(executor.identity(task)), outputs, mounts)

    @property
    def image_digest(self) -> str:
        return str(self.task_identity["image_digest"])

    def identity(self) -> Mapping[str, Any]:
        return self.task_identity

    def run(self, request: StepRequest, active: ActiveRun, kwargs: Mapping[str, Any]) -> None:
        log = active.workspace / LOG_NAME
        record = dict(active.run.meta.get("container") or {})
        record["log_path"] = str(log)
        active.set_meta(container=record)  # before it runs, so a failed run names its log
        before = {key: _state(path) for key, path in self.outputs.items()}
        outcome = self.executor.execute(attrs.evolve(self.task, log_path=str(log)))
        ran = outcome.meta.get("image_digest")
        if ran is not None and ran != self.image_digest:
            raise ExecutionError(
                f"image {self.task.image!r} changed while the step started (checked "
                f"{self.image_digest}, ran {ran}); run the step again"
            )
        record["exit_code"] = outcome.exit_code
        active.set_meta(container=record)
        for key, path in self.outputs.items():
            inside = _container_path(path, self.mounts)
            if not path.exists():
                raise MissingOutputFile(
                    f"the container did not write output {key!r}: nothing at {path} "
                    f"({inside} in the container); its log is {log}"
                )
            if before[key] is not None and before[key] == _state(path):
                raise MissingOutputFile(
                    f"the container did not write output {key!r}: {path} ({inside} in the "
                    f"container) still holds the file from before the run; its log is {log}"
                )


def _executor(backend: str, options: Mapping[str, Any] | None) -> Executor[ContainerTask]:
    if backend not in BACKENDS:
        raise InvalidInput(f"backend must be one of {BACKENDS}, not {backend!r}")
    factory = plugins.load(plugins.EXECUTOR, backend)
    executor: Executor[ContainerTask] = factory(f"{backend}://", **(options or {}))
    return executor


def _close(executor: object) -> None:
    close = getattr(executor, "close", None)
    if callable(close):
        close()


def _command(command: Sequence[str]) -> tuple[str, ...]:
    if isinstance(command, str):
        raise InvalidInput(
            f"command must be a list of arguments, not the string {command!r} "
            "(use ['sh', '-c', '...'] for a shell line)"
        )
    return tuple(str(part) for part in command)


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def _host_mounts(volumes: Mapping[str, str]) -> dict[Path, str]:
    return {_absolute(host): posixpath.normpath(target) for host, target in volumes.items()}


def _container_path(path: Path, mounts: Mapping[Path, str]) -> str | None:
    """Where the container sees a host path, through the deepest mount holding it."""
    holders = [host for host in mounts if path == host or host in path.parents]
    if not holders:
        return None
    host = max(holders, key=lambda h: len(h.parts))
    return posixpath.join(mounts[host], *path.relative_to(host).parts)


def _check_visible(
    inputs: Mapping[str, Any] | Sequence[Any] | None,
    outputs: Mapping[str, Path],
    mounts: Mapping[Path, str],
) -> None:
    """Refuse input files and outputs the container could not see through its mounts."""
    mounted = ", ".join(str(host) for host in mounts) or "none"
    for key, path in outputs.items():
        if _container_path(path, mounts) is None:
            raise InvalidInput(
                f"output {key!r} ({path}) is not under a mounted host directory, so the "
                f"container cannot write it; mount its directory in volumes= (mounted: {mounted})"
            )
    values = inputs.values() if isinstance(inputs, Mapping) else inputs or ()
    if isinstance(values, (str, os.PathLike, Artifact)):
        values = [values]
    for value in values:
        if not isinstance(value, (str, os.PathLike)):
            continue  # an Artifact may live anywhere; the engine resolves it
        path = _absolute(value)
        if path.exists() and _container_path(path, mounts) is None:
            raise InvalidInput(
                f"input {path} is not under a mounted host directory, so the container "
                f"cannot read it; mount its directory in volumes= (mounted: {mounted}), or "
                "pass it as depends_on= if it only counts for the signature"
            )


def _record(task: ContainerTask, identity: Mapping[str, Any]) -> dict[str, Any]:
    """What the run's meta keeps about the container: names of variables, never values."""
    return {
        "backend": identity.get("backend"),
        "image": task.image,
        "image_digest": identity.get("image_digest"),
        "command": list(task.command),
        "mounts": list(identity.get("mounts") or ()),
        "env_hash": identity.get("env_hash"),
        "env_names": sorted(task.env),
        "secret_env": sorted(task.secret_env),
        "workdir": task.workdir,
        "user": task.user,
        "network": task.network,
    }


def _state(path: Path) -> tuple[int, int, int] | None:
    """Size, mtime and inode of a file; None for nothing there or a directory."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    if path.is_dir():
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _verify_hydrated(tracker: Tracker, result: RunResult) -> None:
    """A hit's outputs at the requested paths must be the bytes the cached run produced."""
    for key, path in result.hydrated.items():
        expected = result.outputs[key].content_hash
        if not expected or expected.startswith("fast:"):
            continue  # a size+mtime identity says nothing about the bytes
        found = tracker.hasher.identity(path)
        if found.startswith("fast:") or found == expected:
            continue
        raise IntegrityError(
            f"cached output {key!r} at {path} is not what run {result.cached_from!r} "
            f"produced (recorded {expected[:16]}..., found {found[:16]}...): the file was "
            "changed after that run. Delete it and call again to restore it or run the "
            "container again, or pass cache_mode='overwrite'"
        )
